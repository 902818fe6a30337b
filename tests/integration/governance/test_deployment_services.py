"""Deployments through the services: checklist, start, halt, end, cancel (DEP-1, DEP-2, TRN-1,
WL-6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lfr.audit import AuditEntry, verify
from lfr.db.base import utcnow
from lfr.db.governance import BlueListEntryRow, DeploymentRow, WatchlistImageRow, WatchlistRow
from lfr.db.reports import DeploymentReviewRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Rank, Role
from lfr.domain.refusal import Refusal, Unmet
from lfr.domain.retention import RetentionPolicy
from lfr.reports import review, transparency
from lfr.services import deployments, reviews, watchlists
from lfr.services.policy import GovernancePolicy
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import (
    CAMERAS,
    CachingEnroler,
    World,
    approved,
    audit_count,
    build_world,
    entry,
    extra_person,
    face_bytes,
)

pytestmark = pytest.mark.db


def status(factory: SessionFactory, deployment_id: str) -> DeploymentStatus:
    with transaction(factory) as session:
        return deployments.get_deployment(session, deployment_id).status


def test_bare_deployment_lists_every_unmet_condition(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """DEP-1: unconsulted, no watchlist, nobody assigned: the refusal lists all of it, and
    the failed start writes nothing."""
    authority_id = approved(session_factory, personas, consult=False)
    with transaction(session_factory) as session:
        deployment_id = deployments.plan_deployment(
            session,
            personas.silver,
            authority_id,
            ["Station exit north"],
            ["cam-north"],
            policy=POLICY,
        ).id
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(session, personas.silver, deployment_id, policy=POLICY)
    found = {(u.rule, u.field) for u in refused.value.unmet}
    assert found >= {
        ("DEP-2", "actor"),  # Silver is not yet assigned to it
        ("WL-1", "watchlist"),
        ("AUTH-4", "consultation"),
        ("DEP-1", "gold"),
        ("DEP-1", "silver"),
        ("DEP-1", "bronze"),
        ("DEP-1", "operator"),
        ("DEP-1", "engagement_officer"),
    }
    assert audit_count(session_factory) == before
    assert status(session_factory, deployment_id) is DeploymentStatus.PLANNED
    with transaction(session_factory) as session:
        checklist = deployments.start_checklist(session, deployment_id, policy=POLICY)
    assert {(u.rule, u.field) for u in checklist} == found - {("DEP-2", "actor")}


def test_start_seals_the_watchlist(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """DEP-1/WL-1: Silver starts a ready deployment; the watchlist is sealed then."""
    with transaction(session_factory) as session:
        assert (
            deployments.start_checklist(session, planned_world.deployment_id, policy=POLICY) == []
        )
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, policy=POLICY
        )
    with transaction(session_factory) as session:
        watchlist = session.get(WatchlistRow, planned_world.watchlist_id)
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)).all()
        assert verify(session).ok
    assert watchlist is not None
    assert watchlist.sealed_at is not None
    assert status(session_factory, planned_world.deployment_id) is DeploymentStatus.RUNNING
    assert actions[-2:] == ["watchlist.seal", "deployment.start"]


def test_the_service_alone_refuses_a_camera_without_a_source_naming_it(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """DEP-1/REC-1: the whole start rule lives in the service, so no door (and no missing
    runtime) skips it: a ready deployment whose second camera has no source is refused by
    `start_deployment` itself, naming that camera, and nothing is written."""
    world = build_world(
        session_factory, personas, enroler, faces_dir, start=False, sources={CAMERAS[1]: None}
    )
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(session, personas.silver, world.deployment_id, policy=POLICY)
    assert [(u.rule, u.field) for u in refused.value.unmet] == [("REC-1", CAMERAS[1])]
    assert audit_count(session_factory) == before
    assert status(session_factory, world.deployment_id) is DeploymentStatus.PLANNED
    with transaction(session_factory) as session:
        checklist = deployments.start_checklist(session, world.deployment_id, policy=POLICY)
    assert [(u.rule, u.field) for u in checklist] == [("REC-1", CAMERAS[1])]


def test_a_capacity_refusal_handed_in_is_named_with_the_dep1_refusals(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """DEP-1/REC-5: what the runtime measured of the machine's capacity (outside the
    transaction) is handed to the service, which refuses once with every unmet condition:
    here a stale watchlist (WL-2) and a camera the machine cannot run fast enough."""
    slow = Unmet("REC-5", "about 7.5 frames/s expected, below the 10 needed", CAMERAS[0])
    tomorrow = utcnow() + timedelta(hours=25)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(
            session,
            personas.silver,
            planned_world.deployment_id,
            now=tomorrow,
            policy=POLICY,
            capacity=[slow],
        )
    unmet = refused.value.unmet
    assert "WL-2" in {u.rule for u in unmet}
    assert unmet[-1] == slow
    assert status(session_factory, planned_world.deployment_id) is DeploymentStatus.PLANNED
    with pytest.raises(Refusal) as alone, transaction(session_factory) as session:
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, policy=POLICY, capacity=[slow]
        )
    assert alone.value.unmet == (slow,)


def test_stale_watchlist_cannot_start(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """WL-2: an entry compiled more than the limit before the start makes the list stale."""
    tomorrow = utcnow() + timedelta(hours=25)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, now=tomorrow, policy=POLICY
        )
    rules = {u.rule for u in refused.value.unmet}
    assert "WL-2" in rules
    policy = GovernancePolicy(currency_limit=timedelta(minutes=30))
    later = utcnow() + timedelta(hours=1)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, now=later, policy=policy
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {("WL-2", "watchlist")}


def test_untrained_person_cannot_be_assigned(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """TRN-1: no training for the role, no assignment; nothing written."""
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.assign(
            session,
            personas.silver,
            planned_world.deployment_id,
            personas.outsider.user_id,
            Role.OPERATOR,
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {
        ("TRN-1", "operator")  # holds neither the role nor its training
    }
    after_expiry = utcnow() + timedelta(days=400)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.assign(
            session,
            personas.silver,
            planned_world.deployment_id,
            personas.bronze.user_id,
            Role.BRONZE,
            now=after_expiry,
        )
    assert ("TRN-1", "bronze") in {(u.rule, u.field) for u in refused.value.unmet}


def test_expired_training_blocks_the_start(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """TRN-1: training that has lapsed by the start time is an unmet condition."""
    a_year_on = utcnow() + timedelta(days=400)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, now=a_year_on, policy=POLICY
        )
    found = {(u.rule, u.field) for u in refused.value.unmet}
    assert {("TRN-1", "operator"), ("TRN-1", "silver"), ("DEP-1", "window")} <= found


def test_only_silver_or_gold_halts(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """DEP-2: Bronze cannot halt; Silver halts at once with a reason; alerts then stop."""
    before = audit_count(session_factory)
    with pytest.raises(Refusal, match="DEP-2"), transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.bronze, world.deployment_id, "crowd")
    assert audit_count(session_factory) == before
    with transaction(session_factory) as session:
        deployments.halt_deployment(
            session, personas.silver, world.deployment_id, "Crowd surge at the north exit"
        )
    assert status(session_factory, world.deployment_id) is DeploymentStatus.HALTED
    with transaction(session_factory) as session:
        row = session.get(DeploymentRow, world.deployment_id)
    assert row is not None
    assert row.halt_reason == "Crowd surge at the north exit"


def reviews_opened(factory: SessionFactory) -> int:
    with transaction(factory) as session:
        opened = select(func.count()).where(AuditEntry.action == "review.open")
        return session.scalar(opened) or 0


def test_a_halt_opens_the_review_and_the_end_opens_no_second(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """REV-1, DEP-2: a halted deployment runs no more, so its review opens with the halt
    (audited in the same transaction), its figures stop at the halt, and ending it later
    finds the same review; once signed off, PUB-2 publishes it with the halt as its end."""
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, world.deployment_id, "Crowd surge")
    with transaction(session_factory) as session:
        opened = review.review_for_deployment(session, world.deployment_id)
        assert opened is not None
        halted_at = deployments.get_deployment(session, world.deployment_id).halted_at
        assert halted_at is not None
        figures = review.figures_of(session, opened)
        assert figures["status"] == "halted"
        assert figures["stopped_at"] == halted_at.isoformat()
    assert reviews_opened(session_factory) == 1
    with transaction(session_factory) as session:
        deployments.end_deployment(session, personas.gold, world.deployment_id, policy=POLICY)
    with transaction(session_factory) as session:
        rows = session.scalars(select(DeploymentReviewRow)).all()
        assert [r.id for r in rows] == [opened.id]
        reviews.update_assessment(
            session, personas.auditor, opened.id, performance="a", safeguards="b", lessons="c"
        )
        reviews.sign_off(session, personas.auditor, opened.id)
    assert reviews_opened(session_factory) == 1
    with transaction(session_factory) as session:
        (result,) = transparency.results(session)
        assert result.ended_at == halted_at
        assert verify(session).ok


def count_biometrics(factory: SessionFactory) -> tuple[int, int]:
    with transaction(factory) as session:
        images = session.scalar(select(func.count()).select_from(WatchlistImageRow)) or 0
        blue = (
            session.scalar(
                select(func.count())
                .select_from(BlueListEntryRow)
                .where(BlueListEntryRow.template.is_not(None))
            )
            or 0
        )
    return images, blue


def test_end_destroys_the_watchlist_biometrics(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """WL-6: at the end the images and templates go (watchlist and blue list), audited;
    the entries' references stay for the review."""
    assert count_biometrics(session_factory) == (2, 1)
    with transaction(session_factory) as session:
        deployments.end_deployment(session, personas.gold, world.deployment_id, policy=POLICY)
    assert count_biometrics(session_factory) == (0, 0)
    with transaction(session_factory) as session:
        watchlist = session.get(WatchlistRow, world.watchlist_id)
        destroyed = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "watchlist.destroy_biometrics")
        ).one()
        assert verify(session).ok
    assert watchlist is not None
    assert watchlist.biometrics_destroyed_at is not None
    assert len(watchlist.entries) == 2
    assert destroyed.reason == "WL-6: deployment ended"


