"""Each model's evaluated default threshold, calibration and equitable floor belong to it,
not to global settings (REC-2, EQ-1): the engine's default threshold follows the
configured describer, configuration may not go below that describer's evaluated default,
and dlib fused with faceres ships its own figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lfr.reports.evaluations import shipped_equitability
from lfr.settings import Settings
from lfr.vision.calibration import REFERENCE_RULE, shipped_calibration
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, describer_model_id
from lfr.vision.describers.dlib_resnet import DlibDescriberConfig
from lfr.vision.describers.faceres import DLIB_FACERES_CARD, DLIB_FACERES_WEIGHTS
from lfr.vision.describers.fusion import FusionDescriberConfig
from lfr.vision.engine_config import EngineConfig
from lfr.vision.thresholds import (
    DEFAULT_ALERT_THRESHOLD,
    DEFAULT_MARGIN,
    evaluated_default_threshold,
)
from tests.tiny_faceres import write_faceres_shaped_model


@pytest.fixture
def dlib_and_faceres(tmp_path: Path) -> dict[str, Any]:
    """The shipped fusion's settings, with a file of faceres's signature (no face is
    described here; `lfr model import-faceres` writes the real model)."""
    faceres = write_faceres_shaped_model(tmp_path / "faceres.onnx")
    dlib_weight, faceres_weight = DLIB_FACERES_WEIGHTS
    return {
        "type": "fusion",
        "parts": [
            {"describer": {"type": "dlib"}, "weight": dlib_weight},
            {
                "describer": {"type": "faceres", "model_path": str(faceres)},
                "weight": faceres_weight,
            },
        ],
    }


def test_the_engines_default_threshold_is_its_describers(dlib_and_faceres: dict[str, Any]) -> None:
    fused = EngineConfig(describer=dlib_and_faceres)  # type: ignore[arg-type]
    assert describer_model_id(fused.describer) == DLIB_FACERES_CARD.model_id
    assert DLIB_FACERES_CARD.default_threshold is not None
    assert fused.alert_threshold == DLIB_FACERES_CARD.default_threshold
    assert fused.alert_threshold != DEFAULT_ALERT_THRESHOLD  # another model, another scale
    assert EngineConfig().alert_threshold == DEFAULT_ALERT_THRESHOLD
    given = EngineConfig(describer=dlib_and_faceres, alert_threshold=0.93)  # type: ignore[arg-type]
    assert given.alert_threshold == 0.93


def test_the_engines_default_margin_is_its_describers(dlib_and_faceres: dict[str, Any]) -> None:
    """dlib's evaluated margin is 0.01; the fusion's is 0 (with 0.01 its women/men FPIR
    ratio became significant); one given is kept; an unevaluated model keeps dlib's."""
    assert EngineConfig().alert_margin == DEFAULT_MARGIN == 0.01
    fused = EngineConfig(describer=dlib_and_faceres)  # type: ignore[arg-type]
    assert fused.alert_margin == DLIB_FACERES_CARD.default_margin == 0.0
    assert fused.decision_rule().margin == 0.0
    given = EngineConfig(describer=dlib_and_faceres, alert_margin=0.02)  # type: ignore[arg-type]
    assert given.alert_margin == 0.02
    dlib_and_faceres["parts"][0]["weight"] = 0.5
    assert EngineConfig(describer=dlib_and_faceres).alert_margin == DEFAULT_MARGIN  # type: ignore[arg-type]


def test_a_model_without_an_evaluated_default_keeps_the_shipped_one(
    dlib_and_faceres: dict[str, Any],
) -> None:
    """A fusion of other weights is another model: nothing evaluated it."""
    dlib_and_faceres["parts"][0]["weight"] = 0.5
    other = EngineConfig(describer=dlib_and_faceres)  # type: ignore[arg-type]
    assert evaluated_default_threshold(other.describer) is None
    assert other.alert_threshold == DEFAULT_ALERT_THRESHOLD


def test_configuration_may_not_go_below_the_describers_evaluated_default(
    dlib_and_faceres: dict[str, Any],
) -> None:
    default = DLIB_FACERES_CARD.default_threshold
    assert default is not None
    stricter = Settings(engine={"describer": dlib_and_faceres, "alert_threshold": default + 0.01})  # type: ignore[arg-type]
    assert stricter.engine.alert_threshold == default + 0.01
    with pytest.raises(ValidationError, match=f"evaluated default {default} of the describer"):
        Settings(engine={"describer": dlib_and_faceres, "alert_threshold": default - 0.01})  # type: ignore[arg-type]


