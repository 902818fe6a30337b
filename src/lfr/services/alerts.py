"""Alerts and their adjudication (ADJ-1..4, REC-6, DP-3).

An alert is created from a `MatchEvent` of a running deployment only. An operator claims
it with a conditional UPDATE that must change exactly one row, so two operators racing for
one alert cannot both win; the claiming operator refers or dismisses; an engagement officer
of the deployment engages or not and records the outcome. Nothing is done to a person by
the software: the only transitions are these human decisions (ADJ-4).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lfr.db.governance import (
    AlertProbeRow,
    AlertRow,
    BlueListEntryRow,
    DeploymentRow,
    WatchlistEntryRow,
    WatchlistRow,
)
from lfr.db.session import SessionFactory
from lfr.domain import alerts as rules
from lfr.domain.alerts import Action, Alert, AlertState, Outcome
from lfr.domain.authorisation import authority_problems
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import SYSTEM_ACTOR, Actor, Role
from lfr.domain.refusal import NotFound, Refusal, Refusals, Unmet
from lfr.domain.retention import check_hold
from lfr.reports.recognition import recognition_of, stored_calibration
from lfr.services._rows import audited, changed_rows, found, locked, moment
from lfr.services.access import readable_alert, view_biometric
from lfr.services.authorisations import authority_of
from lfr.services.policy import GovernancePolicy
from lfr.vision.types import ListKind, MatchEvent

# --- creating ------------------------------------------------------------------------------


def create_alert(
    session: Session,
    event: MatchEvent,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> AlertRow:
    """Store an alert from a running deployment's match (REC-2, ADJ-1), idempotently: the
    bus may deliver an event twice, and the second delivery returns the first alert.

    The deployment must be running under an authority still in force, inside its window
    (DEP-1): an urgent authority that lapsed mid-deployment raises no more alerts."""
    existing = session.scalars(
        select(AlertRow).where(AlertRow.event_id == str(event.event_id))
    ).one_or_none()
    if existing is not None:
        return existing
    at = moment(now)
    deployment = _running_deployment(session, event)
    late = deployment.status is not DeploymentStatus.RUNNING
    # A late alert is judged as of its capture: the authority was in force then.
    _check_authority(deployment, event.captured_at if late else at, policy)
    _check_subject(session, deployment, event)
    false_match_rate, calibration_sha256 = _score_meaning(deployment, event.score)
    row = AlertRow(
        event_id=str(event.event_id),
        deployment_id=deployment.id,
        camera=event.camera,
        track_id=event.track_id,
        subject_id=event.subject_id,
        list_kind=event.list_kind,
        is_test=event.list_kind is ListKind.BLUE_LIST,
        score=event.score,
        threshold=event.threshold,
        false_match_rate=false_match_rate,
        calibration_sha256=calibration_sha256,
        observations=event.observations,
        factors=json.dumps(_factors(event), sort_keys=True),
        first_seen=event.first_seen,
        captured_at=event.captured_at,
        emitted_at=event.emitted_at,
        created_at=at,
        late=late,
        state=AlertState.PENDING,
        probe=AlertProbeRow(jpeg=event.probe_jpeg),
    )
    session.add(row)
    session.flush()
    audited(
        session,
        SYSTEM_ACTOR,
        row,
        "alert.create",
        f"{'late ' if late else ''}{'test ' if row.is_test else ''}alert on {row.camera}, "
        f"score {row.score:.3f}",
        after={
            "deployment_id": deployment.id,
            "subject_id": row.subject_id,
            "score": row.score,
            "false_match_rate": false_match_rate,
            "calibration_sha256": calibration_sha256,
            "late": late,
        },
    )
    return row


def _factors(event: MatchEvent) -> dict[str, object]:
    """What affects accuracy, shown with the alert (ADJ-1); never an image."""
    return {
        "quality": event.quality.model_dump(),
        "box": event.box.model_dump(),
        "candidates": [c.model_dump() for c in event.candidates],
    }


def _running_deployment(session: Session, event: MatchEvent) -> DeploymentRow:
    if event.deployment_id is None:
        raise Refusal("DEP-2", "the event names no deployment", "deployment_id")
    deployment = session.get(DeploymentRow, event.deployment_id)
    if deployment is None:
        raise NotFound("deployment", event.deployment_id)
    if deployment.status is not DeploymentStatus.RUNNING:
        _check_captured_while_running(deployment, event)
    if event.camera not in json.loads(deployment.cameras):
        raise Refusal("AUTH-6", f"camera {event.camera} is not the deployment's", "camera")
    if event.score < event.threshold:
        raise Refusal("REC-2", "below the authorised alert threshold", "score")
    floor = recognition_of(deployment).threshold
    if event.threshold < floor:
        raise Refusal("REC-2", f"the deployment's alert threshold is {floor:g}", "threshold")
    return deployment


def _score_meaning(deployment: DeploymentRow, score: float) -> tuple[float | None, str | None]:
    """The false-match rate of `score` and the SHA-256 of the calibration it was read
    with: the deployment's own (stored with it when it started), so an alert's "1 in N"
    says what it said when it was raised, whatever the settings say later."""
    calibration = stored_calibration(deployment)
    if calibration is None:
        return None, None
    return calibration.false_match_rate(score), recognition_of(deployment).calibration_sha256


class CapturedAfterStopError(Refusal):
    """An alert whose frame was captured after its deployment stopped: refused and
    counted on the deployment (DEP-2)."""


CLOCK_SKEW_S = 5.0
"""How far ahead of the service's clock a node's capture time may be and still count."""


def _check_captured_while_running(deployment: DeploymentRow, event: MatchEvent) -> None:
    """An alert arriving after a halt or end is stored (as late) only if its frame was
    captured while the deployment ran: a node cut off from the link keeps what it saw
    (docs/bus.md); what it saw after the halt does not count."""
    stopped_at = deployment.halted_at or deployment.finished_at
    started_at = deployment.started_at
    if stopped_at is None or started_at is None:
        raise Refusal("DEP-2", f"the deployment is {deployment.status.value}", "deployment_id")
    captured = event.captured_at
    if not started_at <= captured < stopped_at:
        raise CapturedAfterStopError(
            "DEP-2", f"captured after the deployment was {deployment.status.value}", "captured_at"
        )
    if captured > moment(None) + timedelta(seconds=CLOCK_SKEW_S):
        raise Refusal("DEP-2", "captured in the future: the node's clock is wrong", "captured_at")


def _check_authority(deployment: DeploymentRow, at: datetime, policy: GovernancePolicy) -> None:
    authority = authority_of(deployment.authority)
    problems = authority_problems(authority, at, policy.urgent_validity)
    if not authority.scope.window.contains(at):
        problems.append(Unmet("DEP-1", "outside the authorised window", "window"))
    if problems:
        raise Refusals(problems)


def _check_subject(session: Session, deployment: DeploymentRow, event: MatchEvent) -> None:
    """The matched subject is on this deployment's own (sealed) list (WL-1)."""
    watchlist_id = select(WatchlistRow.id).where(
        WatchlistRow.authority_id == deployment.authority_id
    )
    model: type[WatchlistEntryRow] | type[BlueListEntryRow] = (
        BlueListEntryRow if event.list_kind is ListKind.BLUE_LIST else WatchlistEntryRow
    )
    match = session.scalars(
        select(model.id).where(model.id == event.subject_id, model.watchlist_id.in_(watchlist_id))
    ).first()
    if match is None:
        raise Refusal("WL-1", "the subject is not on this deployment's list", "subject_id")


