"""What the public pages publish (PUB-1, PUB-2), read from the record.

Only deployment-level facts and counts: never an image, a template, a subject reference or
the name of a member of the public.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lfr.db.governance import AlertRow, DeploymentRow, WatchlistEntryRow, WatchlistRow
from lfr.domain.alerts import Action, AlertState, Identity
from lfr.domain.deployment import DeploymentStatus


@dataclass(frozen=True, slots=True)
class PlannedDeployment:
    title: str
    window: str
    area: str
    purpose: str
    status: str


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    title: str
    window: str
    area: str
    watchlist_size: int
    alerts: int
    true_alerts: int
    false_alerts: int
    engagements: int
    arrests: int


def _window(row: DeploymentRow) -> str:
    authority = row.authority
    return f"{authority.window_start:%Y-%m-%d %H:%M} – {authority.window_end:%H:%M} UTC"


def _purpose(row: DeploymentRow) -> str:
    place_category = json.loads(row.authority.wad).get("application", {}).get("place_category")
    from lfr.domain.authorisation import PlaceCategory

    return PlaceCategory(place_category).label if place_category else ""


def planned(session: Session) -> list[PlannedDeployment]:
    """PUB-1: deployments announced in advance (planned or running)."""
    rows = session.scalars(
        select(DeploymentRow).where(
            DeploymentRow.status.in_([DeploymentStatus.PLANNED, DeploymentStatus.RUNNING])
        )
    )
    return [
        PlannedDeployment(
            title=row.authority.application.title,
            window=_window(row),
            area=", ".join(json.loads(row.places)),
            purpose=_purpose(row),
            status=row.status.value,
        )
        for row in rows
    ]


def results(session: Session) -> list[DeploymentResult]:
    """PUB-2: after each deployment, its figures (tests on the blue list excluded)."""
    rows = session.scalars(
        select(DeploymentRow).where(
            DeploymentRow.status.in_([DeploymentStatus.ENDED, DeploymentStatus.HALTED])
        )
    )
    return [_result(session, row) for row in rows]


def _result(session: Session, row: DeploymentRow) -> DeploymentResult:
    alerts = list(
        session.scalars(
            select(AlertRow).where(AlertRow.deployment_id == row.id, AlertRow.is_test.is_(False))
        )
    )
    size = session.scalar(
        select(func.count(WatchlistEntryRow.id))
        .join(WatchlistRow, WatchlistEntryRow.watchlist_id == WatchlistRow.id)
        .where(WatchlistRow.authority_id == row.authority_id)
    )
    confirmed = [a for a in alerts if a.outcome_identity is Identity.CONFIRMED]
    not_confirmed = [a for a in alerts if a.outcome_identity is Identity.NOT_CONFIRMED]
    return DeploymentResult(
        title=row.authority.application.title,
        window=_window(row),
        area=", ".join(json.loads(row.places)),
        watchlist_size=int(size or 0),
        alerts=len(alerts),
        true_alerts=len(confirmed),
        false_alerts=len(not_confirmed),
        engagements=sum(a.state in (AlertState.ENGAGED, AlertState.CONCLUDED) for a in alerts),
        arrests=sum(Action.ARREST.value in (a.outcome_actions or "").split(",") for a in alerts),
    )
