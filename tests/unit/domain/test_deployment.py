"""The start checklist, staffing and training, halt, end and cancellation (DEP-1, DEP-2, TRN-1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfr.domain.authorisation import Authority, Consultation, ConsultationOutcome
from lfr.domain.categories import WatchlistCategory
from lfr.domain.deployment import (
    Assignment,
    DeploymentStatus,
    StartContext,
    assignment_problems,
    check_assign,
    check_cancel,
    check_end,
    check_halt,
    check_start,
    separation_problems,
    start_problems,
)
from lfr.domain.people import SYSTEM_ACTOR, Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.domain.watchlist import ListedEntry
from tests.unit.domain.builders import (
    APPLICANT,
    BRONZE,
    CHIEF,
    ENGAGER,
    GOLD,
    INSPECTOR,
    OPERATOR,
    OUTSIDER,
    SILVER,
    T0,
    URGENT_VALIDITY,
    approved_authority,
    complete_application,
    field_names,
    person,
    refusals,
)

STAFF = (GOLD, SILVER, BRONZE, OPERATOR, ENGAGER)
NOW = T0 + timedelta(minutes=5)


def trained(*people: Actor) -> frozenset[tuple[str, Role]]:
    return frozenset((p.user_id, role) for p in people for role in p.roles)


def full_assignments() -> list[Assignment]:
    return [Assignment(p.user_id, role) for p in STAFF for role in p.roles]


def context(**changes: object) -> StartContext:
    values: dict[str, object] = {
        "status": DeploymentStatus.PLANNED,
        "authority": approved_authority(),
        "places": ("Station exit north",),
        "cameras": ("cam-north", "cam-south"),
        "watchlist": [
            ListedEntry("PNC 1", WatchlistCategory.WANTED_BY_COURTS, T0 - timedelta(hours=3))
        ],
        "watchlist_sealed": False,
        "assignments": full_assignments(),
        "people": {p.user_id: p for p in STAFF},
        "trained": trained(*STAFF),
        "urgent_validity": URGENT_VALIDITY,
    }
    values.update(changes)
    return StartContext(**values)  # type: ignore[arg-type]


def found(ctx: StartContext, at: datetime = NOW) -> set[tuple[str, str]]:
    return {(v.rule, v.field) for v in start_problems(ctx, at)}


def test_ready_deployment_has_an_empty_checklist() -> None:
    """DEP-1: with every condition met the checklist is empty and Silver may start."""
    assert found(context()) == set()
    check_start(SILVER, context(), NOW)
    check_start(GOLD, context(), NOW)


def vetoed() -> Authority:
    veto = Consultation(ConsultationOutcome.VETO, "No", CHIEF.user_id, T0 - timedelta(hours=5))
    authority = approved_authority()
    return replace(authority, consultations=(*authority.consultations, veto))


@pytest.mark.parametrize(
    ("changes", "at", "expected"),
    [
        ({"status": DeploymentStatus.RUNNING}, NOW, {("DEP-1", "status")}),
        ({"authority": vetoed()}, NOW, {("AUTH-4", "authority")}),
        ({"authority": approved_authority(consulted=False)}, NOW, {("AUTH-4", "consultation")}),
        ({}, T0 - timedelta(minutes=1), {("DEP-1", "window")}),
        ({}, T0 + timedelta(hours=4), {("DEP-1", "window"), ("AUTH-1", "authority")}),
        ({"places": ("High Street",)}, NOW, {("AUTH-6", "place")}),
        ({"places": ()}, NOW, {("DEP-1", "place")}),
        ({"cameras": ("cam-north", "cam-west")}, NOW, {("AUTH-6", "camera")}),
        ({"cameras": ()}, NOW, {("DEP-1", "camera")}),
        ({"watchlist": []}, NOW, {("WL-2", "watchlist")}),
        ({"watchlist_sealed": True}, NOW, {("WL-1", "watchlist")}),
        (
            {
                "watchlist": [
                    ListedEntry(
                        "PNC 1", WatchlistCategory.WANTED_BY_COURTS, T0 - timedelta(hours=25)
                    )
                ]
            },
            NOW,
            {("WL-2", "watchlist")},
        ),
        (
            {"watchlist": [ListedEntry("PNC 1", WatchlistCategory.VICTIM, NOW)]},
            NOW,
            {("WL-4", "category")},
        ),
        (
            {"assignments": [a for a in full_assignments() if a.role is not Role.BRONZE]},
            NOW,
            {("DEP-1", "bronze")},
        ),
        (
            {"assignments": [a for a in full_assignments() if a.role is not Role.OPERATOR]},
            NOW,
            {("DEP-1", "operator")},
        ),
        (
            {"trained": trained(GOLD, SILVER, BRONZE, OPERATOR)},
            NOW,
            {("TRN-1", "engagement_officer")},
        ),
    ],
)
def test_each_unmet_condition_is_named(
    changes: dict[str, object], at: datetime, expected: set[tuple[str, str]]
) -> None:
    """DEP-1 ([19, 25]): each condition on its own refuses the start, naming rule and field."""
    assert found(context(**changes), at) == expected


def test_checklist_returns_every_unmet_condition() -> None:
    """DEP-1: the refusal lists every unmet condition, not the first."""
    ctx = context(
        authority=approved_authority(consulted=False),
        cameras=("cam-west",),
        watchlist=[],
        assignments=[],
    )
    problems = found(ctx)
    assert {
        ("AUTH-4", "consultation"),
        ("AUTH-6", "camera"),
        ("WL-2", "watchlist"),
        ("DEP-1", "gold"),
        ("DEP-1", "silver"),
        ("DEP-1", "bronze"),
        ("DEP-1", "operator"),
        ("DEP-1", "engagement_officer"),
    } == problems


def test_check_start_names_a_missing_watchlist_too() -> None:
    """WL-1/DEP-1: with no watchlist at all, `check_start` says so beside everything else,
    so the start needs no condition of its own outside the rule."""
    ctx = context(watchlist=[], watchlist_compiled=False)
    assert ("WL-1", "watchlist") in found(ctx)
    with pytest.raises(Refusal) as error:
        check_start(SILVER, replace(ctx, assignments=full_assignments()), NOW)
    assert ("WL-1", "watchlist") in {(u.rule, u.field) for u in error.value.unmet}


def test_urgent_authority_that_lapsed_cannot_start() -> None:
    """DEP-1/AUTH-3: a lapsed urgent authority is not in force."""
    application = complete_application(urgent=True, urgency_reason="Imminent")
    lapsed = approved_authority(application, decider=INSPECTOR)  # decided T0 - 2 days
    assert ("AUTH-3", "authority") in found(context(authority=lapsed), NOW + URGENT_VALIDITY)
    short = context(authority=lapsed, urgent_validity=timedelta(hours=24))
    assert ("AUTH-3", "authority") in found(short)


@pytest.mark.parametrize("actor", [BRONZE, OPERATOR, OUTSIDER, SYSTEM_ACTOR])
def test_only_silver_or_gold_start(actor: Actor) -> None:
    """DEP-1/DEP-2: the deployment's Silver or Gold starts it, a person, not the system."""
    with pytest.raises(Refusal) as error:
        check_start(actor, context(), NOW)
    assert "actor" in field_names(error)


