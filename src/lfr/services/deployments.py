"""Deployments (DEP-1, DEP-2, TRN-1): plan, assign, start, halt, end, cancel.

Starting runs the whole start rule and refuses with every unmet condition at once: DEP-1,
every camera without a source (REC-1) and what the machine's capacity refuses (REC-5, which
the caller measures outside the transaction and hands in); a start seals the watchlist.
Ending or cancelling destroys the watchlist's images and templates at once when the
retention policy says "at the end" (WL-6); otherwise `lfr retention run` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit.log import checkpoint_at_deployment_end
from lfr.db.governance import AssignmentRow, AuthorityRow, DeploymentRow, WatchlistRow
from lfr.db.people import User
from lfr.domain import deployment as rules
from lfr.domain.authorisation import outside_scope
from lfr.domain.deployment import Assignment, DeploymentStatus, StartContext
from lfr.domain.people import SYSTEM_ACTOR, Actor, Role
from lfr.domain.refusal import NotFound, Refusal, Refusals, Unmet
from lfr.domain.rules import blank
from lfr.reports.recognition import RecognitionConfig, resolve_recognition
from lfr.services import alerts, fleet, people, retention, reviews
from lfr.services._rows import audited, found, locked, moment
from lfr.services.authorisations import authority_of, locked_authority
from lfr.services.cameras import without_source
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import listed_entries, watchlist_for_authority


def places_of(row: DeploymentRow) -> tuple[str, ...]:
    return tuple(json.loads(row.places))


def cameras_of(row: DeploymentRow) -> tuple[str, ...]:
    return tuple(json.loads(row.cameras))


def assignments_of(row: DeploymentRow) -> list[Assignment]:
    return [Assignment(a.user_id, a.role) for a in row.assignments]


def plan_deployment(
    session: Session,
    actor: Actor,
    authority_id: str,
    places: Sequence[str],
    cameras: Sequence[str],
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> DeploymentRow:
    """The one deployment of an authority in force, at authorised places and cameras
    (WL-1, AUTH-6). Planned by the authority's applicant or a Gold/Silver commander."""
    authority, problems = locked_authority(session, authority_id, moment(now), policy)
    is_applicant = actor.user_id == authority.application.applicant_id
    if not (is_applicant or actor.has(Role.GOLD) or actor.has(Role.SILVER)):
        problems.append(Unmet("DEP-1", "the applicant, Gold or Silver plans it", "actor"))
    problems += rules.where_named_problems(places, cameras)
    problems += outside_scope(authority.scope, places=places, cameras=cameras)
    taken = session.scalars(
        select(DeploymentRow.id).where(DeploymentRow.authority_id == authority_id)
    ).first()
    if taken is not None:
        problems.append(Unmet("WL-1", "this authority already has its deployment", "authority"))
    if problems:
        raise Refusals(problems)
    row = DeploymentRow(
        authority_id=authority_id,
        status=DeploymentStatus.PLANNED,
        places=json.dumps(list(places)),
        cameras=json.dumps(list(cameras)),
        alert_threshold=authority.scope.alert_threshold,
        created_by=actor.user_id,
    )
    recognition = _resolve_recognition(row, policy, None)
    session.add(row)
    session.flush()
    audited(
        session,
        actor,
        row,
        "deployment.plan",
        f"deployment planned: {authority.application.title}",
        after={
            "places": list(places),
            "cameras": list(cameras),
            "recognition": recognition.model_dump(mode="json"),
        },
    )
    return row


def _resolve_recognition(
    row: DeploymentRow, policy: GovernancePolicy, watchlist: WatchlistRow | None
) -> RecognitionConfig:
    """Resolve the deployment's recognition configuration from its authority's threshold,
    the settings and the model's calibration, and store it with the row (REC-2, AUTH-2):
    when planned (to show), and final when started, for the sealed watchlist's size (the
    rule that runs depends on it)."""
    size = _gallery_size(watchlist) if watchlist is not None else None
    resolved = resolve_recognition(policy.recognition, row.alert_threshold, size)
    row.recognition = resolved.config.model_dump_json()
    row.calibration = resolved.calibration_text
    return resolved.config


