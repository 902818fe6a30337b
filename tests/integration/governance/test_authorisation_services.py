"""Applications and authorities through the services (AUTH-1..6, AUD-1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from lfr.audit import AuditEntry, verify
from lfr.db.base import utcnow
from lfr.db.governance import ApplicationRow, AuthorityRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import (
    Application,
    ApplicationStatus,
    Conditions,
    ConsultationOutcome,
    DecisionKind,
    read_wad,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Role
from lfr.domain.refusal import Refusal
from lfr.services import authorisations, deployments
from lfr.services.policy import GovernancePolicy
from lfr.vision.describers.dlib_resnet import DLIB_MODEL_ID
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from tests.db_fixtures import POLICY, Personas, remove_frozen_authority_guard
from tests.integration.governance.world import (
    World,
    application,
    approved,
    audit_count,
    submitted,
)

pytestmark = pytest.mark.db


def test_approval_freezes_a_verifiable_wad(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-2/AUTH-5: an approval with conditions is frozen; the WAD reads back the same."""
    application_id = submitted(session_factory, personas)
    conditions = Conditions(
        max_watchlist_size=10, allowed_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS})
    )
    with transaction(session_factory) as session:
        result = authorisations.decide_application(
            session,
            personas.authorising_officer,
            application_id,
            DecisionKind.APPROVE_WITH_CONDITIONS,
            "Necessary; limited to the wanted",
            conditions,
            model_version=DLIB_MODEL_ID,
            engine_threshold=DEFAULT_ALERT_THRESHOLD,
        )
        assert result.authority is not None
        authority_id = result.authority.id
    with transaction(session_factory) as session:
        authority = authorisations.load_authority(session, authority_id)
        row = session.get(ApplicationRow, application_id)
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "application.decide")
        ).all()
        assert verify(session).ok
    assert row is not None
    assert row.status is ApplicationStatus.APPROVED
    assert authority.decision.conditions == conditions
    assert authority.scope.max_watchlist_size == 10
    assert authority.application.applicant_id == personas.applicant.user_id
    assert len(entries) == 1
    assert entries[0].reason == "Necessary; limited to the wanted"


def _widen_wad(session_factory: SessionFactory, authority_id: str) -> None:
    """Swaps a camera inside the stored WAD, keeping its length and hash column."""
    with transaction(session_factory) as session:
        row = session.get(AuthorityRow, authority_id)
        assert row is not None
        widened = row.wad.replace(b'"cam-north"', b'"cam-westt"')
        assert widened != row.wad
        session.execute(
            update(AuthorityRow).where(AuthorityRow.id == authority_id).values(wad=widened)
        )


@pytest.mark.parametrize(
    "change",
    [
        {"window_end": utcnow() + timedelta(days=30)},
        {"wad_sha256": "0" * 64},
        {"urgent": True},
    ],
)
def test_the_database_refuses_to_change_a_stored_authority(
    session_factory: SessionFactory, personas: Personas, change: dict[str, object]
) -> None:
    """AUTH-5: once approved, the WAD, its hash and the columns copied from it cannot be
    updated, and the authority cannot be deleted; the database itself refuses."""
    authority_id = approved(session_factory, personas)
    with pytest.raises(DBAPIError, match="frozen once approved"):
        _widen_wad(session_factory, authority_id)
    with (
        pytest.raises(DBAPIError, match="frozen once approved"),
        transaction(session_factory) as session,
    ):
        session.execute(
            update(AuthorityRow).where(AuthorityRow.id == authority_id).values(**change)
        )
    with (
        pytest.raises(DBAPIError, match="frozen once approved"),
        transaction(session_factory) as session,
    ):
        session.execute(delete(AuthorityRow).where(AuthorityRow.id == authority_id))
    with transaction(session_factory) as session:
        assert authorisations.load_authority(session, authority_id).decision is not None


def test_a_confirmation_is_filled_in_once_and_the_table_cannot_be_emptied(
    session_factory: SessionFactory, personas: Personas, migrated_url: str
) -> None:
    """AUTH-3/AUTH-5: the urgent confirmation is written once, then neither changed nor
    undone; on PostgreSQL, TRUNCATE is refused as DELETE is."""
    authority_id = approved(session_factory, personas)
    confirm = update(AuthorityRow).where(AuthorityRow.id == authority_id)
    with transaction(session_factory) as session:
        session.execute(
            confirm.values(confirmed_by=personas.authorising_officer.user_id, confirmed_at=utcnow())
        )
    for change in ({"confirmed_by": personas.gold.user_id}, {"confirmed_at": None}):
        with (
            pytest.raises(DBAPIError, match="frozen once approved"),
            transaction(session_factory) as session,
        ):
            session.execute(confirm.values(**change))
    if "postgresql" in migrated_url:
        with (
            pytest.raises(DBAPIError, match="frozen once approved"),
            transaction(session_factory) as session,
        ):
            session.execute(text("TRUNCATE authority CASCADE"))