# --- TRN-1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "role", "is_trained", "expected"),
    [
        (OPERATOR, Role.OPERATOR, True, set()),
        (OPERATOR, Role.OPERATOR, False, {("TRN-1", "operator")}),
        (OPERATOR, Role.SILVER, True, {("TRN-1", "silver")}),
        (APPLICANT, Role.APPLICANT, True, {("DEP-1", "role")}),
    ],
)
def test_assignment_needs_role_and_training(
    person: Actor, role: Role, is_trained: bool, expected: set[tuple[str, str]]
) -> None:
    """TRN-1 ([25, 26]): a person holds the role and has in-date training for it."""
    assert {(v.rule, v.field) for v in assignment_problems(person, role, is_trained)} == expected


def test_check_assign() -> None:
    """TRN-1/DEP-1: Gold, Silver or the applicant assigns trained staff before the end."""
    check_assign(SILVER, DeploymentStatus.PLANNED, OPERATOR, Role.OPERATOR, True)
    with pytest.raises(Refusal) as error:
        check_assign(OPERATOR, DeploymentStatus.ENDED, ENGAGER, Role.ENGAGEMENT_OFFICER, False)
    assert {(v.rule, v.field) for v in error.value.unmet} == {
        ("DEP-1", "actor"),
        ("DEP-1", "status"),
        ("TRN-1", "engagement_officer"),
    }


BOTH = person("both", Rank.CONSTABLE, Role.OPERATOR, Role.ENGAGEMENT_OFFICER)


@pytest.mark.parametrize(
    ("held", "role", "refused"),
    [
        (Role.OPERATOR, Role.ENGAGEMENT_OFFICER, True),
        (Role.ENGAGEMENT_OFFICER, Role.OPERATOR, True),
        (Role.OPERATOR, Role.OPERATOR, False),  # the duplicate is the service's refusal
        (Role.BRONZE, Role.OPERATOR, False),
    ],
)
def test_one_person_is_never_both_operator_and_engagement_officer(
    held: Role, role: Role, refused: bool
) -> None:
    """ADJ-1..3: the referring operator and the engaging officer are two people, so one
    person holding both roles is assigned to a deployment in one of them only."""
    current = [Assignment(BOTH.user_id, held)]
    problems = separation_problems(current, BOTH.user_id, role)
    assert {(v.rule, v.field) for v in problems} == ({("ADJ-2", "role")} if refused else set())
    if refused:
        with pytest.raises(Refusal, match="two people decide"):
            check_assign(SILVER, DeploymentStatus.PLANNED, BOTH, role, True, current)


