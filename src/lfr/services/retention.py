"""Retention (DP-1, DP-3, WL-6): delete what is due and audit each deletion.

`run_retention` is what `lfr retention run` (and a scheduler) calls; the decisions are
`lfr.domain.retention`'s. Each deletion writes its own audit entry naming what went and
under which rule; the entries carry no biometric and no probe image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from lfr.audit import AuditEntry, record
from lfr.audit.log import lock_head
from lfr.db.governance import (
    AlertRow,
    AuthorityRow,
    BlueListEntryRow,
    DeploymentRow,
    WatchlistEntryRow,
    WatchlistImageRow,
    WatchlistRow,
)
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import SYSTEM_ACTOR, Actor
from lfr.domain.retention import Hold, alert_due, biometrics_due
from lfr.services._rows import audited, changed_rows, moment
from lfr.services.policy import GovernancePolicy


@dataclass(frozen=True, slots=True)
class RetentionReport:
    alerts_deleted: int
    watchlists_destroyed: int
    images_destroyed: int


def destroy_biometrics(
    session: Session, actor: Actor, watchlist: WatchlistRow, at: datetime, why: str
) -> int:
    """WL-6: delete the watchlist's images and templates and the blue list's; audited.

    Entries (reference, category, reason) stay for the review; nothing biometric does.
    Returns how many images went."""
    if watchlist.biometrics_destroyed_at is not None:
        return 0
    entry_ids = select(WatchlistEntryRow.id).where(WatchlistEntryRow.watchlist_id == watchlist.id)
    images = changed_rows(
        session, delete(WatchlistImageRow).where(WatchlistImageRow.entry_id.in_(entry_ids))
    )
    blue = changed_rows(
        session,
        update(BlueListEntryRow)
        .where(BlueListEntryRow.watchlist_id == watchlist.id, BlueListEntryRow.image.is_not(None))
        .values(image=None, template=None),
    )
    watchlist.biometrics_destroyed_at = at
    session.flush()
    session.expire(watchlist)
    audited(
        session,
        actor,
        watchlist,
        "watchlist.destroy_biometrics",
        f"watchlist images and templates destroyed ({images} images, {blue} blue list)",
        after={"images": images, "blue_list": blue},
        reason=f"WL-6: {why}",
    )
    return images + blue


def due_watchlists(session: Session, at: datetime, policy: GovernancePolicy) -> list[WatchlistRow]:
    rows = session.execute(
        select(WatchlistRow, DeploymentRow, AuthorityRow.window_end)
        .join(AuthorityRow, AuthorityRow.id == WatchlistRow.authority_id)
        .outerjoin(DeploymentRow, DeploymentRow.authority_id == WatchlistRow.authority_id)
        .where(WatchlistRow.biometrics_destroyed_at.is_(None))
    ).all()
    due = []
    for watchlist, deployment, window_end in rows:
        status = deployment.status if deployment else DeploymentStatus.PLANNED
        finished_at = deployment.finished_at if deployment else None
        if biometrics_due(status, finished_at, window_end, at, policy.retention):
            due.append(watchlist)
    return due


def due_alerts(session: Session, at: datetime, policy: GovernancePolicy) -> list[AlertRow]:
    oldest_kept = at - timedelta(days=policy.retention.alert_days)
    candidates = session.scalars(select(AlertRow).where(AlertRow.created_at <= oldest_kept))
    return [
        row for row in candidates if alert_due(row.created_at, hold_of(row), at, policy.retention)
    ]


def hold_of(row: AlertRow) -> Hold | None:
    if row.hold_by is None or row.hold_review_on is None:
        return None
    return Hold(row.hold_by, row.hold_reason or "", row.hold_review_on)


def _delete_alert(session: Session, row: AlertRow, policy: GovernancePolicy) -> None:
    audited(
        session,
        SYSTEM_ACTOR,
        row,
        "alert.delete",
        f"alert deleted (deployment {row.deployment_id}, {row.state.value})",
        after={"created_at": row.created_at, "state": row.state},
        reason=f"DP-1: kept {policy.retention.alert_days} days",
    )
    session.delete(row)


def run_retention(
    session: Session, *, now: datetime | None = None, policy: GovernancePolicy
) -> RetentionReport:
    """Delete every alert and every watchlist biometric that is due at `now` (DP-1, WL-6)."""
    at, chosen = moment(now), policy
    images = watchlists = 0
    for watchlist in due_watchlists(session, at, chosen):
        images += destroy_biometrics(session, SYSTEM_ACTOR, watchlist, at, "retention run")
        watchlists += 1
    alerts = due_alerts(session, at, chosen)
    for alert in alerts:
        _delete_alert(session, alert, chosen)
    session.flush()
    return RetentionReport(len(alerts), watchlists, images)


RUN_ACTION = "retention.run"
"""The audit action of one whole retention run (each deletion has its own entry too)."""


def last_retention_run(session: Session) -> datetime | None:
    """When retention last ran, from the audit log (DP-1: shown by the review and checks)."""
    return session.scalar(select(func.max(AuditEntry.time)).where(AuditEntry.action == RUN_ACTION))


def run_retention_if_due(
    session: Session,
    *,
    interval: timedelta,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> RetentionReport | None:
    """What a scheduler calls as often as it likes: a retention run when `interval` has
    passed since the last recorded one (or none ran yet), itself recorded as one audit
    entry with what it deleted; None when not yet due. `lfr retention run` calls it with an
    interval of zero.

    "Due?" is decided holding the audit chain's head (which the run's audit entry takes
    anyway): of two instances asking at once, the second waits and then sees the first's
    run, so a period has one run however many instances serve."""
    at = moment(now)
    lock_head(session)
    last = last_retention_run(session)
    if last is not None and at - last < interval:
        return None
    report = run_retention(session, now=at, policy=policy)
    record(
        session,
        actor=SYSTEM_ACTOR,
        action=RUN_ACTION,
        object_type="retention",
        object_id="run",
        summary=(
            f"retention run: {report.alerts_deleted} alert(s) deleted, "
            f"{report.watchlists_destroyed} watchlist(s) destroyed"
        ),
        after=asdict(report),
    )
    return report
