"""Alerts through the services: creation, the claim race, adjudication, holds (ADJ-1..4,
REC-6, DP-3)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lfr.audit import AuditEntry, verify
from lfr.db.base import utcnow
from lfr.db.governance import AlertRow, AssignmentRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain import alerts as rules
from lfr.domain.alerts import Action, AlertState, Identity, Outcome
from lfr.domain.authorisation import Conditions
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import NotFound, Refusal
from lfr.reports import review
from lfr.services import alerts, deployments
from lfr.services.access import commanded_deployment
from lfr.vision.types import ListKind
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import (
    CachingEnroler,
    World,
    audit_count,
    build_world,
    extra_person,
    face_bytes,
    match_event,
)

pytestmark = pytest.mark.db
OP, EO = Role.OPERATOR, Role.ENGAGEMENT_OFFICER


def new_alert(factory: SessionFactory, world: World, faces_dir: Path, **event: object) -> str:
    with transaction(factory) as session:
        return alerts.create_alert(
            session, match_event(world, faces_dir, **event), policy=POLICY
        ).id  # type: ignore[arg-type]


def alert_count(factory: SessionFactory) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(AlertRow)) or 0


def test_alert_from_a_running_deployment(
    session_factory: SessionFactory, world: World, faces_dir: Path
) -> None:
    """ADJ-1/DP-2: the alert keeps score, factors and the probe, the probe encrypted."""
    event = match_event(world, faces_dir)
    with transaction(session_factory) as session:
        row = alerts.create_alert(session, event, policy=POLICY)
        again = alerts.create_alert(session, event, policy=POLICY)  # the bus delivered it twice
        assert again.id == row.id
    with transaction(session_factory) as session:
        raw = session.execute(text("SELECT jpeg FROM alert_probe")).scalar_one()
        stored = session.get(AlertRow, row.id)
        assert stored is not None
        assert stored.probe.jpeg == event.probe_jpeg
        assert bytes(raw) != event.probe_jpeg
        factors = json.loads(stored.factors)
    assert stored.state is AlertState.PENDING
    assert not stored.is_test
    assert factors["quality"]["inter_eye_px"] == 42
    assert alert_count(session_factory) == 1


@pytest.mark.parametrize(
    ("event", "rule", "field"),
    [
        ({"camera": "cam-west"}, "AUTH-6", "camera"),
        ({"score": 0.5, "threshold": 0.6}, "REC-2", "score"),
        ({"subject_id": "not-on-the-list"}, "WL-1", "subject_id"),
        ({"list_kind": ListKind.BLUE_LIST}, "WL-1", "subject_id"),  # an entry id, not blue
    ],
)
def test_refused_events_store_nothing(
    session_factory: SessionFactory,
    world: World,
    faces_dir: Path,
    event: dict[str, object],
    rule: str,
    field: str,
) -> None:
    """REC-2/WL-1/AUTH-6: an event outside the deployment is refused; no alert, no audit."""
    before = audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        alerts.create_alert(session, match_event(world, faces_dir, **event), policy=POLICY)  # type: ignore[arg-type]
    assert (refused.value.rule, refused.value.field) == (rule, field)
    assert alert_count(session_factory) == 0
    assert audit_count(session_factory) == before


def test_event_below_the_authoritys_threshold_is_refused(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """REC-2/AUTH-2: an authority's stricter alert threshold binds the engine: an event
    matched at a lower threshold is refused naming the threshold, and nothing is stored."""
    strict = Conditions(alert_threshold=0.96)
    world = build_world(session_factory, personas, enroler, faces_dir, conditions=strict)
    before = audit_count(session_factory)
    event = match_event(world, faces_dir, score=0.97, threshold=0.95)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        alerts.create_alert(session, event, policy=POLICY)
    assert (refused.value.rule, refused.value.field) == ("REC-2", "threshold")
    assert alert_count(session_factory) == 0
    assert audit_count(session_factory) == before
    with transaction(session_factory) as session:
        row = alerts.create_alert(
            session, match_event(world, faces_dir, score=0.97, threshold=0.96), policy=POLICY
        )
    assert row.threshold == 0.96


def test_no_alert_unless_running(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """DEP-2: once halted, the deployment's matches are refused at once."""
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, world.deployment_id, "Concern")
    with pytest.raises(Refusal, match="halted"), transaction(session_factory) as session:
        alerts.create_alert(session, match_event(world, faces_dir), policy=POLICY)
    assert alert_count(session_factory) == 0


