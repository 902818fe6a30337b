"""Outcome monitoring and benefit across deployments (EQ-2, EQ-3).

Read from the reviews: a signed-off review's frozen figures, an open review's live ones,
so that the monitoring survives the deletion of the alerts themselves (DP-1). The
engaging officer's record of a perceived group is a service's
(`lfr.services.monitoring.record_perceived_group`).

EQ-2. Where the engaging officer recorded the group they perceived (optional, from the
officer-defined categories below), each group's *false share* is the share of its
concluded engagements that were false alerts. Each group is tested against the rest
(`equitability.differential_test`, Holm-adjusted) and a significant difference is
flagged. This is not a false positive identification rate (nobody counts the passers-by
of each group) and perception is not self-identification: a flag is a prompt to look at
the alerts and the evaluation, not a finding.

EQ-3. Benefit: true alerts, engagements and arrests per deployment and per 10,000 faces
seen, over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from lfr.domain.refusal import Refusal
from lfr.evaluation.rates import Rate, make_rate
from lfr.reports import charts
from lfr.reports.equitability import DifferentialTest, differential_test
from lfr.reports.review import figures_of, list_reviews

PER_FACES = 10_000


class PerceivedGroup(StrEnum):
    """Officer-perceived ethnicity, the broad categories police forces record (ODE)."""

    ASIAN = "asian"
    BLACK = "black"
    MIXED = "mixed"
    WHITE = "white"
    OTHER = "other"


def parse_perceived_group(text: str) -> PerceivedGroup | None:
    """A form's optional answer: blank is "not recorded"; anything else must be a group."""
    if not text.strip():
        return None
    try:
        return PerceivedGroup(text.strip())
    except ValueError as error:
        allowed = ", ".join(g.value for g in PerceivedGroup)
        raise Refusal("EQ-2", f"not one of {allowed}", "perceived_group") from error


@dataclass(frozen=True, slots=True)
class DeploymentBenefit:
    deployment_id: str
    title: str
    started_at: str | None
    signed_off: bool
    faces_seen: int | None
    alerts: int
    true_alerts: int
    false_alerts: int
    engagements: int
    arrests: int

    def per_10k_faces(self, count: int) -> float | None:
        if not self.faces_seen:
            return None
        return PER_FACES * count / self.faces_seen


@dataclass(frozen=True, slots=True)
class Monitoring:
    deployments: list[DeploymentBenefit]
    group_rates: dict[str, Rate]
    """Per perceived group: false alerts out of concluded engagements."""
    group_test: DifferentialTest

    @property
    def differential_flagged(self) -> bool:
        return self.group_test.significant

    def totals(self) -> dict[str, int]:
        names = ("alerts", "true_alerts", "false_alerts", "engagements", "arrests")
        return {name: sum(getattr(d, name) for d in self.deployments) for name in names}


def monitoring(session: Session, alpha: float = 0.05) -> Monitoring:
    """Every reviewed deployment's outcomes and benefit, oldest first, and the EQ-2 test."""
    reviewed = [
        (figures_of(session, review), review.figures is not None)
        for review in list_reviews(session)
    ]
    return monitoring_of(reviewed, alpha)


def monitoring_of(reviewed: Sequence[tuple[dict[str, Any], bool]], alpha: float) -> Monitoring:
    """The same from (review figures, signed off) pairs."""
    benefits: list[DeploymentBenefit] = []
    groups: dict[str, list[int]] = {}
    for figures, signed_off in reviewed:
        benefits.append(_benefit(figures, signed_off))
        for group, counts in figures["perceived_groups"].items():
            totals = groups.setdefault(group, [0, 0])
            totals[0] += counts["false"]
            totals[1] += counts["concluded"]
    benefits.sort(key=lambda b: b.started_at or "")
    rates = {g: make_rate(false, concluded) for g, (false, concluded) in sorted(groups.items())}
    return Monitoring(benefits, rates, differential_test(rates, alpha))


def _benefit(figures: dict[str, Any], signed_off: bool) -> DeploymentBenefit:
    return DeploymentBenefit(
        deployment_id=figures["deployment_id"],
        title=figures["title"],
        started_at=figures["started_at"],
        signed_off=signed_off,
        faces_seen=figures["faces_seen"],
        alerts=figures["alerts"],
        true_alerts=figures["true_alerts"],
        false_alerts=figures["false_alerts"],
        engagements=figures["engagements"],
        arrests=figures["arrests"],
    )


def _label(benefit: DeploymentBenefit) -> str:
    day = (benefit.started_at or "")[:10]
    return f"{day} {benefit.title[:18]}".strip()


def benefit_chart(result: Monitoring) -> bytes:
    """True alerts, engagements and arrests per deployment, over time (EQ-3)."""
    series = {
        "true alerts": [float(d.true_alerts) for d in result.deployments],
        "engagements": [float(d.engagements) for d in result.deployments],
        "arrests": [float(d.arrests) for d in result.deployments],
    }
    labels = [_label(d) for d in result.deployments]
    return charts.grouped_bar_chart(labels, series, "Benefit per deployment", "count")


def benefit_per_faces_chart(result: Monitoring) -> bytes:
    """True alerts and arrests per 10,000 faces seen (EQ-3)."""
    shown = [d for d in result.deployments if d.faces_seen]
    series = {
        "true alerts": [d.per_10k_faces(d.true_alerts) or 0.0 for d in shown],
        "arrests": [d.per_10k_faces(d.arrests) or 0.0 for d in shown],
    }
    return charts.grouped_bar_chart(
        [_label(d) for d in shown], series, "Per 10,000 faces seen", "per 10,000 faces"
    )


def group_chart(result: Monitoring) -> bytes:
    """False share of concluded engagements per perceived group (EQ-2)."""
    values = {g: r.value for g, r in result.group_rates.items()}
    return charts.bar_chart(values, "False alerts per perceived group", "false / concluded")