def test_the_shipped_fusion_brings_its_calibration_and_equitable_floor() -> None:
    model_id = DLIB_FACERES_CARD.model_id
    calibration = shipped_calibration(model_id)
    assert calibration is not None
    assert calibration.model_id == model_id
    assert calibration.covers(REFERENCE_RULE)
    assert calibration.covers("flip/cosine")  # the engine's flip description, calibrated too
    assert DLIB_FACERES_CARD.default_threshold is not None
    # Its default keeps the shipped dlib default's false-match rate, within a grid step.
    dlib = shipped_calibration("dlib-resnet-v1")
    assert dlib is not None
    ratio = calibration.false_match_rate(DLIB_FACERES_CARD.default_threshold) / (
        dlib.false_match_rate(DEFAULT_ALERT_THRESHOLD)
    )
    assert 0.75 < ratio < 1.34
    figures = shipped_equitability(model_id)
    assert figures is not None
    assert figures.model_version == model_id
    assert figures.lowest_equitable_threshold is not None


def test_a_dlib_part_of_a_fusion_describes_each_chip_once_unless_told(
    dlib_and_faceres: dict[str, Any],
) -> None:
    """The flip is the engine's description's (Description.mirror), never a part's own."""
    fused = DESCRIBER_CONFIG_ADAPTER.validate_python(dlib_and_faceres)
    assert isinstance(fused, FusionDescriberConfig)
    assert DlibDescriberConfig.model_validate(fused.parts[0].describer).mirror is False
    dlib_and_faceres["parts"][0]["describer"]["mirror"] = True
    told = DESCRIBER_CONFIG_ADAPTER.validate_python(dlib_and_faceres)
    assert isinstance(told, FusionDescriberConfig)
    assert DlibDescriberConfig.model_validate(told.parts[0].describer).mirror is True


def test_a_model_file_that_cannot_serve_is_refused_with_the_settings(
    dlib_and_faceres: dict[str, Any], tmp_path: Path
) -> None:
    """A fused part's model is read when the settings are, not first in a camera worker."""
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("not a model")
    dlib_and_faceres["parts"][1]["describer"]["model_path"] = str(not_a_model)
    with pytest.raises(ValidationError, match=r"notes\.txt: not a readable ONNX model"):
        EngineConfig(describer=dlib_and_faceres)  # type: ignore[arg-type]


def test_the_fusion_listed_in_another_order_is_the_same_model(
    dlib_and_faceres: dict[str, Any],
) -> None:
    dlib_and_faceres["parts"].reverse()
    swapped = EngineConfig(describer=dlib_and_faceres)  # type: ignore[arg-type]
    assert describer_model_id(swapped.describer) == DLIB_FACERES_CARD.model_id
    assert swapped.alert_threshold == DLIB_FACERES_CARD.default_threshold


def test_a_start_on_an_unevaluated_model_says_its_threshold_was_not_measured(
    dlib_and_faceres: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from lfr.system import warn_of_an_unevaluated_threshold

    dlib_and_faceres["parts"][0]["weight"] = 0.5
    with caplog.at_level("WARNING", logger="lfr.system"):
        warn_of_an_unevaluated_threshold(EngineConfig())
        warn_of_an_unevaluated_threshold(
            EngineConfig(describer=dlib_and_faceres, alert_threshold=0.9)
        )  # type: ignore[arg-type]
        assert not caplog.records
        warn_of_an_unevaluated_threshold(EngineConfig(describer=dlib_and_faceres))  # type: ignore[arg-type]
    (warning,) = caplog.records
    assert "no evaluated default threshold" in warning.getMessage()
    assert "fusion(dlib-resnet-v1@0.7692," in warning.getMessage()  # 0.5 : 0.15


def test_a_margin_without_a_second_candidate_is_refused_saying_what_to_change() -> None:
    with pytest.raises(ValidationError, match="set top_k to 2 or more, or alert_margin to 0"):
        EngineConfig(top_k=1)
    assert EngineConfig(top_k=1, alert_margin=0).top_k == 1
