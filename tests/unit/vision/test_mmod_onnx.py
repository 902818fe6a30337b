"""The `mmod-onnx` detector: dlib's MMOD network exported to ONNX finds the faces dlib's
own MMOD detector finds (REC-1, REC-2), refuses providers it cannot run on, and a file
that is not the MMOD network is refused saying where it differs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from pydantic import ValidationError

from lfr.vision.detection import (
    DETECTOR_CONFIG_ADAPTER,
    Detection,
    MmodDetectorConfig,
    MmodOnnxDetectorConfig,
    build_detector,
)
from lfr.vision.detection.base import _iou
from lfr.vision.detection.mmod_export import default_mmod_path, read_mmod_network
from lfr.vision.detection.mmod_onnx import overlaps, tile_rects, upsampled
from lfr.vision.dlib_dat import DlibModelError
from lfr.vision.imageio import load_image
from lfr.vision.onnx_runtime import OnnxModelError

CONFIDENCE_TOLERANCE = 1e-4
"""The scores differ from dlib's by at most 3e-6 on the example photographs, upsampled or
not (`python -m benchmarks.mmod_onnx`): float rounding, ONNX Runtime sums the
convolutions in another order."""
BOX_IOU = 0.9

# Small images (dlib's MMOD takes about a second per 0.2 megapixels on one core), with
# one to six faces, one searched doubled (upsample 1).
CASES = [
    ("face_recognition-examples/obama_small.jpg", 0, 1),
    ("face_recognition-examples/alex-lacamoire.png", 0, 1),
    ("dlib-examples/2008_001322.jpg", 0, 3),
    ("dlib-examples/2009_004587.jpg", 0, 2),
    ("dlib-examples/2008_002470.jpg", 1, 6),
]


def _matched(ours: list[Detection], dlibs: list[Detection]) -> list[tuple[float, float]]:
    """(IoU, confidence difference) of each of dlib's detections with ours that overlaps
    it most."""
    pairs = []
    for theirs in dlibs:
        best = max(ours, key=lambda d: _iou(d.box, theirs.box))
        pairs.append((_iou(best.box, theirs.box), abs(best.confidence - theirs.confidence)))
    return pairs


@pytest.mark.parametrize(("name", "upsample", "faces"), CASES)
def test_onnx_mmod_finds_the_faces_dlib_s_mmod_finds(
    faces_dir: Path, name: str, upsample: int, faces: int
) -> None:
    """REC-1: the exported detector is dlib's: the same number of faces, each of dlib's
    boxes matched by one of ours with IoU >= 0.9, the confidences within 1e-4."""
    image = load_image(faces_dir / name)
    dlibs = build_detector(MmodDetectorConfig(upsample=upsample)).detect(image)
    ours = build_detector(MmodOnnxDetectorConfig(upsample=upsample)).detect(image)
    assert len(dlibs) == faces  # the case still holds what it was chosen for
    assert len(ours) == len(dlibs)
    for iou, difference in _matched(ours, dlibs):
        assert iou >= BOX_IOU
        assert difference <= CONFIDENCE_TOLERANCE


def test_min_confidence_drops_weaker_faces(faces_dir: Path) -> None:
    """REC-2: the threshold applies as for dlib's backend (2009_004587: 1.09 and 0.97)."""
    image = load_image(faces_dir / "dlib-examples/2009_004587.jpg")
    found = build_detector(MmodOnnxDetectorConfig(min_confidence=1.0)).detect(image)
    assert [round(d.confidence, 2) for d in found] == [1.09]


@pytest.mark.parametrize("provider", ["CUDAExecutionProvider", "NoSuchExecutionProvider"])
def test_an_unavailable_provider_is_refused_naming_it(provider: str) -> None:
    """REC-2: a provider this onnxruntime lacks stops the detector being built, the
    missing and the available providers named."""
    if provider in ort.get_available_providers():
        pytest.skip(f"{provider} is available here")
    config = MmodOnnxDetectorConfig(providers=(provider, "CPUExecutionProvider"))
    with pytest.raises(OnnxModelError, match=re.escape(provider)) as refused:
        build_detector(config)
    assert "CPUExecutionProvider" in str(refused.value).split("available:")[1]


def test_settings_name_the_backend_and_its_providers() -> None:
    """REC-2: the detector is chosen by `type` in the settings, with its providers."""
    config = DETECTOR_CONFIG_ADAPTER.validate_python(
        {"type": "mmod-onnx", "providers": ["CPUExecutionProvider"], "intra_op_threads": 1}
    )
    assert isinstance(config, MmodOnnxDetectorConfig)
    assert config.providers == ("CPUExecutionProvider",)
    assert config.intra_op_threads == 1


def test_the_installed_model_reads_as_the_example_network() -> None:
    """REC-2: the file's loss and input settings, and its output mapping (three stride-2
    5×5 convolutions without padding: 8·o + 14)."""
    net = read_mmod_network(default_mmod_path())
    assert [(w.width, w.height) for w in net.options.windows] == [(80, 80)]
    assert (net.input.padding, net.input.outer_padding) == (10, 11)
    assert [s.conv.weights.shape[0] for s in net.steps] == [16, 32, 32, 45, 45, 45, 1]
    assert net.output_to_input() == ((8.0, 14.0), (8.0, 14.0))


