"""What an alert card shows (ADJ-1): probe beside the watchlist image, score against the
threshold, the factors that affect accuracy, the camera, times and the listed reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import AlertRow, BlueListEntryRow, WatchlistEntryRow, WatchlistImageRow
from lfr.db.people import User
from lfr.db.session import SessionFactory, reading
from lfr.domain.alerts import AlertState
from lfr.domain.people import Actor, Role
from lfr.services.access import (
    assigned_deployment_ids,
    may_read_alert,
    may_see_entry_image,
    readable_alert,
)
from lfr.services.alerts import may_see_probe
from lfr.vision.calibration import one_in
from lfr.vision.types import ListKind
from lfr.web.live import LiveMessage


@dataclass(frozen=True, slots=True)
class AlertCard:
    id: str
    deployment_id: str
    camera: str
    state: AlertState
    is_test: bool
    score: float
    threshold: float
    score_one_in: str | None
    """How rarely a stranger scores this high ("1 in 57,000"), as read when the alert was
    stored; None without a calibration."""
    calibration_sha256: str | None
    """The calibration that gave `score_one_in`."""
    observations: int
    captured_at: datetime
    emitted_at: datetime
    created_at: datetime
    subject_reference: str
    category: str
    reason: str
    has_watchlist_image: bool
    watchlist_image_age_days: int | None
    quality: dict[str, Any]
    face_px: int | None
    claimed_by_me: bool
    claimed_by_other: bool
    outcome: str | None
    subject_id: str
    deployment_title: str
    places: tuple[str, ...]


def card_of(session: Session, row: AlertRow, actor: Actor) -> AlertCard:
    factors = json.loads(row.factors)
    reference, category, reason, image_age, has_image = _subject(session, row)
    title, places = _deployment(session, row.deployment_id)
    box = factors.get("box") or {}
    return AlertCard(
        id=row.id,
        deployment_id=row.deployment_id,
        camera=row.camera,
        state=row.state,
        is_test=row.is_test,
        score=row.score,
        threshold=row.threshold,
        score_one_in=_one_in(row.false_match_rate),
        calibration_sha256=row.calibration_sha256,
        observations=row.observations,
        captured_at=row.captured_at,
        emitted_at=row.emitted_at,
        created_at=row.created_at,
        subject_reference=reference,
        category=category,
        reason=reason,
        has_watchlist_image=has_image,
        watchlist_image_age_days=image_age,
        quality=factors.get("quality") or {},
        face_px=(box.get("bottom", 0) - box.get("top", 0)) or None,
        claimed_by_me=row.claimed_by == actor.user_id,
        claimed_by_other=row.claimed_by is not None and row.claimed_by != actor.user_id,
        outcome=_outcome_text(row),
        subject_id=row.subject_id,
        deployment_title=title,
        places=places,
    )


def _one_in(false_match_rate: float | None) -> str | None:
    return one_in(false_match_rate) if false_match_rate is not None else None


@dataclass(frozen=True, slots=True)
class ImagesShown:
    """Which of an alert's two images this reader may open (DP-2; ADJ-2: an engagement
    officer sees the probe only once referred)."""

    probe: bool
    watchlist: bool


def images_shown(db: SessionFactory, actor: Actor, alert_id: str) -> ImagesShown:
    with reading(db) as session:
        row = readable_alert(session, actor, alert_id)
        entry = session.get(WatchlistEntryRow, row.subject_id)
        return ImagesShown(
            probe=may_see_probe(actor, row),
            watchlist=entry is not None and may_see_entry_image(session, actor, entry),
        )


def _deployment(session: Session, deployment_id: str) -> tuple[str, tuple[str, ...]]:
    """The deployment's name and places, so a card says where the alert happened."""
    from lfr.db.governance import DeploymentRow
    from lfr.services.deployments import places_of

    row = session.get(DeploymentRow, deployment_id)
    if row is None:
        return ("", ())
    return (row.authority.application.title, places_of(row))


def readable_card(db: SessionFactory, actor: Actor, alert_id: str) -> AlertCard:
    """One alert's card, if this person may read the alert (else `NotFound`: no IDOR)."""
    with reading(db) as session:
        return card_of(session, readable_alert(session, actor, alert_id), actor)