# --- adjudication --------------------------------------------------------------------------


def view(row: AlertRow) -> Alert:
    """The domain alert the state machine reads."""
    return Alert(
        state=row.state,
        is_test=row.is_test,
        claimed_by=row.claimed_by,
        referred_by=row.referred_by,
        decided_by=row.decided_by,
    )


def _assigned(session: Session, row: AlertRow, actor: Actor, role: Role) -> None:
    deployment = found(session, DeploymentRow, row.deployment_id, "deployment")
    if not any(a.user_id == actor.user_id and a.role is role for a in deployment.assignments):
        raise Refusal("DEP-1", f"not assigned to this deployment as {role.value}", "actor")


def _record(
    session: Session, actor: Actor, row: AlertRow, action: str, reason: str | None = None
) -> None:
    audited(
        session,
        actor,
        row,
        f"alert.{action}",
        f"alert {action.replace('_', ' ')} ({row.camera})",
        after={"state": row.state},
        reason=reason,
    )


def claim_alert(
    session: Session, actor: Actor, alert_id: str, *, now: datetime | None = None
) -> AlertRow:
    """An operator of the deployment takes a pending alert (ADJ-2). The UPDATE changes the
    row only while it is pending and unclaimed: of two racing operators exactly one wins."""
    row = found(session, AlertRow, alert_id, "alert")
    rules.claim(view(row), actor)
    _assigned(session, row, actor, Role.OPERATOR)
    if row.claimed_by == actor.user_id:
        return row
    changed = changed_rows(
        session,
        update(AlertRow)
        .where(
            AlertRow.id == alert_id,
            AlertRow.state == AlertState.PENDING,
            AlertRow.claimed_by.is_(None),
        )
        .values(claimed_by=actor.user_id, claimed_at=moment(now))
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        raise Refusal("ADJ-2", "another operator has claimed it", "claimed_by")
    session.refresh(row)
    _record(session, actor, row, "claim")
    return row


def refer_alert(
    session: Session, actor: Actor, alert_id: str, *, now: datetime | None = None
) -> AlertRow:
    """The claiming operator refers to the engagement officers; never a test (ADJ-2, REC-6)."""
    row = locked(session, AlertRow, alert_id, "alert")
    after = rules.refer(view(row), actor)
    row.state, row.referred_by, row.referred_at = after.state, actor.user_id, moment(now)
    _record(session, actor, row, "refer")
    return row


def dismiss_alert(
    session: Session, actor: Actor, alert_id: str, reason: str, *, now: datetime | None = None
) -> AlertRow:
    """The claiming operator dismisses it, saying why (ADJ-2)."""
    decide = partial(rules.dismiss, actor=actor, reason=reason)
    return _decide(session, actor, alert_id, "dismiss", decide, reason, now)


def engage_alert(
    session: Session, actor: Actor, alert_id: str, *, now: datetime | None = None
) -> AlertRow:
    """An engagement officer of the deployment decides to engage (ADJ-3)."""
    decide = partial(rules.engage, actor=actor)
    return _decide(session, actor, alert_id, "engage", decide, None, now, Role.ENGAGEMENT_OFFICER)


def decline_alert(
    session: Session, actor: Actor, alert_id: str, reason: str, *, now: datetime | None = None
) -> AlertRow:
    """An engagement officer of the deployment decides not to engage, saying why (ADJ-3)."""
    decide = partial(rules.decline, actor=actor, reason=reason)
    return _decide(
        session, actor, alert_id, "decline", decide, reason, now, Role.ENGAGEMENT_OFFICER
    )


def _decide(
    session: Session,
    actor: Actor,
    alert_id: str,
    action: str,
    decide: Callable[[Alert], Alert],
    reason: str | None,
    now: datetime | None,
    assigned_as: Role | None = None,
) -> AlertRow:
    """A final decision on a locked alert: the state machine's rule first, then (for the
    engagement officers) the deployment's staffing, then the change and its audit entry."""
    row = locked(session, AlertRow, alert_id, "alert")
    after = decide(view(row))
    if assigned_as is not None:
        _assigned(session, row, actor, assigned_as)
    row.state, row.decided_by, row.decided_at = after.state, actor.user_id, moment(now)
    row.decision_reason = reason.strip() if reason else None
    _record(session, actor, row, action, row.decision_reason)
    return row


def record_alert_outcome(
    session: Session, actor: Actor, alert_id: str, outcome: Outcome, *, now: datetime | None = None
) -> AlertRow:
    """The engaging officer records what happened (ADJ-3)."""
    row = locked(session, AlertRow, alert_id, "alert")
    after = rules.record_outcome(view(row), actor, outcome)
    row.state, row.concluded_at = after.state, moment(now)
    row.outcome_identity = outcome.identity
    row.outcome_actions = ",".join(sorted(a.value for a in outcome.actions))
    row.outcome_notes = outcome.notes.strip() or None
    audited(
        session,
        actor,
        row,
        "alert.outcome",
        f"alert outcome: identity {outcome.identity.value}",
        after={"identity": outcome.identity, "actions": sorted(outcome.actions)},
        reason=row.outcome_notes,
    )
    return row


def close_undecided_alerts(session: Session, actor: Actor, deployment_id: str, at: datetime) -> int:
    """At the deployment's end: every alert still awaiting a decision is closed as not
    adjudicated, each audited in the ending's transaction; how many (`rules.close_undecided`)."""
    rows = session.scalars(
        select(AlertRow)
        .where(AlertRow.deployment_id == deployment_id, AlertRow.state.in_(rules.UNDECIDED))
        .order_by(AlertRow.id)
        .with_for_update()
    ).all()
    for row in rows:
        row.state = rules.close_undecided(view(row)).state
        row.decided_at, row.decision_reason = at, rules.NOT_ADJUDICATED_REASON
        _record(session, actor, row, "close_undecided", rules.NOT_ADJUDICATED_REASON)
    return len(rows)


def outcome_of(row: AlertRow) -> Outcome | None:
    if row.outcome_identity is None:
        return None
    actions = frozenset(Action(a) for a in (row.outcome_actions or "").split(",") if a)
    return Outcome(row.outcome_identity, actions, row.outcome_notes or "")


def hold_alert(
    session: Session,
    actor: Actor,
    alert_id: str,
    reason: str,
    review_on: date,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> AlertRow:
    """Keep an alert for an investigation past its period, until a review date (DP-3)."""
    row = locked(session, AlertRow, alert_id, "alert")
    retention = policy.retention
    hold = check_hold(actor, reason, review_on, moment(now).date(), retention)
    row.hold_by, row.hold_reason, row.hold_review_on = hold.decided_by, hold.reason, review_on
    audited(
        session,
        actor,
        row,
        "alert.hold",
        f"alert held for an investigation until review on {review_on.isoformat()}",
        after={"review_on": review_on.isoformat()},
        reason=hold.reason,
    )
    return row


PROBE_VIEWER_ROLES = frozenset(
    {Role.OPERATOR, Role.ENGAGEMENT_OFFICER, Role.SILVER, Role.GOLD, Role.REVIEWER}
)


AFTER_REFERRAL_ROLES = frozenset({Role.ENGAGEMENT_OFFICER})
"""Roles that see a probe only once an operator has referred the alert (ADJ-2): before
that, nobody has decided that this passer-by is worth an officer's attention."""


def probe_image(session: Session, actor: Actor, alert_id: str) -> bytes:
    """The alert's probe crop, for the people who adjudicate it or review it, and only of
    an alert they may read (DP-2); an engagement officer only after referral (ADJ-2). To
    show it, use `view_probe_image`, which records the view (AUD-1)."""
    if not actor.roles & PROBE_VIEWER_ROLES:
        raise Refusal("DP-2", "biometric data is shown by role only", "actor")
    row = readable_alert(session, actor, alert_id)
    if not may_see_probe(actor, row):
        raise Refusal("ADJ-2", "the probe is shown once the alert is referred", "alert")
    return row.probe.jpeg


def may_see_probe(actor: Actor, row: AlertRow) -> bool:
    """Whether this reader of the alert may see its probe now (DP-2 by role; ADJ-2: an
    engagement officer only once an operator has referred it), so a page offers only the
    images its reader may open."""
    if not actor.roles & PROBE_VIEWER_ROLES:
        return False
    only_after_referral = not actor.roles & (PROBE_VIEWER_ROLES - AFTER_REFERRAL_ROLES)
    return not only_after_referral or row.referred_at is not None


def alerts_by_state(session: Session, deployment_id: str) -> dict[AlertState, int]:
    """How many of a deployment's alerts are in each state, every state named (zero
    included), for its commanders' dashboard."""
    counted = session.execute(
        select(AlertRow.state, func.count())
        .where(AlertRow.deployment_id == deployment_id)
        .group_by(AlertRow.state)
    )
    tally = dict.fromkeys(AlertState, 0)
    for state, count in counted:
        tally[state] = count
    return tally


def view_probe_image(factory: SessionFactory, actor: Actor, alert_id: str) -> bytes:
    """`probe_image`, and the record that this person opened it (AUD-1)."""
    return view_biometric(
        factory,
        actor,
        lambda session: probe_image(session, actor, alert_id),
        object_type="alert",
        object_id=alert_id,
        what="probe image",
    )