def _gallery_size(watchlist: WatchlistRow) -> int:
    """The subjects the cameras search (`lfr.vision.matcher.Gallery`): watchlist entries
    with an image and blue-list entries with a template."""
    listed = sum(1 for entry in watchlist.entries if entry.images)
    return listed + sum(1 for blue in watchlist.blue_entries if blue.template is not None)


def assign(
    session: Session,
    actor: Actor,
    deployment_id: str,
    user_id: str,
    role: Role,
    *,
    now: datetime | None = None,
) -> AssignmentRow:
    """Assign a person in a role they hold and are trained for (TRN-1, DEP-1)."""
    at = moment(now)
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    person = people.to_actor(people.get_user(session, user_id))
    trained = people.is_trained(session, user_id, role, at)
    answerable = (row.created_by, _applicant_of(session, row))
    rules.check_assign(actor, row.status, person, role, trained, assignments_of(row), answerable)
    if any(a.user_id == user_id and a.role is role for a in row.assignments):
        raise Refusal("DEP-1", f"{person.name} is already assigned as {role.value}", "user_id")
    assignment = AssignmentRow(
        deployment_id=row.id, user_id=user_id, role=role, assigned_by=actor.user_id, assigned_at=at
    )
    session.add(assignment)
    session.flush()
    session.refresh(row, ["assignments"])
    audited(
        session,
        actor,
        row,
        "deployment.assign",
        f"{person.name} assigned as {role.value}",
        after={"user_id": user_id, "role": role},
    )
    return assignment


def _applicant_of(session: Session, row: DeploymentRow) -> str:
    return found(session, AuthorityRow, row.authority_id, "authority").application.applicant_id


def unassign(
    session: Session, actor: Actor, deployment_id: str, user_id: str, role: Role, reason: str
) -> None:
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    if not (actor.has(Role.GOLD) or actor.has(Role.SILVER)):
        raise Refusal("DEP-1", "Gold or Silver changes the staffing", "actor")
    answerable = (row.created_by, _applicant_of(session, row))
    if problems := rules.staffing_changer_problems(actor, assignments_of(row), answerable):
        raise Refusals(problems)
    if row.status.finished:
        raise Refusal("DEP-1", f"the deployment is {row.status.value}", "status")
    if blank(reason):
        raise Refusal("DEP-1", "say why", "reason")
    match = [a for a in row.assignments if a.user_id == user_id and a.role is role]
    if not match:
        raise NotFound("assignment", f"{user_id}/{role.value}")
    session.delete(match[0])
    session.flush()
    session.refresh(row, ["assignments"])
    audited(
        session,
        actor,
        row,
        "deployment.unassign",
        f"{role.value} assignment removed",
        after={"user_id": user_id, "role": role},
        reason=reason,
    )


def start_context(
    session: Session,
    row: DeploymentRow,
    at: datetime,
    policy: GovernancePolicy,
    capacity: Sequence[Unmet] = (),
) -> tuple[StartContext, WatchlistRow | None]:
    """Everything the start rule looks at, read from the database, with what the machine's
    capacity refuses (`capacity`, measured by the runtime: REC-5)."""
    watchlist = watchlist_for_authority(session, row.authority_id)
    assignments = assignments_of(row)
    user_ids = {a.user_id for a in assignments}
    users = session.scalars(select(User).where(User.id.in_(user_ids))).all() if user_ids else []
    context = StartContext(
        status=row.status,
        authority=authority_of(row.authority),
        places=places_of(row),
        cameras=cameras_of(row),
        watchlist=listed_entries(watchlist) if watchlist else [],
        watchlist_sealed=watchlist is not None and watchlist.sealed_at is not None,
        assignments=assignments,
        people={u.id: people.to_actor(u) for u in users},
        trained=frozenset(
            (a.user_id, a.role)
            for a in assignments
            if people.is_trained(session, a.user_id, a.role, at)
        ),
        urgent_validity=policy.urgent_validity,
        currency_limit=policy.currency_limit,
        watchlist_compiled=watchlist is not None,
        unsourced=without_source(session, cameras_of(row)),
        capacity=tuple(capacity),
    )
    return context, watchlist


