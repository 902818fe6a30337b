"""Applications and authorities (AUTH-1..6): the use-cases, each one transaction.

Every function takes the caller's session (see `lfr.db.session.transaction`), the acting
person and typed inputs; it checks the rule in `lfr.domain.authorisation`, changes rows and
writes its audit entry in the same transaction (AUD-1). A refusal raises before anything is
written, and the caller's rollback discards whatever else the transaction held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import ApplicationRow, AuthorityRow, ConsultationRow
from lfr.domain import authorisation as rules
from lfr.domain.authorisation import (
    Application,
    ApplicationStatus,
    Authority,
    Conditions,
    Consultation,
    ConsultationOutcome,
    DecisionKind,
)
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal, Unmet
from lfr.domain.rules import blank
from lfr.services._rows import audited, found, locked, moment
from lfr.services.policy import GovernancePolicy
from lfr.services.thresholds import enforce_threshold_floor


def application_of(row: ApplicationRow) -> Application:
    return Application.from_json(json.loads(row.content))


def _content(application: Application) -> str:
    return json.dumps(application.to_json(), sort_keys=True)


def _snapshot(row: ApplicationRow) -> dict[str, object]:
    return {"status": row.status, "application": json.loads(row.content)}


def create_application(session: Session, actor: Actor, application: Application) -> ApplicationRow:
    """Start a draft; its applicant is whoever creates it (AUTH-1). Drafts may be incomplete."""
    if not actor.has(Role.APPLICANT):
        raise Refusal("AUTH-1", "needs the applicant role", "actor")
    draft = replace(application, applicant_id=actor.user_id)
    row = ApplicationRow(
        applicant_id=actor.user_id,
        title=draft.title.strip(),
        urgent=draft.urgent,
        status=ApplicationStatus.DRAFT,
        content=_content(draft),
    )
    session.add(row)
    session.flush()
    audited(
        session,
        actor,
        row,
        "application.create",
        f"application drafted: {row.title or '(untitled)'}",
        after=_snapshot(row),
    )
    return row


def update_application(
    session: Session, actor: Actor, application_id: str, application: Application
) -> ApplicationRow:
    """Replace a draft's answers; only its applicant, only while a draft (AUTH-1, AUTH-5)."""
    row = locked(session, ApplicationRow, application_id, "application")
    rules.check_edit(application_of(row), row.status, actor)
    before = _snapshot(row)
    draft = replace(application, applicant_id=row.applicant_id)
    row.content, row.title, row.urgent = _content(draft), draft.title.strip(), draft.urgent
    row.updated_at = moment(None)
    audited(
        session,
        actor,
        row,
        "application.update",
        f"application edited: {row.title or '(untitled)'}",
        before=before,
        after=_snapshot(row),
    )
    return row


def submit_application(
    session: Session, actor: Actor, application_id: str, *, now: datetime | None = None
) -> ApplicationRow:
    """Submit a complete draft for decision; the refusal names every missing field (AUTH-1)."""
    row = locked(session, ApplicationRow, application_id, "application")
    rules.check_submit(application_of(row), row.status, actor)
    row.status, row.submitted_at = ApplicationStatus.SUBMITTED, moment(now)
    _record_status(session, actor, row, "application.submit", "submitted for decision")
    return row


def withdraw_application(
    session: Session, actor: Actor, application_id: str, reason: str
) -> ApplicationRow:
    """The applicant withdraws an application not yet decided, saying why (AUTH-1, AUD-1)."""
    row = locked(session, ApplicationRow, application_id, "application")
    rules.check_withdraw(application_of(row), row.status, actor)
    if blank(reason):
        raise Refusal("AUTH-1", "say why the application is withdrawn", "reason")
    row.status = ApplicationStatus.WITHDRAWN
    _record_status(session, actor, row, "application.withdraw", "withdrawn", reason.strip())
    return row