def test_end_with_a_grace_period_keeps_biometrics_until_retention(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """WL-6: with a grace period the end keeps them; the retention run removes them later."""
    policy = GovernancePolicy(retention=RetentionPolicy(biometric_grace=timedelta(hours=1)))
    with transaction(session_factory) as session:
        deployments.end_deployment(session, personas.silver, world.deployment_id, policy=policy)
    assert count_biometrics(session_factory) == (2, 1)


def test_cancel_a_planned_deployment(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """DEP-2: a planned deployment is cancelled with its reason; it can never start."""
    with transaction(session_factory) as session:
        deployments.cancel_deployment(
            session, personas.gold, planned_world.deployment_id, "Event called off", policy=POLICY
        )
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, policy=POLICY
        )
    assert ("DEP-1", "status") in {(u.rule, u.field) for u in refused.value.unmet}
    assert count_biometrics(session_factory) == (0, 0)


def test_places_and_cameras_must_be_authorised(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUTH-6: a camera or place outside the authority needs a new authority."""
    authority_id = approved(session_factory, personas)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.plan_deployment(
            session,
            personas.silver,
            authority_id,
            ["High Street"],
            [CAMERAS[0], "cam-west"],
            policy=POLICY,
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {
        ("AUTH-6", "place"),
        ("AUTH-6", "camera"),
    }


def test_a_place_or_camera_named_twice_is_refused(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """DEP-1: each place and camera is named once; a camera named twice was stored twice and
    counted as two camera workers at the start."""
    authority_id = approved(session_factory, personas)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.plan_deployment(
            session,
            personas.silver,
            authority_id,
            ["Station exit north", "Station exit north"],
            [CAMERAS[0], CAMERAS[0]],
            policy=POLICY,
        )
    assert {(u.rule, u.field) for u in refused.value.unmet} == {
        ("DEP-1", "place"),
        ("DEP-1", "camera"),
    }
    assert "named more than once" in refused.value.unmet[0].reason


def test_second_deployment_under_one_authority_is_refused(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """WL-1: one deployment per authority, so its watchlist is never reused."""
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        deployments.plan_deployment(
            session,
            personas.silver,
            world.authority_id,
            ["Station exit north"],
            [CAMERAS[0]],
            policy=POLICY,
        )
    assert ("WL-1", "authority") in {(u.rule, u.field) for u in refused.value.unmet}


def test_a_second_operator_is_assigned_and_unassigned(
    session_factory: SessionFactory,
    personas: Personas,
    planned_world: World,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """DEP-1: Gold or Silver changes the staffing before the end, saying why."""
    second = extra_person(session_factory, "operator-two", Rank.STAFF, Role.OPERATOR)
    with transaction(session_factory) as session:
        deployments.assign(
            session, personas.gold, planned_world.deployment_id, second.user_id, Role.OPERATOR
        )
        deployments.unassign(
            session,
            personas.silver,
            planned_world.deployment_id,
            second.user_id,
            Role.OPERATOR,
            "Reassigned to another site",
        )
        row = deployments.get_deployment(session, planned_world.deployment_id)
        assert second.user_id not in {a.user_id for a in row.assignments}
        # the watchlist can still change before the start (a photograph on neither list)
        watchlists.add_entry(
            session,
            personas.applicant,
            planned_world.watchlist_id,
            entry("PNC 3"),
            [face_bytes(faces_dir, "biden.jpg")],
            enroler,
        )