def test_two_human_decisions_before_any_outcome(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-2/ADJ-3/ADJ-4: operator claims and refers; the engagement officer engages and
    records the outcome; every step audited with its person."""
    alert_id = new_alert(session_factory, world, faces_dir)
    outcome = Outcome(Identity.CONFIRMED, frozenset({Action.ARREST}), "Arrested on warrant")
    with transaction(session_factory) as session:
        alerts.claim_alert(session, personas.operator, alert_id)
        alerts.refer_alert(session, personas.operator, alert_id)
        alerts.engage_alert(session, personas.engagement_officer, alert_id)
        row = alerts.record_alert_outcome(session, personas.engagement_officer, alert_id, outcome)
    assert row.state is AlertState.CONCLUDED
    assert alerts.outcome_of(row) == outcome
    with transaction(session_factory) as session:
        trail = session.execute(
            select(AuditEntry.action, AuditEntry.actor_name)
            .where(AuditEntry.object_id == alert_id)
            .order_by(AuditEntry.sequence)
        ).all()
        assert verify(session).ok
    assert [tuple(t) for t in trail] == [
        ("alert.create", "lfr (automatic)"),
        ("alert.claim", "Operator"),
        ("alert.refer", "Operator"),
        ("alert.engage", "Engagement Officer"),
        ("alert.outcome", "Engagement Officer"),
    ]


def test_wrong_people_are_refused_and_nothing_changes(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-2/ADJ-3/DEP-1: the engagement officer cannot refer; an operator cannot engage;
    an operator not assigned to this deployment cannot claim."""
    alert_id = new_alert(session_factory, world, faces_dir)
    stranger = extra_person(session_factory, "other-operator", Rank.STAFF, Role.OPERATOR)
    before = audit_count(session_factory)
    with pytest.raises(Refusal, match="DEP-1"), transaction(session_factory) as session:
        alerts.claim_alert(session, stranger, alert_id)
    with pytest.raises(Refusal, match="ADJ-2"), transaction(session_factory) as session:
        alerts.claim_alert(session, personas.engagement_officer, alert_id)
    with transaction(session_factory) as session:
        alerts.claim_alert(session, personas.operator, alert_id)
    with pytest.raises(Refusal, match="ADJ-2"), transaction(session_factory) as session:
        alerts.engage_alert(session, personas.engagement_officer, alert_id)
    with transaction(session_factory) as session:
        alerts.refer_alert(session, personas.operator, alert_id)
    with pytest.raises(Refusal, match="ADJ-3"), transaction(session_factory) as session:
        alerts.engage_alert(session, personas.operator, alert_id)
    assert audit_count(session_factory) == before + 2


def test_one_person_never_takes_both_decisions_on_an_alert(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-1..3: an account holding both the operator's and the engagement officer's roles is
    assigned as one of them only; and even assigned as both (a row made before that rule),
    whoever referred the alert can neither engage nor decline it, nor record its outcome."""
    both = extra_person(
        session_factory, "both-roles", Rank.CONSTABLE, Role.OPERATOR, Role.ENGAGEMENT_OFFICER
    )
    with transaction(session_factory) as session:
        deployments.assign(session, personas.silver, world.deployment_id, both.user_id, OP)
    with pytest.raises(Refusal, match="two people decide"), transaction(session_factory) as s:
        deployments.assign(s, personas.silver, world.deployment_id, both.user_id, EO)
    with transaction(session_factory) as session:  # as if assigned before the rule existed
        session.add(
            AssignmentRow(
                deployment_id=world.deployment_id,
                user_id=both.user_id,
                role=EO,
                assigned_by=personas.silver.user_id,
                assigned_at=utcnow(),
            )
        )
    alert_id = new_alert(session_factory, world, faces_dir)
    with transaction(session_factory) as session:
        alerts.claim_alert(session, both, alert_id)
        alerts.refer_alert(session, both, alert_id)
    before = audit_count(session_factory)
    for decide in (
        lambda s: alerts.engage_alert(s, both, alert_id),
        lambda s: alerts.decline_alert(s, both, alert_id, "Not them"),
    ):
        with pytest.raises(Refusal, match="cannot also decide"), transaction(session_factory) as s:
            decide(s)
    assert audit_count(session_factory) == before
    with transaction(session_factory) as session:
        alerts.engage_alert(session, personas.engagement_officer, alert_id)
    outcome = Outcome(Identity.CONFIRMED, frozenset({Action.ARREST}))
    with pytest.raises(Refusal, match="ADJ-3"), transaction(session_factory) as session:
        alerts.record_alert_outcome(session, both, alert_id, outcome)


def test_blue_list_alert_is_a_test_and_never_referred(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """REC-6: a blue-list match is marked a test; it can be dismissed but never referred."""
    alert_id = new_alert(
        session_factory, world, faces_dir, subject_id=world.blue_id, list_kind=ListKind.BLUE_LIST
    )
    with transaction(session_factory) as session:
        row = alerts.claim_alert(session, personas.operator, alert_id)
        assert row.is_test
    with pytest.raises(Refusal, match="REC-6"), transaction(session_factory) as session:
        alerts.refer_alert(session, personas.operator, alert_id)
    with transaction(session_factory) as session:
        row = alerts.dismiss_alert(session, personas.operator, alert_id, "Test volunteer seen")
    assert row.state is AlertState.DISMISSED


def test_decline_with_reason(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-3: the engagement officer may decide not to engage, and says why."""
    alert_id = new_alert(session_factory, world, faces_dir)
    with transaction(session_factory) as session:
        alerts.claim_alert(session, personas.operator, alert_id)
        alerts.refer_alert(session, personas.operator, alert_id)
        row = alerts.decline_alert(
            session, personas.engagement_officer, alert_id, "Lost in the crowd"
        )
    assert row.state is AlertState.NOT_ENGAGED
    assert row.decision_reason == "Lost in the crowd"


def race(factory: SessionFactory, contenders: list[Actor], alert_id: str) -> list[str]:
    """Each contender claims the alert in its own thread and session, released together."""
    barrier = threading.Barrier(len(contenders))
    results: list[str] = []
    lock = threading.Lock()

    def attempt(actor: Actor) -> None:
        barrier.wait()
        try:
            with transaction(factory) as session:
                alerts.claim_alert(session, actor, alert_id)
            outcome = f"won:{actor.user_id}"
        except Refusal as refusal:
            outcome = f"lost:{refusal.rule}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(actor,)) for actor in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_operators_race_and_exactly_one_wins(
    session_factory: SessionFactory,
    personas: Personas,
    world: World,
    faces_dir: Path,
    round_: int,
) -> None:
    """ADJ-2: two operators, two sessions, one alert: the conditional UPDATE lets exactly one
    claim it; the other is refused; exactly one claim is audited."""
    second = extra_person(session_factory, f"operator-{round_}", Rank.STAFF, Role.OPERATOR)
    with transaction(session_factory) as session:
        deployments.assign(
            session, personas.silver, world.deployment_id, second.user_id, Role.OPERATOR
        )
    alert_id = new_alert(session_factory, world, faces_dir)
    results = race(session_factory, [personas.operator, second], alert_id)
    winners = [r for r in results if r.startswith("won:")]
    assert len(results) == 2
    assert len(winners) == 1
    assert results.count("lost:ADJ-2") == 1
    with transaction(session_factory) as session:
        row = session.get(AlertRow, alert_id)
        claims = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_id == alert_id, AuditEntry.action == "alert.claim")
        )
        assert verify(session).ok
    assert row is not None
    assert f"won:{row.claimed_by}" == winners[0]
    assert claims == 1