def start_deployment(
    session: Session,
    actor: Actor,
    deployment_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
    capacity: Sequence[Unmet] = (),
) -> DeploymentRow:
    """Start when every condition holds, sealing the watchlist; else refuse naming every
    unmet condition at once: DEP-1's, each camera without a source (REC-1) and `capacity`,
    what the machine that would run the cameras cannot (REC-5: the runtime's
    `AdmissionCheck.unmet`, probed outside this transaction; empty where none runs here)."""
    at = moment(now)
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    context, watchlist = start_context(session, row, at, policy, capacity)
    rules.check_start(actor, context, at)  # the tested pure rule, every condition at once
    if watchlist is None:  # check_start refused this already (WL-1); narrows the type
        raise Refusal("WL-1", "no watchlist has been compiled", "watchlist")
    watchlist.sealed_at = at
    row.status, row.started_by, row.started_at = DeploymentStatus.RUNNING, actor.user_id, at
    recognition = _resolve_recognition(row, policy, watchlist)
    session.flush()
    audited(
        session,
        actor,
        watchlist,
        "watchlist.seal",
        f"watchlist sealed with {len(watchlist.entries)} entries",
        after={"entries": len(watchlist.entries), "blue_list": len(watchlist.blue_entries)},
    )
    audited(
        session,
        actor,
        row,
        "deployment.start",
        "deployment started",
        after={
            "status": row.status,
            "cameras": list(context.cameras),
            "recognition": recognition.model_dump(mode="json"),
        },
    )
    return row


def halt_deployment(
    session: Session, actor: Actor, deployment_id: str, reason: str, *, now: datetime | None = None
) -> DeploymentRow:
    """Silver (or Gold) halts at once, with a reason (DEP-2); alerts stop being accepted."""
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    rules.check_halt(actor, row.status, assignments_of(row), reason)
    _halt(session, actor, row, reason.strip(), moment(now))
    return row


def _halt(session: Session, actor: Actor, row: DeploymentRow, reason: str, at: datetime) -> None:
    row.halted_by, row.halted_at, row.halt_reason = actor.user_id, at, reason
    fleet.owe_halt(session, row, reason, at)
    _set_status(session, actor, row, DeploymentStatus.HALTED, "deployment.halt", reason)
    # A halt is final for processing (DEP-2): what it did is reviewable now, not only once
    # someone presses End, which then finds this review open (REV-1).
    reviews.open_review(session, row, at)


def _set_status(
    session: Session,
    actor: Actor,
    row: DeploymentRow,
    status: DeploymentStatus,
    action: str,
    reason: str | None,
) -> None:
    """Move the deployment to `status` and audit it in the same transaction (DEP-2, AUD-1)."""
    row.status = status
    session.flush()
    audited(
        session,
        actor,
        row,
        action,
        f"deployment {status.value}",
        after={"status": status},
        reason=reason,
    )


