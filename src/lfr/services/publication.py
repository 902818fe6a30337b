"""What the public pages publish (PUB-1..3): the two acts that change it, each audited
(delaying an announcement, publishing a framework document), and the pages' view of the
record.

The view is a thin one over `lfr.reports.transparency`, which computes what is due
(announcements not delayed, results only after the post-deployment review) from the
review's figures: only deployment-level facts and counts, never an image, a template, a
subject reference or a name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.db.governance import AuthorityRow, DeploymentRow
from lfr.db.reports import PublicationDelayRow, PublicDocumentRow
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal
from lfr.domain.rules import blank
from lfr.reports import transparency
from lfr.reports.transparency import AnnouncementPublic, DocumentKind
from lfr.services._rows import audited, found, moment

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""Largest document accepted: framework documents are a few hundred kB; larger uploads
are refused rather than filling the database."""

DOCUMENT_TYPES: dict[str, str] = {
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
}


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


def announced_deployments(session: Session) -> set[str]:
    """The deployments whose announcement the public pages show (PUB-1): all that anything
    readable without a role (or by a monitoring system) may name."""
    shown = {a.authority_id for a in transparency.announcements(session)}
    rows = session.execute(select(DeploymentRow.id, DeploymentRow.authority_id)).all()
    return {str(deployment) for deployment, authority in rows if str(authority) in shown}


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


# --- PUB-1 delays and PUB-3 documents -------------------------------------------------------


def delay_announcement(
    session: Session,
    actor: Actor,
    authority_id: str,
    publish_from: datetime,
    reason: str,
    *,
    now: datetime | None = None,
) -> PublicationDelayRow:
    """Hold an announcement back until `publish_from`, for a recorded reason (PUB-1)."""
    authority = found(session, AuthorityRow, authority_id, "authority")
    if not (actor.has(Role.AUTHORISING_OFFICER) or actor.has(Role.GOLD)):
        raise Refusal("PUB-1", "an authorising officer or Gold delays publication", "actor")
    if blank(reason):
        raise Refusal("PUB-1", "record the operational reason", "reason")
    if publish_from > authority.window_end:
        raise Refusal("PUB-1", "publish at the latest when the window ends", "publish_from")
    row = session.get(PublicationDelayRow, authority_id)
    before = {"publish_from": row.publish_from} if row else None
    if row is None:
        row = PublicationDelayRow(authority_id=authority_id)
        session.add(row)
    row.publish_from, row.reason = publish_from, reason.strip()
    row.decided_by, row.decided_at = actor.user_id, moment(now)
    session.flush()
    audited(
        session,
        actor,
        authority,
        "publication.delay",
        "announcement delayed for an operational reason",
        before=before,
        after={"publish_from": publish_from},
        reason=row.reason,
    )
    return row


def upload_document(
    session: Session,
    actor: Actor,
    *,
    title: str,
    kind: DocumentKind,
    filename: str,
    content_type: str,
    content: bytes,
) -> PublicDocumentRow:
    """Publish a framework document (PUB-3): an administrator uploads PDF or text."""
    if not actor.has(Role.ADMINISTRATOR):
        raise Refusal("PUB-3", "an administrator publishes documents", "actor")
    if blank(title):
        raise Refusal("PUB-3", "give the document a title", "title")
    _check_document(filename, content_type, content)
    row = PublicDocumentRow(
        title=title.strip(),
        kind=kind.value,
        filename=filename.strip(),
        content_type=content_type,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="document.publish",
        object_type="public_document",
        object_id=row.id,
        summary=f"document published: {row.title}",
        after={"kind": kind.value, "filename": row.filename, "sha256": row.sha256},
    )
    return row


def _check_document(filename: str, content_type: str, content: bytes) -> None:
    if content_type not in DOCUMENT_TYPES:
        allowed = ", ".join(DOCUMENT_TYPES)
        raise Refusal("PUB-3", f"{content_type or 'no type'} is not one of {allowed}", "file")
    if not filename.strip() or "/" in filename or "\\" in filename:
        raise Refusal("PUB-3", "a plain file name is needed", "filename")
    if not content:
        raise Refusal("PUB-3", "the file is empty", "file")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise Refusal("PUB-3", f"larger than {MAX_DOCUMENT_BYTES // 2**20} MB", "file")
    if content_type == "application/pdf" and not content.startswith(b"%PDF-"):
        raise Refusal("PUB-3", "the file does not start like a PDF", "file")
    if content_type != "application/pdf":
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Refusal("PUB-3", "a text document must be UTF-8", "file") from error
