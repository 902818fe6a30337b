"""Describers bring their own crop (REC-2): the three alignments on hand-made landmarks,
the analyser cutting what a describer declares, and the registry of describers and
their model cards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lfr.vision.alignment import (
    ARCFACE_EYES_112,
    DLIB_CHIP,
    ArcFaceChip,
    DlibChip,
    PaddedBox,
    cut_chip,
)
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.calibration import shipped_calibration
from lfr.vision.describers import (
    DESCRIBER_CONFIG_ADAPTER,
    DlibDescriberConfig,
    OnnxDescriberConfig,
    build_describer,
    model_card,
)
from lfr.vision.describers.base import registered_configs
from lfr.vision.describers.dlib_onnx_export import export_dlib_model
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.landmarks import LandmarkLocator
from lfr.vision.pipeline import Engine, EngineConfig
from lfr.vision.quality import QualityGate
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.types import Box, RGBImage


def landmarks_with_eyes(left: tuple[float, float], right: tuple[float, float]) -> np.ndarray:
    """dlib's five points with the eye centres at `left` and `right` (image sides): two
    corners 6 px either side of each centre along the eye line, the nose below."""
    lx, ly = left
    rx, ry = right
    along = np.array([rx - lx, ry - ly]) / np.hypot(rx - lx, ry - ly) * 6
    points = [
        (rx + along[0], ry + along[1]),  # 0, 1: the eye on the image's right
        (rx - along[0], ry - along[1]),
        (lx - along[0], ly - along[1]),  # 2, 3: the eye on the image's left
        (lx + along[0], ly + along[1]),
        ((lx + rx) / 2, (ly + ry) / 2 + 40),  # 4: the nose base
    ]
    return np.array(points, dtype=np.float32)


def dots_at(points: list[tuple[float, float]], shape: tuple[int, int] = (400, 400)) -> RGBImage:
    image = np.zeros((*shape, 3), dtype=np.uint8)
    for x, y in points:
        image[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3] = 255
    return image


def brightest_centres(chip: RGBImage) -> list[tuple[float, float]]:
    """Centres of the bright pixels in the chip's left and right halves."""
    grey = chip.mean(axis=2)
    centres = []
    for half in (slice(0, chip.shape[1] // 2), slice(chip.shape[1] // 2, chip.shape[1])):
        ys, xs = np.nonzero(grey[:, half] > 100)
        centres.append((float(xs.mean()) + half.start, float(ys.mean())))
    return centres


@pytest.mark.parametrize("angle", [0.0, 30.0, -45.0])
def test_the_arcface_crop_puts_the_eyes_where_the_template_has_them(angle: float) -> None:
    centre = np.array([200.0, 180.0])
    half = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * 35
    left, right = tuple(centre - half), tuple(centre + half)
    image = dots_at([left, right])
    landmarks = landmarks_with_eyes(left, right)  # type: ignore[arg-type]
    box = Box(left=120, top=100, right=280, bottom=260)
    for size in (112, 224):
        chip = cut_chip(image, box, landmarks, ArcFaceChip(size=size))
        assert chip.shape == (size, size, 3)
        expected = ARCFACE_EYES_112 * size / 112
        found = np.array(brightest_centres(chip))
        assert np.abs(found - expected).max() < 1.5 * size / 112


def test_the_padded_box_squares_pads_and_does_not_turn() -> None:
    image = np.zeros((400, 400, 3), dtype=np.uint8)
    image[100:200, 120:180] = 255  # a 60×100 box: squared to 100, padded 0.5 → 200 px
    box = Box(left=120, top=100, right=180, bottom=200)
    chip = cut_chip(
        image, box, landmarks_with_eyes((130, 130), (170, 130)), PaddedBox(size=200, padding=0.5)
    )
    assert chip.shape == (200, 200, 3)
    rows, columns = np.nonzero(chip.mean(axis=2) > 127)
    # The box, one unit of the crop per pixel here, sits in the middle: 50..150 by 70..130.
    assert (rows.min(), rows.max()) == (50, 149)
    assert (columns.min(), columns.max()) == (70, 129)


def test_the_dlib_chip_is_the_analysers_own(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    (face,) = analyser.analyse(example_image("obama.jpg"))
    assert face.chip_for(DLIB_CHIP) is face.chip
    with pytest.raises(ValueError, match="no arcface chip of size 112"):
        face.chip_for(ArcFaceChip())


def test_an_analyser_cuts_what_its_describers_declare(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    wanted = (ArcFaceChip(), PaddedBox(size=96), DlibChip(size=150, padding=0.25))
    cutting = analyser.cutting(wanted)
    assert cutting.cutting(wanted) is cutting
    assert analyser.cutting([DLIB_CHIP]) is analyser
    image = example_image("obama.jpg")
    (face,) = cutting.analyse(image)
    assert face.chip_for(ArcFaceChip()).shape == (112, 112, 3)
    assert face.chip_for(PaddedBox(size=96)).shape == (96, 96, 3)
    expected = cut_chip(image, face.box, face.landmarks, ArcFaceChip())
    assert np.array_equal(face.chip_for(ArcFaceChip()), expected)


@pytest.fixture(scope="module")
def arcface_onnx(tmp_path_factory: pytest.TempPathFactory) -> OnnxDescriberConfig:
    """The dlib network as an ONNX model declared to take the ArcFace 112 crop: a real
    model fed a crop other than dlib's chip, to follow the crop through the engine."""
    model = export_dlib_model(tmp_path_factory.mktemp("onnx") / "dlib.onnx")
    return DESCRIBER_CONFIG_ADAPTER.validate_python(
        {
            "type": "onnx",
            "model_path": model,
            "model_id": "arcface-crop",
            "alignment": {"kind": "arcface"},
        }
    )  # type: ignore[return-value]


def test_the_engine_and_enrolment_describe_the_crop_the_describer_declares(
    arcface_onnx: OnnxDescriberConfig, examples_dir: Path, tmp_path: Path
) -> None:
    config = EngineConfig(describer=arcface_onnx)
    engine = Engine.from_config(config)
    assert engine.describer.alignments == (ArcFaceChip(),)
    image_path = examples_dir / "obama.jpg"
    (tmp_path / "obama").mkdir()
    (tmp_path / "obama" / "obama.jpg").write_bytes(image_path.read_bytes())
    # An analyser that was not told about the crop: enrolment asks it to cut it.
    plain = FaceAnalyser(engine.enrolment_analyser.detector, LandmarkLocator())
    gallery, refusals = load_watchlist_dir(
        tmp_path, plain, engine.describer, QualityGate.for_enrolment()
    )
    assert not refusals
    from lfr.vision.imageio import load_image

    image = load_image(image_path)
    (face,) = engine.enrolment_analyser.analyse(image)
    arcface = engine.describer.describe([cut_chip(image, face.box, face.landmarks, ArcFaceChip())])
    dlib_chip = engine.describer.describe([face.chip])
    (template,) = gallery.similarities(np.eye(gallery.dimension, dtype=np.float32)).T
    assert float(template @ arcface[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(template @ dlib_chip[0]) < 0.999  # another crop, another descriptor
    assert np.allclose(engine.describer.describe_faces([face]), arcface, atol=1e-6)


def test_describers_are_discovered_with_their_settings() -> None:
    types = {config.model_fields["type"].default for config in registered_configs()}
    assert {"dlib", "onnx"} <= types
    assert isinstance(
        DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "dlib"}), DlibDescriberConfig
    )
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "no-such-describer"})


def test_the_shipped_model_card_holds_its_threshold_and_files() -> None:
    describer = build_describer(DlibDescriberConfig(mirror=False))
    card = model_card(describer.model_id)
    assert card is not None
    assert card.default_threshold == DEFAULT_ALERT_THRESHOLD == 0.955
    calibration = shipped_calibration(describer.model_id)
    assert calibration is not None
    assert calibration.model_id == describer.model_id
    assert card.equitability_file == f"{describer.model_id}.equitability.json"
    assert model_card("a-force-own-model") is None