def test_a_changed_wad_is_refused(
    session_factory: SessionFactory, personas: Personas, migrated_url: str
) -> None:
    """AUTH-5: a WAD altered in the database (by someone who first removed the database's
    guard) no longer loads; the refusal names AUTH-5."""
    authority_id = approved(session_factory, personas)
    remove_frozen_authority_guard(migrated_url)
    _widen_wad(session_factory, authority_id)
    with transaction(session_factory) as session, pytest.raises(Refusal) as refused:
        authorisations.load_authority(session, authority_id)
    assert (refused.value.rule, refused.value.field) == ("AUTH-5", "wad")


REFUSED_DECISIONS = [
    ("inspector", False, "AUTH-3"),  # an Inspector, application not urgent
    ("applicant", False, "AUTH-3"),  # no authorising-officer role
    ("operator", True, "AUTH-3"),
]


@pytest.mark.parametrize(("who", "urgent", "rule"), REFUSED_DECISIONS)
def test_refused_decision_leaves_no_trace(
    session_factory: SessionFactory, personas: Personas, who: str, urgent: bool, rule: str
) -> None:
    """AUTH-3/AUD-1: a refused decision changes nothing and writes no audit entry."""
    application_id = submitted(session_factory, personas, urgent=urgent)
    entries_before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        authorisations.decide_application(
            session,
            getattr(personas, who),
            application_id,
            DecisionKind.APPROVE,
            "ok",
            model_version=DLIB_MODEL_ID,
            engine_threshold=DEFAULT_ALERT_THRESHOLD,
        )
    assert rule in {u.rule for u in refused.value.unmet}
    assert audit_count(session_factory) == entries_before
    with transaction(session_factory) as session:
        row = session.get(ApplicationRow, application_id)
        authorities = session.scalar(select(func.count()).select_from(AuthorityRow))
    assert row is not None
    assert row.status is ApplicationStatus.SUBMITTED
    assert authorities == 0


