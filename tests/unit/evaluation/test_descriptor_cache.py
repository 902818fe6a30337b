"""The descriptor cache's key follows the model and every setting that changes a
descriptor, and nothing else (EQ-1: figures are never mixed across models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lfr.evaluation.descriptors import DescriptorCache, NoFaceRule, cache_key
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, DescriberConfig, build_describer
from lfr.vision.describers.dlib_onnx_export import default_model_path, export_dlib_model
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.types import QualityFactors


def key_for(describer: dict[str, object], upsample: int = 1, rule: str = "centre") -> str:
    config: DescriberConfig = DESCRIBER_CONFIG_ADAPTER.validate_python(describer)
    return cache_key(
        build_describer(config), config, HogDetectorConfig(upsample=upsample), NoFaceRule(rule)
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


def test_the_key_changes_with_the_describer_settings_detector_and_no_face_rule() -> None:
    keys = {
        key_for({"type": "dlib"}),
        key_for({"type": "dlib", "runtime": "dlib", "num_jitters": 2}),
        key_for({"type": "dlib"}, upsample=0),
        key_for({"type": "dlib"}, rule="skip"),
    }
    assert len(keys) == 4


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