# --- DEP-2 halt, end, cancel ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status", "reason", "expected"),
    [
        (SILVER, DeploymentStatus.RUNNING, "Crowd surge", set()),
        (GOLD, DeploymentStatus.RUNNING, "Community concern", set()),
        (BRONZE, DeploymentStatus.RUNNING, "x", {("DEP-2", "actor")}),
        (OPERATOR, DeploymentStatus.RUNNING, "x", {("DEP-2", "actor")}),
        (SILVER, DeploymentStatus.PLANNED, "x", {("DEP-2", "status")}),
        (SILVER, DeploymentStatus.RUNNING, " ", {("DEP-2", "reason")}),
        (SYSTEM_ACTOR, DeploymentStatus.RUNNING, "x", {("ADJ-4", "actor"), ("DEP-2", "actor")}),
    ],
)
def test_halt(
    actor: Actor, status: DeploymentStatus, reason: str, expected: set[tuple[str, str]]
) -> None:
    """DEP-2 ([13]): Silver or Gold halts a running deployment at any moment, with a reason."""

    assert refusals(lambda: check_halt(actor, status, full_assignments(), reason)) == expected


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (DeploymentStatus.PLANNED, False),
        (DeploymentStatus.RUNNING, True),
        (DeploymentStatus.HALTED, True),
        (DeploymentStatus.ENDED, False),
        (DeploymentStatus.CANCELLED, False),
    ],
)
def test_end(status: DeploymentStatus, allowed: bool) -> None:
    """DEP-2: a running or halted deployment is ended by its Silver or Gold."""
    if allowed:
        check_end(SILVER, status, full_assignments())
    else:
        with pytest.raises(Refusal, match="DEP-2"):
            check_end(SILVER, status, full_assignments())


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (DeploymentStatus.PLANNED, "Event called off", set()),
        (DeploymentStatus.PLANNED, "", {"reason"}),
        (DeploymentStatus.RUNNING, "x", {"status"}),
    ],
)
def test_cancel(status: DeploymentStatus, reason: str, expected: set[str]) -> None:
    """DEP-2: only a planned deployment is cancelled, and the reason is reported."""
    found = refusals(
        lambda: check_cancel(GOLD, status, full_assignments(), reason, APPLICANT.user_id)
    )
    assert {field for _, field in found} == expected


def test_cancel_by_whoever_planned_it() -> None:
    """DEP-2: the planner cancels a plan, before or after commanders are assigned; a
    stranger cannot."""
    check_cancel(APPLICANT, DeploymentStatus.PLANNED, [], "Event called off", APPLICANT.user_id)
    staffed = full_assignments()
    check_cancel(APPLICANT, DeploymentStatus.PLANNED, staffed, "Called off", APPLICANT.user_id)
    with pytest.raises(Refusal) as error:
        check_cancel(OPERATOR, DeploymentStatus.PLANNED, [], "x", APPLICANT.user_id)
    assert field_names(error) == {"actor"}


# --- the lifecycle as a whole (DEP-1, DEP-2) ---

PLANNED, RUNNING, HALTED, ENDED, CANCELLED = (
    DeploymentStatus.PLANNED,
    DeploymentStatus.RUNNING,
    DeploymentStatus.HALTED,
    DeploymentStatus.ENDED,
    DeploymentStatus.CANCELLED,
)
LIFECYCLE: dict[str, tuple[frozenset[DeploymentStatus], DeploymentStatus]] = {
    "start": (frozenset({PLANNED}), RUNNING),
    "halt": (frozenset({RUNNING}), HALTED),
    "end": (frozenset({RUNNING, HALTED}), ENDED),
    "cancel": (frozenset({PLANNED}), CANCELLED),
}
"""Each action: the statuses it may be taken from and the status it leads to."""


def allowed(action: str, actor: Actor, status: DeploymentStatus) -> bool:
    """Whether the rule lets `actor` take `action` on a ready, fully staffed deployment that
    `APPLICANT` planned."""
    staff = full_assignments()
    run = {
        "start": lambda: check_start(actor, context(status=status), NOW),
        "halt": lambda: check_halt(actor, status, staff, "Crowd surge at the exit"),
        "end": lambda: check_end(actor, status, staff),
        "cancel": lambda: check_cancel(actor, status, staff, "Called off", APPLICANT.user_id),
    }[action]
    return not refusals(run)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(sorted(LIFECYCLE)),
            st.sampled_from([GOLD, SILVER, BRONZE, OPERATOR, APPLICANT, OUTSIDER, SYSTEM_ACTOR]),
        ),
        max_size=10,
    )
)
def test_lifecycle_only_moves_forward(steps: list[tuple[str, Actor]]) -> None:
    """DEP-1/DEP-2: along any sequence of attempts, an action is allowed exactly when the
    deployment is in one of its source statuses and the actor is its Silver or Gold (or, to
    cancel, whoever planned it); an ended or cancelled deployment never moves again."""
    status = PLANNED
    for action, actor in steps:
        sources, target = LIFECYCLE[action]
        may_act = actor in (GOLD, SILVER) or (action == "cancel" and actor is APPLICANT)
        assert allowed(action, actor, status) == (may_act and status in sources)
        if may_act and status in sources:
            status = target
        if status in (ENDED, CANCELLED):
            assert not any(allowed(a, GOLD, status) for a in LIFECYCLE)
