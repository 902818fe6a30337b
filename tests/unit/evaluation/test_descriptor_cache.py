"""The descriptor cache's key follows the model and every setting that changes a
descriptor, and nothing else (EQ-1: figures are never mixed across models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lfr.evaluation.descriptors import DescriptorCache, NoFaceRule, cache_key
from lfr.vision.decision import Description
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, DescriberConfig, build_describer
from lfr.vision.describers.dlib_onnx_export import default_model_path, export_dlib_model
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.types import QualityFactors


def key_for(
    describer: dict[str, object],
    upsample: int = 1,
    rule: str = "centre",
    paddings: tuple[float, ...] = (0.25,),
    mirror: bool = False,
) -> str:
    config: DescriberConfig = DESCRIBER_CONFIG_ADAPTER.validate_python(describer)
    return cache_key(
        build_describer(config),
        config,
        HogDetectorConfig(upsample=upsample),
        NoFaceRule(rule),
        Description(mirror=mirror, chip_paddings=paddings),
    )


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    fused = export_dlib_model(folder / "fused.onnx", default_model_path(), fuse=True)
    unfused = export_dlib_model(folder / "unfused.onnx", default_model_path(), fuse=False)
    copy = folder / "copy-of-fused.onnx"
    copy.write_bytes(fused.read_bytes())
    return fused, unfused, copy


def test_the_same_configuration_gives_the_same_key() -> None:
    assert key_for({"type": "dlib"}) == key_for({"type": "dlib"})
    # The flip is the description's, keyed where the describer's mirror was (so the
    # descriptors cached before it moved are found): the describer's own is not read.
    flipped = key_for({"type": "dlib", "mirror": False}, mirror=True)
    assert flipped == key_for({"type": "dlib"}, mirror=True)


def test_the_key_changes_with_the_describer_settings_detector_and_no_face_rule() -> None:
    keys = {
        key_for({"type": "dlib"}),
        key_for({"type": "dlib", "runtime": "dlib", "num_jitters": 2}),
        key_for({"type": "dlib"}, upsample=0),
        key_for({"type": "dlib"}, rule="skip"),
        key_for({"type": "dlib"}, paddings=(0.25, 0.3)),
        key_for({"type": "dlib"}, mirror=True),
    }
    assert len(keys) == 6


def test_the_key_changes_with_the_model_file_even_under_the_same_model_id(
    onnx_models: tuple[Path, Path, Path],
) -> None:
    fused, unfused, copy = onnx_models
    dlib_key = key_for({"type": "dlib"})
    fused_key = key_for({"type": "onnx", "model_path": fused})
    unfused_key = key_for({"type": "onnx", "model_path": unfused})
    assert len({dlib_key, fused_key, unfused_key}) == 3
    # The same bytes under another name are the same model; threads change only speed.
    assert key_for({"type": "onnx", "model_path": copy}) == fused_key
    assert key_for({"type": "onnx", "model_path": fused, "intra_op_threads": 1}) == fused_key


def test_a_cache_entry_round_trips(tmp_path: Path) -> None:
    cache = DescriptorCache(tmp_path, "some-key")
    descriptor = np.arange(4, dtype=np.float32)
    quality = QualityFactors(
        inter_eye_px=40,
        face_height_px=80,
        sharpness=100,
        brightness=120,
        contrast=40,
        yaw_deg=5,
        roll_deg=-2,
        score=0.9,
    )
    cache.store("abc", 1, descriptor, quality)
    cache.store("none", 0, None, None)
    faces, loaded, loaded_quality = cache.load("abc")
    assert faces == 1
    assert loaded is not None
    assert loaded.tolist() == descriptor.tolist()
    assert loaded_quality == quality
    assert cache.load("none") == (0, None, None)
    with pytest.raises(KeyError):
        cache.load("missing")
    assert sorted(p.name for p in (tmp_path / "some-key").iterdir()) == ["abc.npz", "none.npz"]


def test_context_augmentation_averages_one_description_per_chip_padding(lfw_dir: Path) -> None:
    """EQ-1: with paddings (0.25, 0.3) a face's descriptor is the unit mean of its
    descriptors at 0.25 and at 0.3 alone, each aligned from the same landmarks."""
    from lfr.evaluation.descriptors import build_evaluation_describer
    from lfr.vision.decision import Description
    from lfr.vision.describers import DlibDescriberConfig

    image = sorted((lfw_dir / "images" / "Aaron_Peirsol").glob("*.jpg"))[:2]

    def described(paddings: tuple[float, ...]) -> np.ndarray:
        evaluation, _ = build_evaluation_describer(
            HogDetectorConfig(upsample=1),
            DlibDescriberConfig(mirror=False),
            cache_root=None,
            description=Description(mirror=True, chip_paddings=paddings),
        )
        rows = [d.descriptor for d in evaluation.describe_all(image)]
        assert all(row is not None for row in rows)
        return np.stack([row for row in rows if row is not None])

    narrow, wide, both = described((0.25,)), described((0.3,)), described((0.25, 0.3))
    expected = (narrow + wide) / np.linalg.norm(narrow + wide, axis=1, keepdims=True)
    np.testing.assert_allclose(both, expected, atol=1e-5)
    assert float(np.min(np.sum(narrow * wide, axis=1))) < 0.999  # the chips differ
    with pytest.raises(ValueError, match="the description's"):
        build_evaluation_describer(
            HogDetectorConfig(upsample=1), DlibDescriberConfig(mirror=True), cache_root=None
        )
