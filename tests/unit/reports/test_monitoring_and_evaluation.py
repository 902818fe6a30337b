"""Pure parts of monitoring (EQ-2, EQ-3) and of the equitability evaluation (EQ-1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lfr.reports.equitability import GroupScores
from lfr.reports.equitability_evaluation import parse_thresholds, scores_report
from lfr.reports.monitoring import monitoring_of


def figures(day: str, groups: dict[str, dict[str, int]], **counts: Any) -> dict[str, Any]:
    base = {
        "deployment_id": day,
        "title": f"Deployment {day}",
        "started_at": f"{day}T10:00:00+00:00",
        "faces_seen": 20_000,
        "alerts": 10,
        "true_alerts": 6,
        "false_alerts": 4,
        "engagements": 8,
        "arrests": 2,
        "perceived_groups": groups,
    }
    return base | counts


def test_a_differential_between_perceived_groups_is_flagged() -> None:
    """EQ-2: 18 of 20 concluded engagements false for one group, 2 of 20 for the other:
    two-proportion z = 5.06, Holm-adjusted p < 0.001 for both: flagged."""
    result = monitoring_of(
        [
            (figures("2026-01-02", {"x": {"concluded": 10, "false": 9}}), True),
            (
                figures(
                    "2026-01-01",
                    {"x": {"concluded": 10, "false": 9}, "y": {"concluded": 20, "false": 2}},
                ),
                True,
            ),
        ],
        0.05,
    )
    assert result.differential_flagged
    assert (result.group_rates["x"].errors, result.group_rates["x"].trials) == (18, 20)
    assert [d.deployment_id for d in result.deployments] == ["2026-01-01", "2026-01-02"]


def test_similar_groups_are_not_flagged_and_benefit_is_per_10k_faces() -> None:
    """EQ-3: 6 true alerts and 2 arrests in 20,000 faces: 3 and 1 per 10,000."""
    result = monitoring_of(
        [
            (
                figures(
                    "2026-01-01",
                    {"x": {"concluded": 20, "false": 3}, "y": {"concluded": 20, "false": 4}},
                ),
                False,
            )
        ],
        0.05,
    )
    assert not result.differential_flagged
    (deployment,) = result.deployments
    assert deployment.per_10k_faces(deployment.true_alerts) == 3.0
    assert deployment.per_10k_faces(deployment.arrests) == 1.0
    assert result.totals()["arrests"] == 2


def test_thresholds_parse_ranges_and_lists_and_refuse_nonsense() -> None:
    assert parse_thresholds("0.90:0.93:0.01") == (0.9, 0.91, 0.92, 0.93)
    assert parse_thresholds("0.95,0.9") == (0.9, 0.95)
    for bad in ("0.9:0.8:0", "a,b", "0,0.5", "1.5"):
        with pytest.raises(ValueError, match="--thresholds"):
            parse_thresholds(bad)


def test_scores_report_pools_the_overall_rates() -> None:
    """Group a: 0 of 1,000 impostor pairs at 0.85 match; b: 100 of 1,000: pooled FMR at
    0.85 is 100/2,000 = 0.05; mated 0.99 everywhere: FNMR 0."""
    a = GroupScores(mated=np.full(50, 0.99), non_mated=np.full(1000, 0.5))
    b = GroupScores(mated=np.full(50, 0.99), non_mated=np.r_[np.full(900, 0.5), np.full(100, 0.85)])
    report = scores_report({"a": a, "b": b}, [0.85, 0.90]).report
    row = report["thresholds"][0]
    assert row["overall"]["fmr"] == 0.05
    assert row["overall"]["fnmr"] == 0.0
    assert row["fmr_differential"] is True
    assert report["lowest_equitable_threshold"] == 0.90