def _subject(session: Session, row: AlertRow) -> tuple[str, str, str, int | None, bool]:
    if row.list_kind is ListKind.BLUE_LIST:
        blue = session.get(BlueListEntryRow, row.subject_id)
        return (
            "blue list (test)",
            "live test",
            blue.consent_statement if blue else "",
            None,
            False,
        )
    entry = session.get(WatchlistEntryRow, row.subject_id)
    if entry is None:  # biometrics destroyed after the deployment (WL-6)
        return ("(entry destroyed)", "", "", None, False)
    image = session.scalars(
        select(WatchlistImageRow.created_at).where(WatchlistImageRow.entry_id == entry.id)
    ).first()
    age = (row.created_at - image).days if image is not None else None
    return (entry.subject_reference, entry.category.label, entry.reason, age, image is not None)


def _outcome_text(row: AlertRow) -> str | None:
    if row.outcome_identity is None:
        return row.decision_reason
    actions = (row.outcome_actions or "").replace(",", ", ").replace("_", " ")
    text = f"identity {row.outcome_identity.value.replace('_', ' ')}"
    return f"{text}; {actions}" if actions else text


def console_alerts(session: Session, actor: Actor) -> list[AlertRow]:
    """Alerts waiting for scrutiny on the deployments this person watches."""
    deployments = assigned_deployment_ids(session, actor, [Role.OPERATOR, Role.SILVER])
    if not deployments:
        return []
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.deployment_id.in_(deployments), AlertRow.state == AlertState.PENDING)
            .order_by(AlertRow.created_at.desc())
            .limit(100)
        )
    )


def console_history(session: Session, actor: Actor, limit: int = 50) -> list[AlertRow]:
    """Alerts already scrutinised on the deployments this person watches, newest first:
    what happened after each referral (engaged, outcome) or why it was dismissed."""
    deployments = assigned_deployment_ids(session, actor, [Role.OPERATOR, Role.SILVER])
    if not deployments:
        return []
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.deployment_id.in_(deployments), AlertRow.state != AlertState.PENDING)
            .order_by(AlertRow.created_at.desc())
            .limit(limit)
        )
    )


def handheld_alerts(session: Session, actor: Actor) -> list[AlertRow]:
    """Referred alerts of this engagement officer's deployments, and those they engaged
    that still need an outcome."""
    deployments = assigned_deployment_ids(session, actor, [Role.ENGAGEMENT_OFFICER])
    if not deployments:
        return []
    waiting = (AlertRow.state == AlertState.REFERRED) | (
        (AlertRow.state == AlertState.ENGAGED) & (AlertRow.decided_by == actor.user_id)
    )
    return list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.deployment_id.in_(deployments), waiting)
            .order_by(AlertRow.created_at.desc())
            .limit(50)
        )
    )


def camera_views(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(deployment, camera) of the running deployments this person watches."""
    from lfr.db.governance import DeploymentRow
    from lfr.domain.deployment import DeploymentStatus
    from lfr.services.deployments import cameras_of

    ids = assigned_deployment_ids(session, actor, [Role.OPERATOR, Role.SILVER])
    if not ids:
        return []
    rows = session.scalars(
        select(DeploymentRow).where(
            DeploymentRow.id.in_(ids), DeploymentRow.status == DeploymentStatus.RUNNING
        )
    )
    return [(row.id, camera) for row in rows for camera in cameras_of(row)]


def commanded_live_deployments(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(id, title) of the running or halted deployments this person commands, for the
    console's way to their dashboards."""
    from lfr.db.governance import DeploymentRow
    from lfr.domain.deployment import COMMAND_ROLES, DeploymentStatus

    ids = assigned_deployment_ids(session, actor, COMMAND_ROLES)
    live = (DeploymentStatus.RUNNING, DeploymentStatus.HALTED)
    rows = session.scalars(
        select(DeploymentRow)
        .where(DeploymentRow.id.in_(ids), DeploymentRow.status.in_(live))
        .order_by(DeploymentRow.created_at.desc())
    )
    return [(row.id, row.authority.application.title) for row in rows]


def alerts_visible_to(db: SessionFactory, actor: Actor) -> Callable[[LiveMessage], Awaitable[bool]]:
    """An event stream's filter: only alerts this person may read reach their browser (an
    alert id of another deployment is never sent), and nothing once their account is
    disabled."""

    def readable(alert_id: str) -> bool:
        with reading(db) as session:
            user = session.get(User, actor.user_id)
            row = session.get(AlertRow, alert_id)
            active = user is not None and user.active
            return active and row is not None and may_read_alert(session, actor, row)

    async def visible(message: LiveMessage) -> bool:
        alert_id = (message.dom_id or "").partition("-")[2]
        return bool(alert_id) and await asyncio.to_thread(readable, alert_id)

    return visible
