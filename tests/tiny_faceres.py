"""A model file with faceres's signature (NHWC 224×224×3 float in, 1,024-d out), small
enough to write in a test: for tests of settings and figures that read the file as the
engine does, where no face is described. The real faceres comes from
`lfr model import-faceres` (docs/onnx.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_faceres_shaped_model(path: Path) -> Path:
    """Mean colour of the chip times a fixed 3×1,024 matrix: a valid model of the shape."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(size=(3, 1024)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input_1"], ["mean"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["features"]),
        ],
        "faceres-shaped",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["batch", 224, 224, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1024])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