def test_incomplete_submission_names_every_field_and_stays_a_draft(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-1: submission names every missing field; the draft is unchanged, nothing audited."""
    with transaction(session_factory) as session:
        draft = authorisations.create_application(
            session, personas.applicant, Application(applicant_id="ignored", title="Draft")
        )
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        authorisations.submit_application(session, personas.applicant, draft.id)
    assert {"lawful_basis", "necessity", "places", "window", "place_category"} <= {
        u.field for u in refused.value.unmet
    }
    assert audit_count(session_factory) == before


@pytest.mark.parametrize("no_reason", ["  ", "\u200b\u202e\ufeff"])
def test_withdrawal_needs_a_reason(
    session_factory: SessionFactory, personas: Personas, no_reason: str
) -> None:
    """AUTH-1/AUD-1: a withdrawal without a reason (blank, or only invisible characters such
    as a zero-width space) is refused, naming the field, and changes nothing; with one, the
    application is withdrawn and the reason is in the log."""
    application_id = submitted(session_factory, personas)
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        authorisations.withdraw_application(session, personas.applicant, application_id, no_reason)
    assert (refused.value.rule, refused.value.field) == ("AUTH-1", "reason")
    assert audit_count(session_factory) == before
    with transaction(session_factory) as session:
        authorisations.withdraw_application(
            session, personas.applicant, application_id, " Operation moved "
        )
    with transaction(session_factory) as session:
        row = session.get(ApplicationRow, application_id)
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
    assert row is not None
    assert row.status is ApplicationStatus.WITHDRAWN
    assert last is not None
    assert (last.action, last.object_id, last.reason) == (
        "application.withdraw",
        application_id,
        "Operation moved",
    )


def test_only_the_applicant_edits_a_draft(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-1/AUTH-5: the draft is the applicant's; a submitted one is frozen."""
    with transaction(session_factory) as session:
        draft = authorisations.create_application(
            session, personas.applicant, application(personas.applicant)
        )
        edited = authorisations.update_application(
            session,
            personas.applicant,
            draft.id,
            application(personas.applicant, urgent=True),
        )
        assert authorisations.application_of(edited).urgent
        with pytest.raises(Refusal, match="AUTH-1"):
            authorisations.update_application(
                session, personas.authorising_officer, draft.id, application(personas.applicant)
            )
        authorisations.submit_application(session, personas.applicant, draft.id)
        with pytest.raises(Refusal, match="AUTH-5"):
            authorisations.update_application(
                session, personas.applicant, draft.id, application(personas.applicant)
            )


TWO_HOUR_URGENCY = GovernancePolicy(urgent_validity=timedelta(hours=2))


def test_urgent_authority_lapses_unless_a_superintendent_confirms(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-3: an Inspector's urgent authority lapses after the set time; confirmed, it holds."""
    lapsing = approved(session_factory, personas, decider=personas.inspector, urgent=True)
    confirmed = approved(session_factory, personas, decider=personas.inspector, urgent=True)
    with transaction(session_factory) as session:
        authorisations.confirm_urgent_authority(
            session, personas.authorising_officer, confirmed, policy=TWO_HOUR_URGENCY
        )
    later = utcnow() + timedelta(hours=2, minutes=1)
    with transaction(session_factory) as session:
        in_force_now = {
            r.id for r in authorisations.authorities_in_force(session, policy=TWO_HOUR_URGENCY)
        }
        in_force_later = {
            r.id
            for r in authorisations.authorities_in_force(
                session, now=later, policy=TWO_HOUR_URGENCY
            )
        }
    assert in_force_now == {lapsing, confirmed}
    assert in_force_later == {confirmed}


def test_inspector_cannot_confirm(session_factory: SessionFactory, personas: Personas) -> None:
    """AUTH-3: confirmation needs a Superintendent; the refusal leaves no audit entry."""
    authority_id = approved(session_factory, personas, decider=personas.inspector, urgent=True)
    before = audit_count(session_factory)
    with pytest.raises(Refusal, match="Superintendent"), transaction(session_factory) as session:
        authorisations.confirm_urgent_authority(
            session, personas.inspector, authority_id, policy=TWO_HOUR_URGENCY
        )
    assert audit_count(session_factory) == before


def test_veto_halts_a_running_deployment(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """AUTH-4/DEP-2: a chief officer's veto takes the authority out of force and halts."""
    with transaction(session_factory) as session:
        application_id = session.get(AuthorityRow, world.authority_id).application_id  # type: ignore[union-attr]
        authorisations.consult_chief_officer(
            session,
            personas.chief_officer,
            application_id,
            ConsultationOutcome.VETO,
            "Conflicts with a protest march",
            policy=POLICY,
        )
    with transaction(session_factory) as session:
        deployment = deployments.get_deployment(session, world.deployment_id)
        in_force = authorisations.authorities_in_force(session, policy=POLICY)
        application_row = session.get(ApplicationRow, application_id)
    assert deployment.status is DeploymentStatus.HALTED
    assert "AUTH-4" in (deployment.halt_reason or "")
    assert in_force == []
    assert application_row is not None
    assert application_row.status is ApplicationStatus.VETOED


def test_the_officer_who_decided_cannot_also_be_the_chief_officer_consulted(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-3/AUTH-4 through the service: an account holding both roles at an NPCC rank
    that approved an application is refused as its consulted chief officer, and the
    refusal leaves no consultation and no audit entry."""
    both = replace(
        personas.chief_officer,
        roles=frozenset({Role.CHIEF_OFFICER, Role.AUTHORISING_OFFICER}),
    )
    authority_id = approved(session_factory, personas, decider=both, consult=False)
    before = audit_count(session_factory)
    with transaction(session_factory) as session:
        application_id = session.get(AuthorityRow, authority_id).application_id  # type: ignore[union-attr]
    with pytest.raises(Refusal, match="two people"), transaction(session_factory) as session:
        authorisations.consult_chief_officer(
            session, both, application_id, ConsultationOutcome.NO_OBJECTION, "", policy=POLICY
        )
    assert audit_count(session_factory) == before
    with transaction(session_factory) as session:
        row = session.get(ApplicationRow, application_id)
        assert row is not None
        assert row.consultations == []


def test_veto_cancels_a_planned_deployment(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """AUTH-4: vetoed before the start, the deployment is cancelled and cannot start."""
    with transaction(session_factory) as session:
        row = session.get(AuthorityRow, planned_world.authority_id)
        assert row is not None
        authorisations.consult_chief_officer(
            session,
            personas.chief_officer,
            row.application_id,
            ConsultationOutcome.VETO,
            "No",
            policy=POLICY,
        )
    with transaction(session_factory) as session:
        assert (
            deployments.get_deployment(session, planned_world.deployment_id).status
            is DeploymentStatus.CANCELLED
        )


def test_wad_records_the_decider(session_factory: SessionFactory, personas: Personas) -> None:
    """AUTH-5: the WAD names who decided, at what rank, and the reasons."""
    authority_id = approved(session_factory, personas)
    with transaction(session_factory) as session:
        row = session.get(AuthorityRow, authority_id)
        assert row is not None
        _, decision = read_wad(row.wad)
    assert decision.decided_by == personas.authorising_officer.user_id
    assert decision.decided_by_rank is personas.authorising_officer.rank
    assert decision.reasons == "Necessary and proportionate"