def test_a_different_layer_sequence_is_refused_naming_the_layer(tmp_path: Path) -> None:
    """REC-2: a file whose layers are not the MMOD network's (here its first relu taken
    out) is refused with the position where it differs."""
    data = default_mmod_path().read_bytes()
    relu = data.index(b"\x01\x05relu_")
    next_conv = data.index(b"\x01\x05con_4", relu)
    broken = tmp_path / "broken.dat"
    broken.write_bytes(data[:relu] + data[next_conv:])
    with pytest.raises(DlibModelError, match="layer 2 is ConvLayer, expected ReluLayer"):
        read_mmod_network(broken)


def test_another_network_is_refused_naming_its_loss(tmp_path: Path) -> None:
    """REC-2: dlib's face-recognition ResNet is not a detector."""
    import face_recognition_models

    resnet = Path(face_recognition_models.face_recognition_model_location())
    with pytest.raises(DlibModelError, match="'loss_metric_2': not an MMOD detector"):
        read_mmod_network(resnet)


@pytest.mark.parametrize("content", [b"not a model\n", b"resnet"])
def test_a_model_path_that_is_no_mmod_detector_is_refused_with_the_settings(
    tmp_path: Path, content: bytes
) -> None:
    """REC-2: `model_path` naming a file that is not dlib's MMOD detector (text, or the
    face-recognition ResNet) is refused when the settings are read, naming the file, as
    a describer's model file is; not a camera worker that crashes on its first frame."""
    import face_recognition_models

    model = tmp_path / "detector.dat"
    if content == b"resnet":
        model.write_bytes(
            Path(face_recognition_models.face_recognition_model_location()).read_bytes()
        )
    else:
        model.write_bytes(content)
    with pytest.raises(ValidationError, match=re.escape(str(model))):
        DETECTOR_CONFIG_ADAPTER.validate_python({"type": "mmod-onnx", "model_path": str(model)})
    assert MmodOnnxDetectorConfig(model_path=default_mmod_path()).model_path == default_mmod_path()


def test_pyramid_levels_shrink_by_a_sixth_and_never_overlap() -> None:
    """REC-2: dlib's tiling of a 720p frame: each level 5/6 of the one before (rounded
    down), laid out without overlapping, inside the tensor."""
    rects, height, width = tile_rects(720, 1280, padding=10, outer_padding=11)
    sizes = [(r[3] - r[1] + 1, r[2] - r[0] + 1) for r in rects]
    assert sizes[:3] == [(720, 1280), (600, 1066), (500, 888)]
    assert all(h >= 5 for h, _ in sizes)
    assert width == 1280 + 22
    for i, a in enumerate(rects):
        assert min(a[0], a[1]) >= 0
        assert a[2] < width
        assert a[3] < height
        for b in rects[i + 1 :]:
            assert not overlaps(a, b, 0.0, 0.0)


def test_overlap_is_measured_against_the_box_bounding_both() -> None:
    """REC-2: dlib's non-max suppression divides the intersection by the rectangle
    bounding both boxes, not by their union."""
    a, b = (0, 0, 9, 9), (5, 0, 14, 9)  # 10×10 boxes sharing 5×10
    assert overlaps(a, b, 0.33, 1.0)  # 50 / 150 > 0.33 (the union, 150, too)
    assert not overlaps(a, (5, 5, 14, 14), 0.2, 1.0)  # 25 / 225 (union 175: 0.14)
    assert overlaps(a, (2, 2, 4, 4), 0.9, 0.5)  # inside a: covers all of the small box


@pytest.mark.parametrize("side", [1, 4, 9])
def test_a_region_too_small_for_the_network_has_no_face(side: int) -> None:
    """REC-2: a searched region a few pixels across (a region of interest at a frame's
    edge) leaves the network no output: no face, rather than ONNX Runtime's error."""
    image = np.full((side, side, 3), 128, dtype=np.uint8)
    assert build_detector(MmodOnnxDetectorConfig()).detect(image) == []


def test_the_engine_detects_and_describes_with_it_chosen_by_settings(faces_dir: Path) -> None:
    """REC-1, REC-2: chosen in the engine's settings, the detector finds the faces of a
    group photograph and the engine cuts and describes each (the detector's boxes are
    what landmarks and alignment work from)."""
    from lfr.vision.pipeline import Engine, EngineConfig

    config = EngineConfig.model_validate({"detector": {"type": "mmod-onnx"}})
    engine = Engine.from_config(config)
    image = load_image(faces_dir / "dlib-examples/2008_001322.jpg")
    observations = engine.analyser.analyse(image)
    assert len(observations) == 3
    descriptors = engine.describer.describe([o.chip for o in observations])
    assert descriptors.shape == (3, engine.describer.dimension)


@pytest.mark.parametrize(
    "name", ["dlib-examples/2007_007763.jpg", "face_recognition-examples/obama-240p.jpg"]
)
def test_upsampling_doubles_the_image_byte_for_byte_as_dlib_does(
    faces_dir: Path, name: str
) -> None:
    """REC-2: `upsample` doubles the image as dlib's detector does (``pyramid_up``: its
    RGB ``resize_image`` to 2·rows + 1 by 2·cols + 2), every byte equal — a byte rounded
    the other way moved a score by 1e-3."""
    import dlib

    image = load_image(faces_dir / name)
    rows, cols = 2 * image.shape[0] + 1, 2 * image.shape[1] + 2
    expected = np.asarray(dlib.resize_image(image, rows, cols))
    np.testing.assert_array_equal(upsampled(image, 1), expected)
