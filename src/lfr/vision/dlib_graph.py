"""ONNX graph building shared by the exporters of dlib's networks (REC-2): dlib's
convolutions (with their frozen batch normalisation folded in), pools and zero-extending
sums as ONNX nodes, each tensor's shape followed as dlib computes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper, numpy_helper

from lfr.vision.dlib_dat import AffineLayer, ConvLayer, PoolLayer

OPSET = 17


def fuse_affine(conv: ConvLayer, affine: AffineLayer) -> ConvLayer:
    """``gamma * (W*x + b) + beta`` as one convolution (float64 maths, float32 result)."""
    gamma = affine.gamma.astype(np.float64)
    weights = conv.weights.astype(np.float64) * gamma[:, None, None, None]
    bias = np.zeros_like(gamma) if conv.bias is None else conv.bias.astype(np.float64)
    bias = bias * gamma + affine.beta.astype(np.float64)
    return ConvLayer(
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        stride=conv.stride,
        padding=conv.padding,
    )


@dataclass
class GraphBuilder:
    """Appends nodes and initialisers, tracking each tensor's (channels, rows, cols)."""

    fuse: bool
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def const(self, stem: str, value: NDArray[np.generic]) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: Sequence[str], stem: str, **attrs: Any) -> str:
        output = self.name(stem)
        self.nodes.append(helper.make_node(op, list(inputs), [output], **attrs))
        return output

    def conv(self, x: str, conv: ConvLayer, affine: AffineLayer | None) -> str:
        if self.fuse and affine is not None:
            conv, affine = fuse_affine(conv, affine), None
        inputs = [x, self.const("w", conv.weights)]
        if conv.bias is not None:
            inputs.append(self.const("b", conv.bias))
        pad_y, pad_x = conv.padding
        out = self.node(
            "Conv",
            inputs,
            "conv",
            kernel_shape=list(conv.weights.shape[2:]),
            strides=list(conv.stride),
            pads=[pad_y, pad_x, pad_y, pad_x],
        )
        if affine is not None:
            gamma = self.const("gamma", affine.gamma.reshape(1, -1, 1, 1))
            beta = self.const("beta", affine.beta.reshape(1, -1, 1, 1))
            out = self.node("Add", [self.node("Mul", [out, gamma], "scale"), beta], "shift")
        return out

    def pool(self, x: str, pool: PoolLayer) -> str:
        pad_y, pad_x = pool.padding
        return self.node(
            "MaxPool" if pool.kind == "max" else "AveragePool",
            [x],
            "pool",
            kernel_shape=list(pool.window),
            strides=list(pool.stride),
            pads=[pad_y, pad_x, pad_y, pad_x],
        )

    def pad_end(self, x: str, extra: tuple[int, int, int]) -> str:
        """Zero-extend channels, rows and columns at their ends (dlib's ``add_prev``)."""
        if extra == (0, 0, 0):
            return x
        pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
        return self.node("Pad", [x, self.const("pads", pads)], "pad")


def out_size(size: int, window: int, stride: int, padding: int) -> int:
    # dlib and ONNX agree: 1 + (size + 2*padding - window) // stride
    return 1 + (size + 2 * padding - window) // stride


def conv_shape(shape: tuple[int, int, int], conv: ConvLayer) -> tuple[int, int, int]:
    rows, cols = conv.weights.shape[2:]
    return (
        conv.weights.shape[0],
        out_size(shape[1], rows, conv.stride[0], conv.padding[0]),
        out_size(shape[2], cols, conv.stride[1], conv.padding[1]),
    )


def pool_shape(shape: tuple[int, int, int], pool: PoolLayer) -> tuple[int, int, int]:
    return (
        shape[0],
        out_size(shape[1], pool.window[0], pool.stride[0], pool.padding[0]),
        out_size(shape[2], pool.window[1], pool.stride[1], pool.padding[1]),
    )


def add_zero_extended(
    graph: GraphBuilder,
    a: tuple[str, tuple[int, int, int]],
    b: tuple[str, tuple[int, int, int]],
) -> tuple[str, tuple[int, int, int]]:
    shape = (max(a[1][0], b[1][0]), max(a[1][1], b[1][1]), max(a[1][2], b[1][2]))

    def extended(x: tuple[str, tuple[int, int, int]]) -> str:
        extra = (shape[0] - x[1][0], shape[1] - x[1][1], shape[2] - x[1][2])
        return graph.pad_end(x[0], extra)

    return graph.node("Add", [extended(a), extended(b)], "sum"), shape


def finish_model(
    graph: GraphBuilder,
    name: str,
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    doc: str,
    properties: dict[str, str],
) -> onnx.ModelProto:
    """The checked ONNX model of `graph`'s nodes, with `properties` as metadata."""
    onnx_graph = helper.make_graph(
        graph.nodes, name, list(inputs), list(outputs), graph.initializers
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="lfr",
        doc_string=doc,
    )
    model.ir_version = 8  # readable by every onnxruntime release that supports opset 17
    helper.set_model_props(model, properties)
    onnx.checker.check_model(model)
    return model
