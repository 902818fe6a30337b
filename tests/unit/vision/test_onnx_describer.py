"""The ONNX Runtime describer and the dlib exporter against the real dlib model (REC-2).

The exported graph must give dlib's own descriptors (within 1e-4 per element) on aligned
chips cut from the dev images with dlib's HOG detector, 5-point landmarks and
`dlib.get_face_chip`, exactly as the engine makes them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dlib
import face_recognition_models
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from pydantic import ValidationError
from typer.testing import CliRunner

from lfr.cli import app
from lfr.vision.describers import (
    DESCRIBER_CONFIG_ADAPTER,
    Describer,
    DlibDescriber,
    OnnxDescriber,
    OnnxDescriberConfig,
    build_describer,
    describer_model_id,
)
from lfr.vision.describers.dlib_onnx_export import (
    INPUT_NAME,
    export_dlib_model,
)
from lfr.vision.describers.onnx import OnnxModelError

TOLERANCE = 1e-4
EXAMPLE_IMAGES = [
    "obama.jpg",
    "biden.jpg",
    "two_people.jpg",
    "lin-manuel-miranda.png",
    "alex-lacamoire.png",
]
LFW_IMAGES = [
    "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "Colin_Powell/Colin_Powell_0001.jpg",
    "George_W_Bush/George_W_Bush_0001.jpg",
    "Laura_Bush/Laura_Bush_0001.jpg",
]


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed dlib ResNet exported once per session (a fraction of a second)."""
    return export_dlib_model(tmp_path_factory.mktemp("onnx") / "dlib_resnet.onnx")


@pytest.fixture(scope="session")
def dlib_recogniser() -> Any:
    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


@pytest.fixture(scope="session")
def chips(faces_dir: Path, lfw_dir: Path) -> list[np.ndarray[Any, Any]]:
    """Aligned 150×150 chips of every face HOG finds in the dev images."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(
        face_recognition_models.pose_predictor_five_point_model_location()
    )
    paths = [faces_dir / "face_recognition-examples" / name for name in EXAMPLE_IMAGES]
    paths += [lfw_dir / "images" / name for name in LFW_IMAGES]
    found = []
    for path in paths:
        image = dlib.load_rgb_image(str(path))
        boxes = detector(image, 1)
        assert boxes, f"no face found in {path}"
        for box in boxes:
            found.append(dlib.get_face_chip(image, predictor(image, box), size=150, padding=0.25))
    return found


def _raw_onnx(model: Path, chips: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    batch = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)
    result: np.ndarray[Any, Any] = session.run(None, {INPUT_NAME: batch})[0]
    return result


def test_exported_graph_gives_dlibs_descriptors(
    exported_model: Path, dlib_recogniser: Any, chips: list[np.ndarray[Any, Any]]
) -> None:
    """REC-2: the ONNX graph reproduces dlib's raw (unnormalised) descriptors."""
    assert len(chips) >= 10  # two_people.jpg gives two
    expected = np.array([np.asarray(dlib_recogniser.compute_face_descriptor(c)) for c in chips])
    actual = _raw_onnx(exported_model, chips)
    assert actual.shape == (len(chips), 128)
    assert np.abs(actual - expected).max() < TOLERANCE
    # Different faces give different descriptors: the comparison above is not vacuous.
    assert np.abs(expected[0] - expected[1]).max() > 0.05


def test_unfused_export_gives_the_same_descriptors(
    tmp_path: Path, exported_model: Path, chips: list[np.ndarray[Any, Any]]
) -> None:
    """Folding batch-norm into the convolutions changes nothing beyond float rounding."""
    unfused = export_dlib_model(tmp_path / "unfused.onnx", fuse=False)

    def scalings(model: Path) -> int:
        return sum(node.op_type == "Mul" for node in onnx.load(str(model)).graph.node)

    # One Mul normalises the input; the unfused graph adds one per affine layer (29).
    assert (scalings(exported_model), scalings(unfused)) == (1, 30)
    difference = _raw_onnx(unfused, chips[:3]) - _raw_onnx(exported_model, chips[:3])
    assert np.abs(difference).max() < 1e-5


def test_onnx_describer_matches_the_dlib_describer(
    exported_model: Path, chips: list[np.ndarray[Any, Any]], dlib_runtime_describer: Describer
) -> None:
    """The registered backend (batches of 4, so the last batch is short) against dlib's."""
    config = OnnxDescriberConfig(model_path=exported_model, batch_size=4)
    onnx_describer = build_describer(config)
    assert isinstance(onnx_describer, OnnxDescriber)
    dlib_describer = dlib_runtime_describer
    assert isinstance(dlib_describer, DlibDescriber)
    actual = onnx_describer.describe(chips)
    expected = dlib_describer.describe(chips)
    assert actual.dtype == np.float32
    assert actual.shape == (len(chips), 128)
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-6)
    assert np.abs(actual - expected).max() < TOLERANCE
    # The same model under the same name: templates from either describer compare.
    assert onnx_describer.model_id == dlib_describer.model_id
    assert onnx_describer.dimension == 128


def test_describer_config_from_a_mapping(exported_model: Path) -> None:
    config = DESCRIBER_CONFIG_ADAPTER.validate_python(
        {"type": "onnx", "model_path": str(exported_model), "intra_op_threads": 1}
    )
    assert isinstance(config, OnnxDescriberConfig)
    assert isinstance(build_describer(config), OnnxDescriber)


