"""Calibrated scores (REC-2): one scale whatever the rule, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from lfr.vision.calibration import (
    REFERENCE_RULE,
    ModelCalibration,
    RuleCalibration,
    calibrate,
    fmr_grid,
    load_calibration,
    one_in,
    shipped_calibration,
)
from lfr.vision.decision import DecisionRule, searched_gallery
from lfr.vision.engine_config import EngineConfig
from lfr.vision.matcher import Gallery
from lfr.vision.normalisation import CohortNormalisation


def _hand_made() -> ModelCalibration:
    # FMR 1, 0.1, 0.01: cosine 0.5, 0.9, 0.95; the rule 0, 4, 6.
    return ModelCalibration(
        model_id="m",
        dataset="hand-made",
        command="none",
        non_mated_comparisons=100,
        false_match_rates=(1.0, 0.1, 0.01),
        rules={
            REFERENCE_RULE: RuleCalibration(scores=(0.5, 0.9, 0.95)),
            "snorm-200": RuleCalibration(scores=(0.0, 4.0, 6.0)),
        },
    )


def test_a_rules_score_maps_to_the_cosine_of_equal_false_match_rate() -> None:
    calibration = _hand_made()
    mapped = calibration.to_reference("snorm-200", np.array([4.0, 5.0, 6.0, 8.0, -np.inf]))
    # 5 lies half way between the 0.1 and 0.01 knots: half way between 0.9 and 0.95;
    # 8 lies beyond the last knot: the last segment (slope 0.025 per unit) continues.
    assert mapped.tolist() == pytest.approx([0.9, 0.925, 0.95, 1.0, -np.inf])
    assert calibration.to_reference(REFERENCE_RULE, np.array([0.3])).tolist() == [0.3]


def test_false_match_rate_of_a_calibrated_score_and_back() -> None:
    calibration = _hand_made()
    assert calibration.false_match_rate(0.9) == pytest.approx(0.1)
    # Log-linear: half way between 0.9 and 0.95 is 10^-1.5.
    assert calibration.false_match_rate(0.925) == pytest.approx(10**-1.5)
    assert calibration.false_match_rate(0.1) == 1.0
    assert calibration.false_match_rate(0.99) == 0.01  # never below what was measured
    assert calibration.score_for(10**-1.5) == pytest.approx(0.925)


def test_a_rule_outside_the_calibration_is_refused() -> None:
    with pytest.raises(KeyError, match="does not cover"):
        _hand_made().to_reference("tnorm-50", np.array([1.0]))


def test_calibrating_takes_each_rules_score_at_each_rate_of_the_grid() -> None:
    cosine = np.arange(1, 101, dtype=np.float64) / 100  # 0.01 … 1.00
    rule = cosine * 10
    calibration = calibrate(
        {REFERENCE_RULE: cosine, "snorm-200": rule}, model_id="m", dataset="d", command="c"
    )
    assert calibration.false_match_rates == pytest.approx(fmr_grid(0.01))
    reference = calibration.rules[REFERENCE_RULE].scores
    # FMR 1: the lowest score; FMR 0.1: the 10th highest (0.91); FMR 0.01: the highest.
    assert reference[0] == pytest.approx(0.01)
    assert reference[8] == pytest.approx(0.91)
    assert reference[-1] == pytest.approx(1.0)
    assert calibration.to_reference("snorm-200", np.array([9.1]))[0] == pytest.approx(0.91)


def test_calibrating_needs_the_same_comparisons_for_every_rule() -> None:
    with pytest.raises(ValueError, match="same comparisons"):
        calibrate(
            {REFERENCE_RULE: np.zeros(3), "snorm-200": np.zeros(2)},
            model_id="m",
            dataset="d",
            command="c",
        )


def test_rates_read_as_one_in_n() -> None:
    assert one_in(1e-4) == "1 in 10,000"
    assert one_in(1 / 130_456) == "1 in 130,000"
    assert one_in(0.5) == "1 in 2"
    assert one_in(0.0) == "none measured"


def test_the_shipped_models_calibration_covers_the_default_rule() -> None:
    shipped = shipped_calibration("dlib-resnet-v1")
    assert shipped is not None
    assert shipped.covers(CohortNormalisation().rule)
    default = EngineConfig().decision_rule()
    assert shipped.covers(default.name)  # the engine's rule runs calibrated, as evaluated
    assert default.description.name in shipped.fair_cohorts
    assert shipped_calibration("no-such-model") is None
    # A stored raw threshold keeps its meaning: its rate is read on the reference scale.
    assert 1e-6 < shipped.false_match_rate(0.946) < 1e-3


def test_misses_beyond_the_measured_thresholds_are_not_claimed() -> None:
    """Above the grid's last threshold the last point's FNMR would understate the misses
    (the fused model's floor lies there): not measured, so none is given."""
    shipped = shipped_calibration("dlib-resnet-v1")
    assert shipped is not None
    top = shipped.rules[REFERENCE_RULE].scores[-1]
    at_top = shipped.false_non_match_rate(REFERENCE_RULE, top)
    assert at_top is not None
    assert 0 < at_top < 1
    assert shipped.false_non_match_rate(REFERENCE_RULE, top + 0.005) is None
    assert shipped.false_match_rate(top + 0.005) == shipped.false_match_rates[-1]


def test_a_forces_own_calibration_must_be_of_the_describers_model(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "own.json"
    path.write_text(_hand_made().model_dump_json())
    assert load_calibration(path, "m") == _hand_made()
    with pytest.raises(ValueError, match="calibrates m"):
        load_calibration(path, "dlib-resnet-v1")


def _unit(n: int, seed: int) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_the_searched_gallery_is_calibrated_or_raw_never_in_mixed_units() -> None:
    calibration = _hand_made()
    rule = CohortNormalisation(cohort_size=200)
    rule_named = rule.model_copy(update={"cohort_size": 200})
    big = Gallery.build([f"s{i}" for i in range(40)], _unit(40, 1))
    probe = _unit(1, 2)
    searched = searched_gallery(big, DecisionRule(normalisation=rule_named), calibration)
    assert searched.normalisation == rule_named
    expected = calibration.to_reference(
        "snorm-200", big.with_normalisation(rule_named).scores(probe).astype(np.float64)
    )
    np.testing.assert_allclose(searched.scores(probe), expected, rtol=1e-5)
    # Too few subjects for a cohort, or a rule the calibration lacks: raw cosines.
    small = Gallery.build([f"s{i}" for i in range(5)], _unit(5, 3))
    assert (
        searched_gallery(small, DecisionRule(normalisation=rule), calibration).normalisation is None
    )
    other = DecisionRule(normalisation=CohortNormalisation(type="tnorm", cohort_size=50))
    assert searched_gallery(big, other, calibration).normalisation is None
    assert searched_gallery(big, DecisionRule(normalisation=rule), None).normalisation is None


def test_rules_join_one_file_only_when_measured_on_the_same_comparisons(
    tmp_path: object,
) -> None:
    """`lfr evaluate identification --calibration-out` adds its rule to a file of the same
    run; a file of other comparisons (another reference scale) is replaced, never mixed."""
    from pathlib import Path

    from lfr.cli.evaluate import write_calibration

    assert isinstance(tmp_path, Path)
    path = tmp_path / "calibration.json"
    first = _hand_made()
    write_calibration(path, first)
    tnorm = {
        REFERENCE_RULE: first.rules[REFERENCE_RULE],
        "tnorm-200": RuleCalibration(scores=(1.0, 2.0, 3.0)),
    }
    write_calibration(path, first.model_copy(update={"rules": tnorm}))
    joined = ModelCalibration.model_validate_json(path.read_text())
    assert set(joined.rules) == {REFERENCE_RULE, "snorm-200", "tnorm-200"}
    other_scale = {REFERENCE_RULE: RuleCalibration(scores=(0.4, 0.8, 0.9))}
    write_calibration(path, first.model_copy(update={"rules": other_scale}))
    replaced = ModelCalibration.model_validate_json(path.read_text())
    assert set(replaced.rules) == {REFERENCE_RULE}
    assert replaced.rules[REFERENCE_RULE].scores == (0.4, 0.8, 0.9)
