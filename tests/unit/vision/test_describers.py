"""The dlib describer and the describer registry (REC-2)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydantic import ValidationError

from lfr.vision.analysis import FaceObservation
from lfr.vision.describers import (
    DESCRIBER_CONFIG_ADAPTER,
    Describer,
    DlibDescriberConfig,
    build_describer,
    register_describer,
)


@pytest.fixture(scope="module")
def obama_obama2_biden(
    describer: Describer, example_faces: Callable[[str], list[FaceObservation]]
) -> np.ndarray:
    chips = [example_faces(name)[0].chip for name in ("obama.jpg", "obama2.jpg", "biden.jpg")]
    return describer.describe(chips)


def test_rows_are_unit_float32(describer: Describer, obama_obama2_biden: np.ndarray) -> None:
    assert obama_obama2_biden.shape == (3, describer.dimension)
    assert describer.dimension == 128
    assert obama_obama2_biden.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(obama_obama2_biden, axis=1), 1.0, atol=1e-5)


def test_same_person_scores_higher_than_different(obama_obama2_biden: np.ndarray) -> None:
    obama, obama2, biden = obama_obama2_biden
    same = float(obama @ obama2)
    assert same > float(obama @ biden)
    assert same > float(obama2 @ biden)


def test_batch_equals_one_by_one(
    describer: Describer, example_faces: Callable[[str], list[FaceObservation]]
) -> None:
    chips = [face.chip for face in example_faces("two_people.jpg")]
    together = describer.describe(chips)
    apart = np.vstack([describer.describe([chip]) for chip in chips])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_bad_chips_and_empty_batches(describer: Describer) -> None:
    assert describer.describe([]).shape == (0, 128)
    with pytest.raises(ValueError, match=r"chip 0: expected a 150×150×3 uint8"):
        describer.describe([np.zeros((100, 100, 3), dtype=np.uint8)])


def test_registry() -> None:
    config = DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "dlib"})
    assert isinstance(config, DlibDescriberConfig)
    assert build_describer(config).model_id == "dlib-resnet-v1"
    with pytest.raises(ValidationError):
        DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "dlib", "jitters": 2})
    with pytest.raises(ValueError, match="already registered"):
        register_describer("dlib")(lambda config: build_describer())