def test_empty_batch_gives_an_empty_matrix(exported_model: Path) -> None:
    describer = OnnxDescriber(OnnxDescriberConfig(model_path=exported_model))
    assert describer.describe([]).shape == (0, 128)


def test_bad_chip_is_refused_with_its_index(exported_model: Path) -> None:
    describer = OnnxDescriber(OnnxDescriberConfig(model_path=exported_model))
    good = np.zeros((150, 150, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="chip 1: expected an H×W×3 uint8"):
        describer.describe([good, np.zeros((150, 150), dtype=np.uint8)])


# --------------------------------------------------------------------------- any model


def _channel_mean_model(path: Path, *, layout: str, size: int) -> Path:
    """A real (tiny) ONNX model whose 'descriptor' is the mean of each input channel, so
    the describer's preprocessing can be checked number by number."""
    shape: list[int | str] = ["n", size, size, 3] if layout == "NHWC" else ["n", 3, size, size]
    axes = [1, 2] if layout == "NHWC" else [2, 3]
    node = helper.make_node("ReduceMean", ["image"], ["vector"], axes=axes, keepdims=0)
    graph = helper.make_graph(
        [node],
        "channel_mean",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save_model(model, str(path))
    return path


def test_preprocessing_follows_the_settings(tmp_path: Path) -> None:
    """BGR order, mean/std and NHWC layout reach the model as configured; a chip of
    another size is resized to the model's."""
    model = _channel_mean_model(tmp_path / "vendor_model.onnx", layout="NHWC", size=8)
    config = OnnxDescriberConfig(
        model_path=model,
        channel_order="BGR",
        layout="NHWC",
        mean=(10.0, 20.0, 30.0),
        std=(2.0, 4.0, 5.0),
    )
    describer = OnnxDescriber(config)
    chip = np.empty((32, 32, 3), dtype=np.uint8)
    chip[...] = (100, 60, 40)  # R, G, B
    expected = np.array([(40 - 10) / 2, (60 - 20) / 4, (100 - 30) / 5])  # B, G, R
    result = describer.describe([chip])
    np.testing.assert_allclose(result[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert describer.dimension == 3
    assert describer.model_id.startswith("vendor_model-")
    assert len(describer.model_id) == len("vendor_model-") + 12


def test_configured_model_id_wins(tmp_path: Path) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NCHW", size=8)
    config = OnnxDescriberConfig(model_path=model, model_id="vendor-x-2.1")
    assert OnnxDescriber(config).model_id == "vendor-x-2.1"


def test_missing_model_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="model_path"):
        OnnxDescriberConfig(model_path=tmp_path / "absent.onnx")


def test_non_positive_std_is_refused(tmp_path: Path) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NCHW", size=8)
    with pytest.raises(ValidationError, match="must be > 0"):
        OnnxDescriberConfig(model_path=model, std=(1.0, 0.0, 1.0))


def test_a_file_that_is_not_onnx_is_refused_naming_it(tmp_path: Path) -> None:
    bogus = tmp_path / "not_a_model.onnx"
    bogus.write_bytes(b"\x00\x01 definitely not protobuf \xff" * 10)
    with pytest.raises(OnnxModelError, match=re.escape("not_a_model.onnx")):
        OnnxDescriber(OnnxDescriberConfig(model_path=bogus))


def test_wrong_layout_is_refused_with_advice(tmp_path: Path) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NHWC", size=8)
    with pytest.raises(OnnxModelError, match="set `layout`"):
        OnnxDescriber(OnnxDescriberConfig(model_path=model, layout="NCHW"))


def test_input_size_conflicting_with_the_model_is_refused(tmp_path: Path) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NCHW", size=8)
    with pytest.raises(OnnxModelError, match="input size: model says 8×8"):
        OnnxDescriber(OnnxDescriberConfig(model_path=model, input_size=112))


def test_unavailable_provider_is_named(tmp_path: Path) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NCHW", size=8)
    describer = OnnxDescriber(
        OnnxDescriberConfig(model_path=model, providers=("NoSuchExecutionProvider",))
    )
    with pytest.raises(OnnxModelError, match="NoSuchExecutionProvider"):
        describer.describe([np.zeros((8, 8, 3), dtype=np.uint8)])


# --------------------------------------------------------------------------- CLI


def test_cli_exports_a_loadable_model(tmp_path: Path) -> None:
    output = tmp_path / "out" / "dlib.onnx"
    result = CliRunner().invoke(app, ["model", "export-dlib", str(output)])
    assert result.exit_code == 0, result.output
    assert f"-> {output}" in result.stdout
    onnx.checker.check_model(onnx.load(str(output)))


def test_cli_refuses_a_file_that_is_not_a_dlib_network(tmp_path: Path) -> None:
    landmarks = Path(face_recognition_models.pose_predictor_five_point_model_location())
    output = tmp_path / "x.onnx"
    result = CliRunner().invoke(
        app, ["model", "export-dlib", str(output), "--source", str(landmarks)]
    )
    assert result.exit_code == 1
    assert "shape_predictor_5_face_landmarks.dat" in result.output
    assert not output.exists()


@pytest.mark.parametrize("configured", [None, "vendor-x-2.1"])
def test_the_model_id_is_known_without_building_the_describer(
    tmp_path: Path, configured: str | None
) -> None:
    model = _channel_mean_model(tmp_path / "m.onnx", layout="NCHW", size=8)
    config = OnnxDescriberConfig(model_path=model, model_id=configured)
    assert describer_model_id(config) == OnnxDescriber(config).model_id
    assert describer_model_id() == DlibDescriber.model_id == build_describer().model_id
