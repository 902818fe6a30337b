"""Face detection backends on real photographs (REC-2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lfr.vision.detection import (
    DETECTOR_CONFIG_ADAPTER,
    HogDetectorConfig,
    MmodDetectorConfig,
    YuNetDetectorConfig,
    build_detector,
)
from lfr.vision.imageio import load_image
from lfr.vision.types import Box, RGBImage


@pytest.fixture(scope="module")
def yunet_model(data_dir: Path) -> Path:
    path = data_dir.parent / "models" / "yunet_n_640_640.onnx"
    if not path.is_file():
        pytest.skip(f"test-only YuNet model not found at {path}")
    return path


@pytest.mark.parametrize(
    ("name", "faces"),
    [
        ("obama.jpg", 1),
        ("obama2.jpg", 1),
        ("biden.jpg", 1),
        ("two_people.jpg", 2),
        ("lin-manuel-miranda.png", 1),
    ],
)
def test_hog_finds_the_known_faces(
    name: str, faces: int, example_image: Callable[[str], RGBImage]
) -> None:
    image = example_image(name)
    found = build_detector(HogDetectorConfig()).detect(image)
    assert len(found) == faces
    height, width = image.shape[:2]
    for detection in found:
        assert 0 <= detection.box.left < detection.box.right <= width
        assert 0 <= detection.box.top < detection.box.bottom <= height
        assert detection.box.width > 80  # these are portrait-sized faces


def test_hog_finds_no_face_among_dogs(faces_dir: Path) -> None:
    dogs = load_image(faces_dir / "dlib-examples" / "dogs.jpg")
    assert build_detector().detect(dogs) == []


def test_upsampling_finds_small_faces(example_image: Callable[[str], RGBImage]) -> None:
    image = example_image("obama.jpg")
    tiny = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    assert build_detector(HogDetectorConfig(upsample=0)).detect(tiny) == []
    assert len(build_detector(HogDetectorConfig(upsample=1)).detect(tiny)) == 1


def test_region_of_interest_keeps_frame_coordinates(
    example_image: Callable[[str], RGBImage],
) -> None:
    image = example_image("two_people.jpg")
    everyone = build_detector().detect(image)
    right_half = Box(left=image.shape[1] // 2, top=0, right=image.shape[1], bottom=image.shape[0])
    inside = build_detector(HogDetectorConfig(region_of_interest=right_half)).detect(image)
    assert len(inside) == 1
    # The same face as in the whole frame (HOG's cell grid shifts with the crop: ±a few px).
    whole = next(d.box for d in everyone if d.box.left >= right_half.left)
    assert abs(inside[0].box.left - whole.left) <= 4
    assert abs(inside[0].box.top - whole.top) <= 4
    assert inside[0].box.left >= right_half.left
    # The same pixels held in a non-contiguous view (dlib misreads those) give the same faces.
    padded = np.zeros((image.shape[0], image.shape[1] + 37, 3), dtype=np.uint8)
    padded[:, : image.shape[1]] = image
    view = padded[:, : image.shape[1]]
    assert not view.flags["C_CONTIGUOUS"]
    assert [d.box for d in build_detector().detect(view)] == [d.box for d in everyone]
    outside = Box(left=5000, top=5000, right=5001, bottom=5001)
    assert build_detector(HogDetectorConfig(region_of_interest=outside)).detect(image) == []


def test_min_face_px_drops_smaller_faces(example_image: Callable[[str], RGBImage]) -> None:
    image = example_image("two_people.jpg")
    sizes = [min(d.box.width, d.box.height) for d in build_detector().detect(image)]
    at_smallest = build_detector(HogDetectorConfig(min_face_px=min(sizes))).detect(image)
    assert len(at_smallest) == len(sizes)
    above_largest = build_detector(HogDetectorConfig(min_face_px=max(sizes) + 1)).detect(image)
    assert above_largest == []


def test_mmod_finds_a_face(example_image: Callable[[str], RGBImage]) -> None:
    # Small image: the CNN takes seconds on a larger one.
    image = example_image("obama_small.jpg")
    found = build_detector(MmodDetectorConfig()).detect(image)
    assert len(found) == 1
    assert found[0].box.width > 50


def test_yunet_finds_both_people(
    yunet_model: Path, example_image: Callable[[str], RGBImage]
) -> None:
    detector = build_detector(YuNetDetectorConfig(model_path=yunet_model))
    found = detector.detect(example_image("two_people.jpg"))
    assert len(found) == 2
    assert all(0.8 <= d.confidence <= 1.0 for d in found)
    hog_boxes = build_detector().detect(example_image("two_people.jpg"))
    # Each YuNet face overlaps one HOG face (the same two people).
    for d in found:
        centre_x = (d.box.left + d.box.right) / 2
        assert any(h.box.left <= centre_x <= h.box.right for h in hog_boxes)


def test_config_is_a_discriminated_union(tmp_path: Path, yunet_model: Path) -> None:
    hog = DETECTOR_CONFIG_ADAPTER.validate_python({"type": "hog"})
    assert isinstance(hog, HogDetectorConfig)
    mmod = DETECTOR_CONFIG_ADAPTER.validate_python({"type": "mmod", "upsample": 1})
    assert isinstance(mmod, MmodDetectorConfig)
    assert mmod.upsample == 1
    yunet = DETECTOR_CONFIG_ADAPTER.validate_python({"type": "yunet", "model_path": yunet_model})
    assert isinstance(yunet, YuNetDetectorConfig)
    with pytest.raises(ValidationError, match="model file not found"):
        DETECTOR_CONFIG_ADAPTER.validate_python(
            {"type": "yunet", "model_path": tmp_path / "missing.onnx"}
        )
    with pytest.raises(ValidationError):
        DETECTOR_CONFIG_ADAPTER.validate_python({"type": "haar"})
    with pytest.raises(ValidationError):
        DETECTOR_CONFIG_ADAPTER.validate_python({"type": "hog", "upsamples": 1})
    with pytest.raises(ValidationError):
        HogDetectorConfig(upsample=9)


def _same_face(a: Box, b: Box, tolerance: float) -> bool:
    """Corners within `tolerance` of the face's width (a shrunk frame's HOG grid is
    coarser in full-resolution pixels)."""
    slack = tolerance * a.width
    pairs = ((a.left, b.left), (a.top, b.top), (a.right, b.right), (a.bottom, b.bottom))
    return all(abs(x - y) <= slack for x, y in pairs)


def test_detect_scale_maps_boxes_back_to_full_resolution(
    example_image: Callable[[str], RGBImage],
) -> None:
    image = example_image("two_people.jpg")
    full = sorted((d.box for d in build_detector().detect(image)), key=lambda b: b.left)
    for scale in (0.75, 0.6):
        shrunk = build_detector(HogDetectorConfig(detect_scale=scale)).detect(image)
        boxes = sorted((d.box for d in shrunk), key=lambda b: b.left)
        assert len(boxes) == len(full) == 2
        for at_scale, at_full in zip(boxes, full, strict=True):
            assert _same_face(at_scale, at_full, 0.25), (scale, at_scale, at_full)


def test_max_detect_width_shrinks_only_wider_frames(
    example_image: Callable[[str], RGBImage],
) -> None:
    image = example_image("obama.jpg")  # 910 px wide, the face about 400 px
    width = image.shape[1]
    full = build_detector().detect(image)[0].box
    [capped] = build_detector(HogDetectorConfig(max_detect_width=width // 3)).detect(image)
    assert _same_face(capped.box, full, 0.25)
    assert capped.box != full  # it did run on the shrunk frame (a coarser grid)
    [uncapped] = build_detector(HogDetectorConfig(max_detect_width=width)).detect(image)
    assert uncapped.box == full  # not wider than the cap: detected as it is


def test_detect_scale_with_a_region_of_interest_keeps_frame_coordinates(
    example_image: Callable[[str], RGBImage],
) -> None:
    image = example_image("two_people.jpg")
    right_half = Box(left=image.shape[1] // 2, top=0, right=image.shape[1], bottom=image.shape[0])
    whole = next(d.box for d in build_detector().detect(image) if d.box.left >= right_half.left)
    config = HogDetectorConfig(region_of_interest=right_half, detect_scale=0.7)
    [inside] = build_detector(config).detect(image)
    assert _same_face(inside.box, whole, 0.25)


def test_shrinking_loses_faces_below_the_detector_s_smallest(
    example_image: Callable[[str], RGBImage],
) -> None:
    """The trade-off `detect_scale` documents: HOG's smallest face (about 80 px) grows
    by 1/scale in the frame."""
    image = example_image("obama.jpg")
    small = cv2.resize(image, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    [face] = build_detector().detect(small)
    assert face.box.width < 80 / 0.5  # too small to survive halving
    assert build_detector(HogDetectorConfig(detect_scale=0.5)).detect(small) == []


@pytest.mark.parametrize(
    "name",
    [
        "obama.jpg",
        "obama2.jpg",
        "biden.jpg",
        "two_people.jpg",
        "lin-manuel-miranda.png",
        "obama-720p.jpg",
        "obama-1080p.jpg",
    ],
)
def test_engine_default_detection_finds_the_example_faces(
    name: str, example_image: Callable[[str], RGBImage]
) -> None:
    """The engine's default (frames shrunk to DEFAULT_DETECT_WIDTH) finds every face
    full-resolution HOG finds in the example photographs, at about the same place."""
    from lfr.vision.pipeline import EngineConfig

    image = example_image(name)
    full = build_detector().detect(image)
    default = build_detector(EngineConfig().detector).detect(image)
    assert len(full) >= 1
    assert len(default) == len(full)
    for detection in default:
        assert any(_same_face(detection.box, f.box, 0.25) for f in full)


def test_enrolment_detects_at_full_resolution_where_live_detection_shrinks(
    example_image: Callable[[str], RGBImage],
) -> None:
    """A small face in a wide watchlist photograph: live detection (frames shrunk to
    960 px wide) cannot see it, enrolment (WL-5) still does."""
    import numpy as np

    from lfr.vision.pipeline import Engine, EngineConfig

    face = cv2.resize(example_image("obama.jpg"), None, fx=0.3, fy=0.3)
    wide = np.full((face.shape[0] + 40, 1920, 3), 128, dtype=np.uint8)
    wide[20 : 20 + face.shape[0], 900 : 900 + face.shape[1]] = face
    engine = Engine.from_config(EngineConfig())
    assert engine.analyser.detector.detect(wide) == []
    [found] = engine.enrolment_analyser.detector.detect(wide)
    assert 900 <= found.box.left < found.box.right <= 900 + face.shape[1]
