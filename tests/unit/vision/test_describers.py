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


def test_bad_chips_and_empty_batches(
    describer: Describer, dlib_runtime_describer: Describer
) -> None:
    assert describer.describe([]).shape == (0, 128)
    assert dlib_runtime_describer.describe([]).shape == (0, 128)
    with pytest.raises(ValueError, match=r"chip 0: expected a 150×150×3 uint8"):
        dlib_runtime_describer.describe([np.zeros((100, 100, 3), dtype=np.uint8)])
    ok = np.zeros((150, 150, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"chip 1: expected an H×W×3 uint8 aligned face"):
        describer.describe([ok, np.zeros((150, 150), dtype=np.uint8)])


def test_registry() -> None:
    config = DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "dlib"})
    assert isinstance(config, DlibDescriberConfig)
    assert build_describer(config).model_id == "dlib-resnet-v1"
    with pytest.raises(ValidationError):
        DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "dlib", "jitters": 2})
    with pytest.raises(ValueError, match="already registered"):
        register_describer("dlib")(lambda config: build_describer())


def test_default_runtime_gives_dlibs_own_descriptors(
    describer: Describer,
    dlib_runtime_describer: Describer,
    example_faces: Callable[[str], list[FaceObservation]],
) -> None:
    """The default runs dlib's weights in ONNX Runtime; it must equal dlib-bin's output."""
    chips = [face.chip for name in ("obama.jpg", "two_people.jpg") for face in example_faces(name)]
    assert describer.model_id == dlib_runtime_describer.model_id == "dlib-resnet-v1"
    fast, reference = describer.describe(chips), dlib_runtime_describer.describe(chips)
    assert np.abs(fast - reference).max() < 1e-4


def test_jitters_need_the_dlib_runtime() -> None:
    with pytest.raises(ValidationError, match="num_jitters needs runtime 'dlib'"):
        DlibDescriberConfig(num_jitters=2)
    assert DlibDescriberConfig(num_jitters=2, runtime="dlib").num_jitters == 2


def test_the_default_describer_runs_on_the_providers_its_settings_name() -> None:
    """REC-2: dlib's ResNet on ONNX Runtime takes `providers` like any ONNX model (the GPU
    is a setting); one this installation lacks stops the describer being built, naming it
    and the available ones; dlib-bin's own runtime has no providers to choose."""
    import onnxruntime as ort

    from lfr.vision.onnx_runtime import OnnxModelError

    on_cpu = build_describer(DlibDescriberConfig(providers=("CPUExecutionProvider",)))
    assert on_cpu.describe([np.zeros((150, 150, 3), np.uint8)]).shape == (1, 128)
    missing = "NoSuchExecutionProvider"
    assert missing not in ort.get_available_providers()
    with pytest.raises(OnnxModelError, match=missing) as refused:
        build_describer(DlibDescriberConfig(providers=(missing, "CPUExecutionProvider")))
    assert "CPUExecutionProvider" in str(refused.value).split("available:")[1]
    with pytest.raises(ValidationError, match="providers need runtime 'onnxruntime'"):
        DlibDescriberConfig(runtime="dlib", providers=("CUDAExecutionProvider",))
