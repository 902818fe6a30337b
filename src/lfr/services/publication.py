"""What the public pages publish (PUB-1, PUB-2), read from the record.

A thin view over `lfr.reports.transparency`, which owns the rules (announcement delays,
results only after the post-deployment review) and the counting (the review's figures):
only deployment-level facts and counts, never an image, a template, a subject reference
or a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import DeploymentRow
from lfr.reports import transparency
from lfr.reports.transparency import AnnouncementPublic


@dataclass(frozen=True, slots=True)
class PlannedDeployment:
    title: str
    window: str
    area: str
    purpose: str
    status: str
    start: datetime
    end: datetime
    anchor: str
    """The announcement's fragment id on the public page (the Atom feed links to it)."""

    def published(self) -> dict[str, str]:
        """The open-data fields (PUB-1): the times as text; the page's own fields (the
        times to show in local time, the fragment id) stay on the page."""
        return {
            "title": self.title,
            "window": self.window,
            "area": self.area,
            "purpose": self.purpose,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    deployment_id: str
    title: str
    window: str
    started_at: datetime
    ended_at: datetime
    area: str
    watchlist_size: int
    faces_seen: int | None
    alerts: int
    true_alerts: int
    false_alerts: int
    engagements: int
    arrests: int


def _planned(announcement: AnnouncementPublic) -> PlannedDeployment:
    return PlannedDeployment(
        title=announcement.title,
        window=f"{announcement.window_start:%Y-%m-%d %H:%M} – "
        f"{announcement.window_end:%Y-%m-%d %H:%M} UTC",
        area=", ".join(announcement.places),
        purpose=f"{announcement.purpose} ({announcement.place_category})",
        status=announcement.status,
        start=announcement.window_start,
        end=announcement.window_end,
        anchor=f"a-{announcement.authority_id}",
    )


def planned(session: Session) -> list[PlannedDeployment]:
    """PUB-1: deployments announced in advance (planned or running)."""
    return [
        _planned(a)
        for a in transparency.announcements(session)
        if a.status in ("planned", "running")
    ]


def awaiting_review(session: Session) -> list[PlannedDeployment]:
    """Deployments over whose results wait for their post-deployment review (REV-1)."""
    published = {r.deployment_id for r in transparency.results(session)}
    rows = session.execute(select(DeploymentRow.authority_id, DeploymentRow.id)).all()
    deployment_of = {str(authority_id): str(deployment_id) for authority_id, deployment_id in rows}
    return [
        _planned(a)
        for a in transparency.announcements(session)
        if a.status in ("halted", "ended") and deployment_of.get(a.authority_id) not in published
    ]


def results(session: Session) -> list[DeploymentResult]:
    """PUB-2: each reviewed deployment's figures (blue-list tests excluded)."""
    return [
        DeploymentResult(
            deployment_id=r.deployment_id,
            title=r.title,
            window=f"{r.started_at:%Y-%m-%d %H:%M} – {r.ended_at:%H:%M} UTC",
            started_at=r.started_at,
            ended_at=r.ended_at,
            area=r.places,
            watchlist_size=r.watchlist_size,
            faces_seen=r.faces_seen,
            alerts=r.alerts,
            true_alerts=r.true_alerts,
            false_alerts=r.false_alerts,
            engagements=r.engagements,
            arrests=r.arrests,
        )
        for r in transparency.results(session)
    ]