def test_hold_for_an_investigation(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """DP-3: a reviewer keeps an alert with a reason and a review date; an operator cannot."""
    alert_id = new_alert(session_factory, world, faces_dir)
    review = (utcnow() + timedelta(days=60)).date()
    with pytest.raises(Refusal, match="DP-3"), transaction(session_factory) as session:
        alerts.hold_alert(
            session, personas.operator, alert_id, "Operation X", review, policy=POLICY
        )
    with transaction(session_factory) as session:
        row = alerts.hold_alert(
            session, personas.auditor, alert_id, "Operation X", review, policy=POLICY
        )
    assert (row.hold_by, row.hold_review_on) == (personas.auditor.user_id, review)


def test_probe_shown_by_role_only(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """DP-2: the probe image goes to those who adjudicate or review, not to others."""
    alert_id = new_alert(session_factory, world, faces_dir)
    with transaction(session_factory) as session:
        probe = alerts.probe_image(session, personas.operator, alert_id)
        assert probe == face_bytes(faces_dir, "obama_small.jpg")
        with pytest.raises(Refusal, match="DP-2"):
            alerts.probe_image(session, personas.administrator, alert_id)


def test_a_probe_is_shown_only_for_a_readable_alert_and_every_view_is_recorded(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """DP-2/AUD-1, in the service whatever the door: an operator not assigned to the
    deployment gets no probe (and no record is made); an assigned one does, recorded."""
    alert_id = new_alert(session_factory, world, faces_dir)
    outsider = replace(personas.operator, user_id=personas.engineer.user_id)
    with pytest.raises(NotFound):
        alerts.view_probe_image(session_factory, outsider, alert_id)
    probe = alerts.view_probe_image(session_factory, personas.operator, alert_id)
    assert probe == face_bytes(faces_dir, "obama_small.jpg")
    with transaction(session_factory) as session:
        views = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "biometric.viewed")
        ).all()
    assert [(v.actor_id, v.object_id) for v in views] == [(personas.operator.user_id, alert_id)]


def test_claim_on_a_stale_read_changes_no_row(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-2: an operator whose screen (session) still shows the alert unclaimed loses to
    the claim committed meanwhile: the UPDATE's condition, not the earlier read, decides.
    PostgreSQL only: on SQLite the first session's write lock keeps the second out."""
    second = extra_person(session_factory, "operator-late", Rank.STAFF, Role.OPERATOR)
    with transaction(session_factory) as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("needs concurrent writers (PostgreSQL)")
        deployments.assign(
            session, personas.silver, world.deployment_id, second.user_id, Role.OPERATOR
        )
    alert_id = new_alert(session_factory, world, faces_dir)
    with transaction(session_factory) as stale:
        seen = stale.get(AlertRow, alert_id)
        assert seen is not None
        assert seen.claimed_by is None
        with transaction(session_factory) as other:
            alerts.claim_alert(other, personas.operator, alert_id)
        with pytest.raises(Refusal) as refused:
            alerts.claim_alert(stale, second, alert_id)
    assert (refused.value.rule, refused.value.field) == ("ADJ-2", "claimed_by")
    with transaction(session_factory) as session:
        row = session.get(AlertRow, alert_id)
    assert row is not None
    assert row.claimed_by == personas.operator.user_id


def test_no_alert_once_the_authority_is_out_of_force(
    session_factory: SessionFactory, world: World, faces_dir: Path
) -> None:
    """DEP-1/AUTH-1: past the authorised window a still-running deployment raises nothing."""
    after_window = utcnow() + timedelta(hours=5)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        alerts.create_alert(session, match_event(world, faces_dir), now=after_window, policy=POLICY)
    assert {(u.rule, u.field) for u in refused.value.unmet} == {
        ("AUTH-1", "window"),
        ("DEP-1", "window"),
    }
    assert alert_count(session_factory) == 0


def test_may_see_probe_says_what_probe_image_does(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-2: the predicate a page asks before offering the probe agrees with the read
    itself: the engagement officer, not before referral, then yes; the operator, always."""
    alert_id = new_alert(session_factory, world, faces_dir)
    officer, operator = personas.engagement_officer, personas.operator
    with transaction(session_factory) as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        assert alerts.may_see_probe(operator, row)
        assert not alerts.may_see_probe(officer, row)
        with pytest.raises(Refusal, match="ADJ-2"):
            alerts.probe_image(session, officer, alert_id)
    with transaction(session_factory) as session:
        alerts.claim_alert(session, operator, alert_id)
        alerts.refer_alert(session, operator, alert_id)
    with transaction(session_factory) as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        assert alerts.may_see_probe(officer, row)
        assert alerts.probe_image(session, officer, alert_id)


def test_alerts_by_state_names_every_state(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    first = new_alert(session_factory, world, faces_dir)
    new_alert(session_factory, world, faces_dir, subject_id=world.entry_ids[1])
    with transaction(session_factory) as session:
        alerts.claim_alert(session, personas.operator, first)
        alerts.dismiss_alert(session, personas.operator, first, "not the same person")
    with transaction(session_factory) as session:
        tally = alerts.alerts_by_state(session, world.deployment_id)
    assert set(tally) == set(AlertState)
    assert tally[AlertState.PENDING] == 1
    assert tally[AlertState.DISMISSED] == 1
    assert sum(tally.values()) == 2


def test_a_dashboard_is_its_own_commanders_only(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """The deployment's Gold, Silver and Bronze read its dashboard; its operator does not,
    even holding the Silver role as well, nor a Silver of no part in it (no IDOR)."""
    silver_and_operator = extra_person(
        session_factory, "silver-op", Rank.CHIEF_INSPECTOR, Role.SILVER, Role.OPERATOR
    )
    with transaction(session_factory) as session:
        deployments.assign(
            session, personas.silver, world.deployment_id, silver_and_operator.user_id, OP
        )
    other_silver = extra_person(session_factory, "silver-2", Rank.CHIEF_INSPECTOR, Role.SILVER)
    with transaction(session_factory) as session:
        for commander in (personas.gold, personas.silver, personas.bronze):
            assert commanded_deployment(session, commander, world.deployment_id)
        for outsider in (personas.operator, silver_and_operator, other_silver):
            with pytest.raises(NotFound):
                commanded_deployment(session, outsider, world.deployment_id)


def test_an_ended_deployment_closes_its_undecided_alerts_as_not_adjudicated(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """The end's rule (ADJ-4, REV-1): alerts still awaiting a decision (pending, claimed or
    not, and referred) are closed as not adjudicated in the ending's transaction, each
    audited; decided and engaged alerts keep their state; the review counts them, and
    nobody can refer or engage them any more."""
    unclaimed, claimed, referred, engaged, dismissed = (
        new_alert(session_factory, world, faces_dir) for _ in range(5)
    )
    with transaction(session_factory) as session:
        for alert_id in (claimed, referred, engaged, dismissed):
            alerts.claim_alert(session, personas.operator, alert_id)
        for alert_id in (referred, engaged):
            alerts.refer_alert(session, personas.operator, alert_id)
        alerts.engage_alert(session, personas.engagement_officer, engaged)
        alerts.dismiss_alert(session, personas.operator, dismissed, "not the same person")
    with transaction(session_factory) as session:
        deployments.end_deployment(session, personas.silver, world.deployment_id, policy=POLICY)
    with transaction(session_factory) as session:
        states = {i: session.get(AlertRow, i).state for i in (unclaimed, claimed, referred)}  # type: ignore[union-attr]
        kept = {i: session.get(AlertRow, i).state for i in (engaged, dismissed)}  # type: ignore[union-attr]
        closing = session.execute(
            select(AuditEntry.object_id, AuditEntry.reason).where(
                AuditEntry.action == "alert.close_undecided"
            )
        ).all()
        ended = session.scalars(
            select(AuditEntry.sequence).where(AuditEntry.action == "deployment.end")
        ).one()
        closed_after = session.scalars(
            select(func.min(AuditEntry.sequence)).where(
                AuditEntry.action == "alert.close_undecided"
            )
        ).one()
        figures = review.compute_figures(session, world.deployment_id)
        assert verify(session).ok
    assert set(states.values()) == {AlertState.NOT_ADJUDICATED}
    assert kept == {engaged: AlertState.ENGAGED, dismissed: AlertState.DISMISSED}
    assert {str(i) for i, _ in closing} == {unclaimed, claimed, referred}
    assert {r for _, r in closing} == {rules.NOT_ADJUDICATED_REASON}
    assert closed_after > ended  # one transaction, after the end's own entry
    assert figures["not_adjudicated_alerts"] == 3
    assert figures["unconfirmed_alerts"] == 4  # the three and the engaged one
    with transaction(session_factory) as session, pytest.raises(Refusal) as refused:
        alerts.refer_alert(session, personas.operator, claimed)
    assert refused.value.unmet[0].rule == "ADJ-2"
    with transaction(session_factory) as session, pytest.raises(Refusal):
        alerts.engage_alert(session, personas.engagement_officer, referred)
