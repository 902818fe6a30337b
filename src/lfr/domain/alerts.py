"""The alert's life: two human decisions stand between an alert and any action (ADJ-2..4).

```
pending --claim (operator)--> pending, claimed
pending --refer (claiming operator)--> referred --engage (engagement officer)--> engaged
        --dismiss (claiming operator)--> dismissed      --decline--> not_engaged
engaged --record_outcome (the engaging officer)--> concluded
pending, referred --close_undecided (the deployment's end)--> not_adjudicated
```
Blue-list alerts (REC-6) are tests: the operator can only dismiss them, never refer them.
The person who referred an alert never engages, declines or concludes it, even when they
also hold the engagement officer's role: the two decisions are two people's (ADJ-1..3).
Every decision is taken by a named person; the system itself takes none (ADJ-4). The one
transition that is no decision is the deployment's end: an alert still awaiting a decision
then (pending, or referred and not yet engaged or declined) is closed as "not adjudicated",
because its watchlist image goes at the end and nobody may act on it any more; the review
counts these alerts (REV-1). Each
function returns the next `Alert` or raises `RuleViolationError` naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Unmet
from lfr.domain.rules import blank, human_problems, raise_if_any, required


class AlertState(StrEnum):
    PENDING = "pending"
    REFERRED = "referred"
    DISMISSED = "dismissed"
    ENGAGED = "engaged"
    NOT_ENGAGED = "not_engaged"
    CONCLUDED = "concluded"
    NOT_ADJUDICATED = "not_adjudicated"

    @property
    def final(self) -> bool:
        return self in (
            AlertState.DISMISSED,
            AlertState.NOT_ENGAGED,
            AlertState.CONCLUDED,
            AlertState.NOT_ADJUDICATED,
        )


class Identity(StrEnum):
    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not_confirmed"


class Action(StrEnum):
    ARREST = "arrest"
    OTHER_ACTION = "other_action"
    LEAFLET_GIVEN = "leaflet_given"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened after an engagement (ADJ-3)."""

    identity: Identity
    actions: frozenset[Action] = frozenset()
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """The parts of an alert that its state machine reads and writes."""

    state: AlertState = AlertState.PENDING
    is_test: bool = False
    claimed_by: str | None = None
    referred_by: str | None = None
    decided_by: str | None = None
    outcome: Outcome | None = None


def _state_problem(alert: Alert, *allowed: AlertState) -> list[Unmet]:
    if alert.state in allowed:
        return []
    return [Unmet("ADJ-2", f"the alert is {alert.state.value}", "state")]


def _role_problem(actor: Actor, role: Role, rule: str) -> list[Unmet]:
    if actor.has(role):
        return []
    return [Unmet(rule, f"only an {role.value.replace('_', ' ')}", "actor")]


def claim(alert: Alert, actor: Actor) -> Alert:
    """An operator takes a pending alert to scrutinise it; one operator per alert (ADJ-2)."""
    problems = human_problems(actor) + _role_problem(actor, Role.OPERATOR, "ADJ-2")
    problems += _state_problem(alert, AlertState.PENDING)
    if alert.claimed_by not in (None, actor.user_id):
        problems.append(Unmet("ADJ-2", "another operator has claimed it", "claimed_by"))
    raise_if_any(problems)
    return replace(alert, claimed_by=actor.user_id)


def _scrutiny_problems(alert: Alert, actor: Actor) -> list[Unmet]:
    problems = human_problems(actor) + _role_problem(actor, Role.OPERATOR, "ADJ-2")
    problems += _state_problem(alert, AlertState.PENDING)
    if alert.claimed_by != actor.user_id:
        problems.append(Unmet("ADJ-2", "claim the alert first", "claimed_by"))
    return problems


def refer(alert: Alert, actor: Actor) -> Alert:
    """The claiming operator refers to the engagement officers; never a test (REC-6)."""
    problems = _scrutiny_problems(alert, actor)
    if alert.is_test:
        problems.append(Unmet("REC-6", "a blue-list test is never referred", "is_test"))
    raise_if_any(problems)
    return replace(alert, state=AlertState.REFERRED, referred_by=actor.user_id)


def dismiss(alert: Alert, actor: Actor, reason: str) -> Alert:
    """The claiming operator dismisses, saying why (ADJ-2)."""
    problems = _scrutiny_problems(alert, actor)
    problems += required(reason, Unmet("ADJ-2", "say why the alert is dismissed", "reason"))
    raise_if_any(problems)
    return replace(alert, state=AlertState.DISMISSED, decided_by=actor.user_id)


def _second_person_problem(alert: Alert, actor: Actor) -> list[Unmet]:
    """ADJ-1..3: two human decisions are two people. Whoever referred the alert never takes
    the engagement decision or records its outcome, whatever roles they hold."""
    if alert.referred_by is not None and alert.referred_by == actor.user_id:
        return [Unmet("ADJ-3", "the operator who referred it cannot also decide it", "actor")]
    return []


def _engagement_problems(alert: Alert, actor: Actor) -> list[Unmet]:
    problems = human_problems(actor) + _role_problem(actor, Role.ENGAGEMENT_OFFICER, "ADJ-3")
    problems += _second_person_problem(alert, actor)
    return problems + _state_problem(alert, AlertState.REFERRED)


def engage(alert: Alert, actor: Actor) -> Alert:
    """An engagement officer decides to engage (ADJ-3): the officer's decision, not the system's."""
    raise_if_any(_engagement_problems(alert, actor))
    return replace(alert, state=AlertState.ENGAGED, decided_by=actor.user_id)


def decline(alert: Alert, actor: Actor, reason: str) -> Alert:
    """An engagement officer decides not to engage, saying why (ADJ-3)."""
    problems = _engagement_problems(alert, actor)
    problems += required(reason, Unmet("ADJ-3", "say why there was no engagement", "reason"))
    raise_if_any(problems)
    return replace(alert, state=AlertState.NOT_ENGAGED, decided_by=actor.user_id)


def record_outcome(alert: Alert, actor: Actor, outcome: Outcome) -> Alert:
    """The engaging officer records what happened (ADJ-3)."""
    problems = human_problems(actor) + _role_problem(actor, Role.ENGAGEMENT_OFFICER, "ADJ-3")
    problems += _state_problem(alert, AlertState.ENGAGED) + _second_person_problem(alert, actor)
    if alert.state is AlertState.ENGAGED and alert.decided_by != actor.user_id:
        problems.append(Unmet("ADJ-3", "the officer who engaged records it", "actor"))
    if Action.OTHER_ACTION in outcome.actions and blank(outcome.notes):
        problems.append(Unmet("ADJ-3", "describe the other action taken", "notes"))
    raise_if_any(problems)
    return replace(alert, state=AlertState.CONCLUDED, outcome=outcome)


UNDECIDED = (AlertState.PENDING, AlertState.REFERRED)
"""States in which an alert still awaits a human decision (an operator's or an engagement
officer's); what the deployment's end closes."""

NOT_ADJUDICATED_REASON = "the deployment ended before anyone decided it"


def close_undecided(alert: Alert) -> Alert:
    """At the deployment's end an alert still awaiting a decision is closed as not
    adjudicated: no one decided it, and no one acts on it afterwards (ADJ-4, WL-6)."""
    raise_if_any(_state_problem(alert, *UNDECIDED))
    return replace(alert, state=AlertState.NOT_ADJUDICATED)