def end_deployment(
    session: Session,
    actor: Actor,
    deployment_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> DeploymentRow:
    """End a running or halted deployment; its biometrics go per the retention policy (WL-6)."""
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    rules.check_end(actor, row.status, assignments_of(row))
    _finish(session, actor, row, DeploymentStatus.ENDED, None, moment(now), policy)
    return row


def cancel_deployment(
    session: Session,
    actor: Actor,
    deployment_id: str,
    reason: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> DeploymentRow:
    """Cancel a planned deployment, reporting why (DEP-2); its watchlist is destroyed (WL-6)."""
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    rules.check_cancel(actor, row.status, assignments_of(row), reason, row.created_by)
    _finish(session, actor, row, DeploymentStatus.CANCELLED, reason.strip(), moment(now), policy)
    return row


def _finish(
    session: Session,
    actor: Actor,
    row: DeploymentRow,
    status: DeploymentStatus,
    reason: str | None,
    at: datetime,
    policy: GovernancePolicy,
) -> None:
    if row.status is DeploymentStatus.RUNNING:  # its nodes must stop too (DEP-2)
        fleet.owe_halt(session, row, reason or "the deployment ended", at)
    # The system (a window's end, a lapse) is no account: the audit entry names it.
    finished_by = None if actor is SYSTEM_ACTOR else actor.user_id
    row.finished_by, row.finished_at, row.cancel_reason = finished_by, at, reason
    _set_status(
        session,
        actor,
        row,
        status,
        f"deployment.{'end' if status is DeploymentStatus.ENDED else 'cancel'}",
        reason,
    )
    if status is DeploymentStatus.ENDED:
        alerts.close_undecided_alerts(session, actor, row.id, at)  # counted by the review
        reviews.open_review(session, row, at)  # REV-1; already open if it was halted first
    retention_policy = policy.retention
    if not retention_policy.biometric_grace:
        watchlist = watchlist_for_authority(session, row.authority_id)
        if watchlist is not None:
            retention.destroy_biometrics(
                session, actor, watchlist, at, f"deployment {status.value}"
            )
    if status is DeploymentStatus.ENDED:
        # Every end pins the record, whoever ended it (a person, or its window's end).
        checkpoint_at_deployment_end(session)


def stop_for_veto(
    session: Session, actor: Actor, authority_id: str, at: datetime, policy: GovernancePolicy
) -> None:
    """AUTH-4: a chief officer's veto stops the deployment: cancelled if planned, halted at
    once if running. (Called by the consultation service, in its transaction.)"""
    row = session.scalars(
        select(DeploymentRow)
        .where(DeploymentRow.authority_id == authority_id)
        .with_for_update(of=DeploymentRow)
    ).one_or_none()
    if row is None:
        return
    reason = "vetoed by a chief officer (AUTH-4)"
    if row.status is DeploymentStatus.RUNNING:
        _halt(session, actor, row, reason, at)
    elif row.status is DeploymentStatus.PLANNED:
        _finish(session, actor, row, DeploymentStatus.CANCELLED, reason, at, policy)


def running_deployments(session: Session) -> list[DeploymentRow]:
    return list(
        session.scalars(
            select(DeploymentRow).where(DeploymentRow.status == DeploymentStatus.RUNNING)
        )
    )


def verdict(
    session: Session, row: DeploymentRow, at: datetime, policy: GovernancePolicy
) -> rules.RunVerdict:
    """Whether the record says this deployment's recognition runs now (the reconciler's
    one predicate, `lfr.domain.deployment.run_verdict`)."""
    watchlist = watchlist_for_authority(session, row.authority_id)
    return rules.run_verdict(
        row.status,
        authority_of(row.authority),
        watchlist is not None and watchlist.sealed_at is not None,
        at,
        policy.urgent_validity,
    )


def end_out_of_force(
    session: Session,
    deployment_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> DeploymentRow | None:
    """End a running deployment whose authority has gone out of force (its window ended,
    an urgent authority lapsed unconfirmed: AUTH-1, AUTH-3), by the system, with the rule
    as the reason; None when it is in force or no longer running."""
    at = moment(now)
    row = locked(session, DeploymentRow, deployment_id, "deployment")
    stop = verdict(session, row, at, policy).stop
    if stop is None:
        return None
    reason = f"{stop.rule}: {stop.reason}"
    _finish(session, SYSTEM_ACTOR, row, DeploymentStatus.ENDED, reason, at, policy)
    return row


def count_refused_alert(session: Session, deployment_id: str) -> None:
    """One more alert refused because it was captured after the deployment stopped."""
    row = session.get(DeploymentRow, deployment_id)
    if row is not None:
        row.refused_alerts += 1
        session.flush()


def get_deployment(session: Session, deployment_id: str) -> DeploymentRow:
    return found(session, DeploymentRow, deployment_id, "deployment")


def start_checklist(
    session: Session,
    deployment_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
    capacity: Sequence[Unmet] = (),
) -> list[Unmet]:
    """The start checklist as it stands (for the page that shows Silver what is missing):
    the conditions `start_deployment` checks, less who is asking."""
    at = moment(now)
    row = get_deployment(session, deployment_id)
    context, _ = start_context(session, row, at, policy, capacity)
    return rules.start_problems(context, at)
