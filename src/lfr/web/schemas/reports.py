"""Forecasts, monitoring and perceived groups (EQ-*)."""

from __future__ import annotations

from typing import Any

from lfr.web.schemas.base import Schema


class ForecastOut(Schema):
    """What the model's evaluation forecasts at a threshold and watchlist size (EQ-1)."""

    threshold: float | None
    watchlist_size: int
    model_version: str | None
    evaluation_id: str | None
    """The stored evaluation behind the floor (None: the shipped figures, or none)."""
    equitable_threshold: float | None
    equitable_threshold_source: str | None = None
    """"stored evaluation" (the force's own), "shipped figures" (measured on a public face
    set, shipped with the model) or None (no figures: nothing is enforced)."""
    below_equitable_threshold: bool
    rates_threshold: float | None
    false_match_rate: float | None
    """The evaluated false-match rate of a score at the threshold (calibrated units)."""
    false_match_one_in: str | None
    """The same, as people read it: "1 in 17,000"."""
    rates_source: str | None
    """Where the rates come from: "evaluation" (the force's stored evaluation), "shipped
    calibration" or "force's calibration" (the engine's calibration file)."""
    groups: dict[str, Any] | None = None
    """Each group's rates at `groups_threshold` (EQ-1): the stored evaluation's, else the
    shipped figures'."""
    groups_threshold: float | None = None
    false_alerts_per_10k_faces: float | None
    true_identification_rate: float | None


class GroupRate(Schema):
    false: int
    concluded: int
    low: float
    high: float


class MonitoringOut(Schema):
    """Outcomes and benefit of every reviewed deployment, and the EQ-2 test."""

    deployments: list[dict[str, Any]]
    totals: dict[str, int]
    perceived_groups: dict[str, GroupRate]
    adjusted_p: dict[str, float]
    differential_flagged: bool


class PerceivedGroupOut(Schema):
    alert_id: str
    perceived_group: str