def _record_status(
    session: Session,
    actor: Actor,
    row: ApplicationRow,
    action: str,
    what: str,
    reason: str | None = None,
) -> None:
    audited(
        session,
        actor,
        row,
        action,
        f"application {what}: {row.title}",
        after={"status": row.status},
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class DecisionResult:
    application: ApplicationRow
    authority: AuthorityRow | None
    """The new authority when the decision approves; None for a refusal."""


def decide_application(
    session: Session,
    actor: Actor,
    application_id: str,
    kind: DecisionKind,
    reasons: str,
    conditions: Conditions | None = None,
    *,
    model_version: str,
    engine_threshold: float,
    now: datetime | None = None,
    threshold_justification: str | None = None,
) -> DecisionResult:
    """Approve, approve with conditions, or refuse, with reasons (AUTH-2, AUTH-3); an
    approval is frozen as the Written Authority Document (AUTH-5). An alert threshold
    below the equitable threshold of `model_version` (the model the cameras run) needs
    `threshold_justification` (EQ-1); without a threshold condition, the engine's
    configured one (`engine_threshold`) is what a deployment would run at, and is checked."""
    row = locked(session, ApplicationRow, application_id, "application")
    application = application_of(row)
    consulted = frozenset(c.consulted_by for c in row.consultations)
    decision = rules.decide(
        application, row.status, actor, kind, reasons, moment(now), conditions, consulted
    )
    if kind.approves:
        enforce_threshold_floor(
            session,
            actor,
            row.id,
            decision.conditions.alert_threshold,
            threshold_justification,
            model_version=model_version,
            engine_threshold=engine_threshold,
        )
    row.status = ApplicationStatus.APPROVED if kind.approves else ApplicationStatus.REFUSED
    row.decision_kind, row.decision_reasons = decision.kind, decision.reasons
    row.decided_by, row.decided_at = actor.user_id, decision.decided_at
    authority = _freeze(session, row, application, decision) if kind.approves else None
    audited(
        session,
        actor,
        row,
        "application.decide",
        f"application {kind.value.replace('_', ' ')}: {row.title}",
        after={
            "decision": decision.to_json(),
            "authority_id": authority.id if authority else None,
            "wad_sha256": authority.wad_sha256 if authority else None,
        },
        reason=decision.reasons,
    )
    return DecisionResult(row, authority)


def _freeze(
    session: Session, row: ApplicationRow, application: Application, decision: rules.Decision
) -> AuthorityRow:
    wad = rules.freeze_wad(application, decision)
    scope = rules.scope_of(application, decision.conditions)
    authority = AuthorityRow(
        application_id=row.id,
        wad=wad.document,
        wad_sha256=wad.sha256,
        urgent=decision.urgent,
        window_start=scope.window.start,
        window_end=scope.window.end,
    )
    session.add(authority)
    session.flush()
    return authority


def consult_chief_officer(
    session: Session,
    actor: Actor,
    application_id: str,
    outcome: ConsultationOutcome,
    comments: str,
    *,
    policy: GovernancePolicy,
    now: datetime | None = None,
) -> ConsultationRow:
    """Record a chief officer's view (AUTH-4). A veto takes the authority out of force and
    stops its deployment: a planned one is cancelled (its biometrics kept as `policy`'s
    retention says), a running one halted at once."""
    row = locked(session, ApplicationRow, application_id, "application")
    consultation = rules.consult(
        application_of(row), row.status, actor, outcome, comments, moment(now), row.decided_by
    )
    consultation_row = ConsultationRow(
        application_id=row.id,
        outcome=consultation.outcome,
        comments=consultation.comments,
        consulted_by=actor.user_id,
        consulted_at=consultation.consulted_at,
    )
    session.add(consultation_row)
    if outcome is ConsultationOutcome.VETO:
        row.status = ApplicationStatus.VETOED
    session.flush()
    audited(
        session,
        actor,
        row,
        "application.consult",
        f"chief officer: {outcome.value.replace('_', ' ')} ({row.title})",
        after={"outcome": outcome, "status": row.status},
        reason=consultation.comments or None,
    )
    if outcome is ConsultationOutcome.VETO:
        _stop_vetoed_deployment(session, actor, row.id, consultation.consulted_at, policy)
    return consultation_row


def _stop_vetoed_deployment(
    session: Session, actor: Actor, application_id: str, at: datetime, policy: GovernancePolicy
) -> None:
    # Imported here: deployments builds on this module (it loads authorities from it).
    from lfr.services import deployments

    authority = session.scalars(
        select(AuthorityRow).where(AuthorityRow.application_id == application_id)
    ).one_or_none()
    if authority is not None:
        deployments.stop_for_veto(session, actor, authority.id, at, policy)


def confirm_urgent_authority(
    session: Session,
    actor: Actor,
    authority_id: str,
    *,
    now: datetime | None = None,
    policy: GovernancePolicy,
) -> AuthorityRow:
    """A Superintendent confirms an Inspector's urgent authority before it lapses (AUTH-3)."""
    validity = policy.urgent_validity
    row = locked(session, AuthorityRow, authority_id, "authority")
    confirmed = rules.confirm_urgent(authority_of(row), actor, moment(now), validity)
    row.confirmed_by, row.confirmed_at = confirmed.confirmed_by, confirmed.confirmed_at
    audited(
        session,
        actor,
        row,
        "authority.confirm_urgent",
        f"urgent authority confirmed: {row.application.title}",
        after={"confirmed_at": row.confirmed_at},
    )
    return row


def authority_of(row: AuthorityRow) -> Authority:
    """The domain authority, read from its WAD after checking the WAD's hash (AUTH-5)."""
    rules.verify_wad(row.wad, row.wad_sha256)
    application, decision = rules.read_wad(row.wad)
    consultations = tuple(
        Consultation(c.outcome, c.comments, c.consulted_by, c.consulted_at)
        for c in row.application.consultations
    )
    return Authority(application, decision, consultations, row.confirmed_by, row.confirmed_at)


def locked_authority(
    session: Session, authority_id: str, at: datetime, policy: GovernancePolicy
) -> tuple[Authority, list[Unmet]]:
    """The authority, locked for a change that builds on it (a watchlist, a deployment),
    and what keeps it from being in force at `at` (AUTH-2..5)."""
    authority = authority_of(locked(session, AuthorityRow, authority_id, "authority"))
    validity = policy.urgent_validity
    return authority, rules.authority_problems(authority, at, validity)


def load_authority(session: Session, authority_id: str) -> Authority:
    return authority_of(found(session, AuthorityRow, authority_id, "authority"))


def authorities_in_force(
    session: Session, *, now: datetime | None = None, policy: GovernancePolicy
) -> list[AuthorityRow]:
    """Authorities in force now: approved, not vetoed, not lapsed, window not over."""
    at = moment(now)
    validity = policy.urgent_validity
    candidates = session.scalars(
        select(AuthorityRow).where(AuthorityRow.window_end > at).order_by(AuthorityRow.window_start)
    )
    return [row for row in candidates if rules.in_force(authority_of(row), at, validity)]
