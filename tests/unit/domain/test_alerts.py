"""The alert state machine (ADJ-2, ADJ-3, ADJ-4, REC-6), table-tested and property-tested."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfr.domain.alerts import (
    Action,
    Alert,
    AlertState,
    Identity,
    Outcome,
    claim,
    close_undecided,
    decline,
    dismiss,
    engage,
    record_outcome,
    refer,
)
from lfr.domain.people import SYSTEM_ACTOR, Actor, Rank, Role
from lfr.domain.refusal import Refusal
from tests.unit.domain.builders import (
    ENGAGER,
    ENGAGER_2,
    OPERATOR,
    OPERATOR_2,
    OUTSIDER,
    SILVER,
    person,
)

BOTH = person("both", Rank.CONSTABLE, Role.OPERATOR, Role.ENGAGEMENT_OFFICER)
"""One account holding both adjudication roles (ADJ-1..3 still needs two people)."""
CONFIRMED = Outcome(Identity.CONFIRMED, frozenset({Action.ARREST}))


def claimed(is_test: bool = False) -> Alert:
    return claim(Alert(is_test=is_test), OPERATOR)


def referred() -> Alert:
    return refer(claimed(), OPERATOR)


def engaged() -> Alert:
    return engage(referred(), ENGAGER)


def test_happy_path_needs_two_people() -> None:
    """ADJ-2/ADJ-3/ADJ-4: operator scrutinises and refers, an officer engages and records."""
    alert = engaged()
    assert alert.referred_by == OPERATOR.user_id
    assert alert.decided_by == ENGAGER.user_id
    done = record_outcome(alert, ENGAGER, CONFIRMED)
    assert done.state is AlertState.CONCLUDED
    assert done.outcome == CONFIRMED


@pytest.mark.parametrize(
    ("start", "step", "expected"),
    [
        # claim
        (lambda: Alert(), lambda a: claim(a, ENGAGER), {("ADJ-2", "actor")}),
        (
            lambda: Alert(),
            lambda a: claim(a, SYSTEM_ACTOR),
            {("ADJ-4", "actor"), ("ADJ-2", "actor")},
        ),
        (claimed, lambda a: claim(a, OPERATOR_2), {("ADJ-2", "claimed_by")}),
        (referred, lambda a: claim(a, OPERATOR), {("ADJ-2", "state")}),
        # refer / dismiss by the claiming operator only
        (lambda: Alert(), lambda a: refer(a, OPERATOR), {("ADJ-2", "claimed_by")}),
        (claimed, lambda a: refer(a, OPERATOR_2), {("ADJ-2", "claimed_by")}),
        (claimed, lambda a: refer(a, ENGAGER), {("ADJ-2", "actor"), ("ADJ-2", "claimed_by")}),
        (claimed, lambda a: dismiss(a, OPERATOR, ""), {("ADJ-2", "reason")}),
        (referred, lambda a: dismiss(a, OPERATOR, "x"), {("ADJ-2", "state")}),
        # blue-list tests are never referred
        (lambda: claimed(is_test=True), lambda a: refer(a, OPERATOR), {("REC-6", "is_test")}),
        # engagement by an engagement officer, only after a referral
        (claimed, lambda a: engage(a, ENGAGER), {("ADJ-2", "state")}),
        (referred, lambda a: engage(a, OPERATOR), {("ADJ-3", "actor")}),
        (referred, lambda a: engage(a, SILVER), {("ADJ-3", "actor")}),
        (referred, lambda a: decline(a, ENGAGER, " "), {("ADJ-3", "reason")}),
        (referred, lambda a: engage(a, SYSTEM_ACTOR), {("ADJ-4", "actor"), ("ADJ-3", "actor")}),
        # the operator who referred never takes the second decision, whatever roles held
        (
            lambda: refer(claim(Alert(), BOTH), BOTH),
            lambda a: engage(a, BOTH),
            {("ADJ-3", "actor")},
        ),
        (
            lambda: refer(claim(Alert(), BOTH), BOTH),
            lambda a: decline(a, BOTH, "Not them"),
            {("ADJ-3", "actor")},
        ),
        (
            lambda: Alert(AlertState.ENGAGED, referred_by=BOTH.user_id, decided_by=BOTH.user_id),
            lambda a: record_outcome(a, BOTH, CONFIRMED),
            {("ADJ-3", "actor")},
        ),
        # outcome by the engaging officer
        (referred, lambda a: record_outcome(a, ENGAGER, CONFIRMED), {("ADJ-2", "state")}),
        (engaged, lambda a: record_outcome(a, ENGAGER_2, CONFIRMED), {("ADJ-3", "actor")}),
        (
            engaged,
            lambda a: record_outcome(
                a, ENGAGER, Outcome(Identity.CONFIRMED, frozenset({Action.OTHER_ACTION}))
            ),
            {("ADJ-3", "notes")},
        ),
    ],
)
def test_refused_transitions(
    start: Callable[[], Alert],
    step: Callable[[Alert], Alert],
    expected: set[tuple[str, str]],
) -> None:
    """ADJ-2/ADJ-3/ADJ-4/REC-6: each forbidden step is refused naming rule and field."""
    with pytest.raises(Refusal) as error:
        step(start())
    assert {(v.rule, v.field) for v in error.value.unmet} == expected


@pytest.mark.parametrize(
    ("start", "step", "state"),
    [
        (claimed, lambda a: dismiss(a, OPERATOR, "Not the same person"), AlertState.DISMISSED),
        (
            lambda: claimed(is_test=True),
            lambda a: dismiss(a, OPERATOR, "Test seen"),
            AlertState.DISMISSED,
        ),
        (referred, lambda a: decline(a, ENGAGER, "Lost in crowd"), AlertState.NOT_ENGAGED),
        (referred, lambda a: engage(a, ENGAGER_2), AlertState.ENGAGED),
        (
            engaged,
            lambda a: record_outcome(
                a, ENGAGER, Outcome(Identity.NOT_CONFIRMED, frozenset({Action.LEAFLET_GIVEN}))
            ),
            AlertState.CONCLUDED,
        ),
    ],
)
def test_allowed_transitions(
    start: Callable[[], Alert], step: Callable[[Alert], Alert], state: AlertState
) -> None:
    """ADJ-2/ADJ-3: the allowed steps reach the expected state."""
    assert step(start()).state is state


# --- properties -----------------------------------------------------------------------------

ACTORS = [OPERATOR, OPERATOR_2, ENGAGER, ENGAGER_2, SILVER, OUTSIDER, SYSTEM_ACTOR, BOTH]
OUTCOMES = st.builds(
    Outcome,
    identity=st.sampled_from(Identity),
    actions=st.frozensets(st.sampled_from(Action)),
    notes=st.sampled_from(["", "Words of advice"]),
)


def apply(alert: Alert, name: str, actor: Actor, outcome: Outcome) -> Alert:
    steps: dict[str, Callable[[], Alert]] = {
        "claim": lambda: claim(alert, actor),
        "refer": lambda: refer(alert, actor),
        "dismiss": lambda: dismiss(alert, actor, "reason"),
        "engage": lambda: engage(alert, actor),
        "decline": lambda: decline(alert, actor, "reason"),
        "outcome": lambda: record_outcome(alert, actor, outcome),
    }
    return steps[name]()


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["claim", "refer", "dismiss", "engage", "decline", "outcome"]),
        st.sampled_from(ACTORS),
        OUTCOMES,
    ),
    max_size=12,
)

ALLOWED = {
    AlertState.PENDING: {AlertState.PENDING, AlertState.REFERRED, AlertState.DISMISSED},
    AlertState.REFERRED: {AlertState.ENGAGED, AlertState.NOT_ENGAGED},
    AlertState.ENGAGED: {AlertState.CONCLUDED},
}


@settings(max_examples=300, deadline=None)
@given(is_test=st.booleans(), steps=STEPS)
def test_no_path_skips_a_human_decision(
    is_test: bool, steps: list[tuple[str, Actor, Outcome]]
) -> None:
    """ADJ-2/ADJ-3/ADJ-4/REC-6 for any sequence of attempts by anyone:

    a refused step changes nothing; every taken step follows the diagram; a referral is made
    by the operator who claimed the alert; an engagement by an engagement officer other than
    the system; a test alert is never referred; a final state never changes.
    """
    alert = Alert(is_test=is_test)
    for name, actor, outcome in steps:
        try:
            after = apply(alert, name, actor, outcome)
        except Refusal:
            continue
        assert actor is not SYSTEM_ACTOR
        assert not alert.state.final
        assert after.state in ALLOWED[alert.state]
        if after.state is AlertState.REFERRED:
            assert not is_test
            assert after.referred_by == alert.claimed_by == actor.user_id
        if after.state in (AlertState.ENGAGED, AlertState.NOT_ENGAGED):
            assert alert.state is AlertState.REFERRED
            assert actor in (ENGAGER, ENGAGER_2, BOTH)
            assert actor.user_id != alert.referred_by
        if after.state is AlertState.CONCLUDED:
            assert actor.user_id != alert.referred_by
            assert after.referred_by is not None
        alert = after
    if alert.state is AlertState.CONCLUDED:
        assert alert.outcome is not None
        assert alert.referred_by != alert.decided_by


@pytest.mark.parametrize(
    ("alert", "closes"),
    [
        (Alert(), True),
        (claimed(), True),
        (referred(), True),
        (engaged(), False),  # the engagement happened: its outcome is still recorded
        (dismiss(claimed(), OPERATOR, "not him"), False),
        (record_outcome(engaged(), ENGAGER, CONFIRMED), False),
    ],
)
def test_the_end_closes_only_alerts_awaiting_a_decision(alert: Alert, closes: bool) -> None:
    """ADJ-4, REV-1: the deployment's end closes pending and referred alerts as not
    adjudicated, a final state no one can act from; it never touches a decided one."""
    if not closes:
        with pytest.raises(Refusal):
            close_undecided(alert)
        return
    closed = close_undecided(alert)
    assert closed.state is AlertState.NOT_ADJUDICATED
    assert closed.state.final
    with pytest.raises(Refusal):
        refer(closed, OPERATOR)
    with pytest.raises(Refusal):
        engage(closed, ENGAGER)
