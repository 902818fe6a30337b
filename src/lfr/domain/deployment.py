"""Deployments: staffing, the start checklist, halt, end and cancellation (DEP-1, DEP-2, TRN-1).

A deployment starts only when every condition of DEP-1 holds; the checklist returns every
unmet condition at once so that Silver sees the whole picture, not one refusal at a time.
Silver or Gold halts a running deployment with a reason (DEP-2); a halt is final for that
deployment's processing, and it is then ended. A planned deployment may be cancelled.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lfr.domain.authorisation import Authority, authority_problems, outside_scope
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Unmet
from lfr.domain.rules import human_problems, raise_if_any, repeated, required
from lfr.domain.watchlist import CURRENCY_LIMIT, ListedEntry, seal_problems


class DeploymentStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    HALTED = "halted"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (DeploymentStatus.ENDED, DeploymentStatus.CANCELLED)


COMMAND_ROLES = (Role.GOLD, Role.SILVER, Role.BRONZE)
DEPLOYMENT_ROLES = (*COMMAND_ROLES, Role.OPERATOR, Role.ENGAGEMENT_OFFICER)
"""The roles a deployment assigns; each needs in-date training for that role (TRN-1)."""


def where_named_problems(places: Sequence[str], cameras: Sequence[str]) -> list[Unmet]:
    """DEP-1: a plan names at least one place and one camera, each once (a camera named
    twice would be counted, and started, twice)."""
    if not places or not cameras:
        return [Unmet("DEP-1", "name the place(s) and camera(s)", "place")]
    named = (("place", places), ("camera", cameras))
    return [
        Unmet("DEP-1", f"{name} is named more than once: name each {field} once", field)
        for field, names in named
        for name in repeated(names)
    ]


def assignment_problems(person: Actor, role: Role, trained: bool) -> list[Unmet]:
    """TRN-1: a person is assigned only to a role they hold and have in-date training for
    (`trained`: the training records, kept by the people service, say so at that time)."""
    problems: list[Unmet] = []
    if role not in DEPLOYMENT_ROLES:
        problems.append(Unmet("DEP-1", f"{role.value} is not a deployment role", "role"))
    if not person.has(role):
        problems.append(Unmet("TRN-1", f"{person.name} does not hold the role", role.value))
    if not trained:
        problems.append(
            Unmet("TRN-1", f"{person.name} has no in-date training for the role", role.value)
        )
    return problems


@dataclass(frozen=True, slots=True)
class Assignment:
    user_id: str
    role: Role


SEPARATED_ROLES = frozenset({Role.OPERATOR, Role.ENGAGEMENT_OFFICER})
"""ADJ-1..3: the operator who refers and the officer who engages are two people, so one
person never holds both on one deployment."""


def separation_problems(assignments: Sequence[Assignment], user_id: str, role: Role) -> list[Unmet]:
    """Assigning `user_id` as `role` would give one person both adjudication roles."""
    if role not in SEPARATED_ROLES:
        return []
    held = {a.role for a in assignments if a.user_id == user_id} & SEPARATED_ROLES
    if held - {role}:
        other = next(iter(held - {role})).value.replace("_", " ")
        return [Unmet("ADJ-2", f"already this deployment's {other}: two people decide", "role")]
    return []


@dataclass(frozen=True, slots=True)
class StartContext:
    """Everything the DEP-1 checklist looks at, gathered by the service."""

    status: DeploymentStatus
    authority: Authority
    places: tuple[str, ...]
    cameras: tuple[str, ...]
    watchlist: Sequence[ListedEntry]
    watchlist_sealed: bool
    assignments: Sequence[Assignment]
    people: Mapping[str, Actor]
    trained: Collection[tuple[str, Role]]
    """The (user id, role) pairs with in-date training at the start time (TRN-1)."""
    urgent_validity: timedelta
    currency_limit: timedelta = CURRENCY_LIMIT
    watchlist_compiled: bool = True
    """False when the authority has no watchlist at all (WL-1), so that `check_start` alone
    says everything the start needs."""
    unsourced: tuple[str, ...] = ()
    """The deployment's cameras that have no source configured (REC-1)."""
    capacity: Sequence[Unmet] = ()
    """What this machine's measured capacity refuses (REC-5): probing cameras is the
    runtime's work, done outside the transaction and handed in."""


def start_problems(context: StartContext, at: datetime) -> list[Unmet]:
    """Every unmet condition of DEP-1 at `at`; empty means the deployment may start."""
    problems: list[Unmet] = []
    if not context.watchlist_compiled:
        problems.append(Unmet("WL-1", "no watchlist has been compiled", "watchlist"))
    if context.status is not DeploymentStatus.PLANNED:
        problems.append(Unmet("DEP-1", f"the deployment is {context.status.value}", "status"))
    authority = context.authority
    problems += [_as_dep1(p) for p in authority_problems(authority, at, context.urgent_validity)]
    if not authority.consulted:
        problems.append(Unmet("AUTH-4", "no chief officer consulted yet", "consultation"))
    scope = authority.scope
    if not scope.window.contains(at):
        problems.append(Unmet("DEP-1", "now is outside the authorised window", "window"))
    problems += _where_problems(context)
    problems += seal_problems(
        context.watchlist, scope, at, context.watchlist_sealed, context.currency_limit
    )
    problems += staffing_problems(context.assignments, context.people, context.trained)
    problems += [Unmet("REC-1", "no source configured", name) for name in context.unsourced]
    problems += context.capacity
    return problems


def _as_dep1(problem: Unmet) -> Unmet:
    return Unmet(problem.rule, f"no authority in force: {problem.reason}", "authority")


def _where_problems(context: StartContext) -> list[Unmet]:
    scope = context.authority.scope
    problems: list[Unmet] = []
    if not context.places:
        problems.append(Unmet("DEP-1", "name the place of deployment", "place"))
    if not context.cameras:
        problems.append(Unmet("DEP-1", "name at least one camera", "camera"))
    problems += outside_scope(scope, places=context.places, cameras=context.cameras)
    return problems


def staffing_problems(
    assignments: Sequence[Assignment],
    people: Mapping[str, Actor],
    trained: Collection[tuple[str, Role]],
) -> list[Unmet]:
    """Gold, Silver, Bronze, an operator and an engagement officer, each trained (TRN-1)."""
    problems: list[Unmet] = []
    for role in DEPLOYMENT_ROLES:
        if not any(a.role is role for a in assignments):
            problems.append(Unmet("DEP-1", f"no {role.value} assigned", role.value))
    for assignment in assignments:
        person = people.get(assignment.user_id)
        if person is None:
            problems.append(
                Unmet("DEP-1", f"unknown person {assignment.user_id}", assignment.role.value)
            )
            continue
        trained_for_role = (assignment.user_id, assignment.role) in trained
        problems += assignment_problems(person, assignment.role, trained_for_role)
        if assignment.role is Role.ENGAGEMENT_OFFICER:
            problems += separation_problems(assignments, assignment.user_id, assignment.role)
    return problems


def commander_problems(actor: Actor, assignments: Sequence[Assignment]) -> list[Unmet]:
    """The acting person is this deployment's Silver or Gold (DEP-2, [13])."""
    problems = human_problems(actor)
    commands = {a.role for a in assignments if a.user_id == actor.user_id}
    if not commands & {Role.SILVER, Role.GOLD}:
        problems.append(Unmet("DEP-2", "only this deployment's Silver or Gold", "actor"))
    return problems


def check_start(actor: Actor, context: StartContext, at: datetime) -> None:
    """DEP-1 and DEP-2 for a start: this deployment's Silver or Gold, every condition met."""
    raise_if_any(commander_problems(actor, context.assignments) + start_problems(context, at))


def check_halt(
    actor: Actor, status: DeploymentStatus, assignments: Sequence[Assignment], reason: str
) -> None:
    """DEP-2: Silver (or Gold) halts a running deployment at any moment, saying why."""
    problems = commander_problems(actor, assignments)
    if status is not DeploymentStatus.RUNNING:
        problems.append(Unmet("DEP-2", f"the deployment is {status.value}", "status"))
    problems += required(reason, Unmet("DEP-2", "say why the deployment is halted", "reason"))
    raise_if_any(problems)


def check_end(actor: Actor, status: DeploymentStatus, assignments: Sequence[Assignment]) -> None:
    problems = commander_problems(actor, assignments)
    if status not in (DeploymentStatus.RUNNING, DeploymentStatus.HALTED):
        problems.append(Unmet("DEP-2", f"the deployment is {status.value}", "status"))
    raise_if_any(problems)


def check_cancel(
    actor: Actor,
    status: DeploymentStatus,
    assignments: Sequence[Assignment],
    reason: str,
    planned_by: str,
) -> None:
    """A planned deployment that will not go ahead is cancelled, with the reason reported,
    by its Silver or Gold, or by whoever planned it (whether or not commanders have been
    assigned yet: the planner may always withdraw a plan that has not started)."""
    problems = commander_problems(actor, assignments)
    if actor.user_id == planned_by:
        problems = [p for p in problems if p.rule != "DEP-2"]
    if status is not DeploymentStatus.PLANNED:
        problems.append(Unmet("DEP-2", f"the deployment is {status.value}", "status"))
    problems += required(reason, Unmet("DEP-2", "say why the deployment is cancelled", "reason"))
    raise_if_any(problems)


def staffing_changer_problems(
    actor: Actor, assignments: Sequence[Assignment], answerable: Collection[str] = ()
) -> list[Unmet]:
    """DEP-1: a deployment's staff are changed by its own Gold or Silver, or by those
    answerable for it (`answerable`: its planner and applicant); any Gold or Silver may
    take command of one that has no Gold or Silver yet."""
    commanders = {a.user_id for a in assignments if a.role in (Role.GOLD, Role.SILVER)}
    if actor.user_id in commanders or actor.user_id in answerable:
        return []
    if not commanders and (actor.has(Role.GOLD) or actor.has(Role.SILVER)):
        return []
    return [Unmet("DEP-1", "only this deployment's Gold or Silver changes its staff", "actor")]


def check_assign(
    actor: Actor,
    status: DeploymentStatus,
    person: Actor,
    role: Role,
    trained: bool,
    assignments: Sequence[Assignment] = (),
    answerable: Collection[str] = (),
) -> None:
    """Staff are assigned by Gold or Silver (Gold by the applicant) before the deployment
    finishes, only when trained for the role (TRN-1), and never as both operator and
    engagement officer of one deployment (ADJ-2, given its current `assignments`).

    Once the deployment has a Gold or Silver, only they, or those `answerable` for it (its
    planner and applicant), change its staff: a commander of no part in it cannot join it
    (and so read its alerts) or staff it (`staffing_changer_problems`)."""
    problems = human_problems(actor)
    may_assign = actor.has(Role.GOLD) or actor.has(Role.SILVER) or actor.has(Role.APPLICANT)
    if not may_assign:
        problems.append(Unmet("DEP-1", "Gold, Silver or the applicant assigns", "actor"))
    else:
        problems += staffing_changer_problems(actor, assignments, answerable)
    if status.finished:
        problems.append(Unmet("DEP-1", f"the deployment is {status.value}", "status"))
    problems += assignment_problems(person, role, trained)
    problems += separation_problems(assignments, person.user_id, role)
    raise_if_any(problems)


# --- what should run (the reconciler's one predicate) ---


@dataclass(frozen=True, slots=True)
class RunVerdict:
    """Whether a deployment's recognition should be running now, and if the record itself
    must change first: `stop` names the rule that takes a running deployment out of force
    (its window ended, an urgent authority lapsed, a veto), so it is ended for that reason.
    A running deployment without a sealed watchlist does not run, but is not ended: that is
    a fault for people to look at, not a rule's end."""

    run: bool
    stop: Unmet | None = None


def run_verdict(
    status: DeploymentStatus,
    authority: Authority,
    watchlist_sealed: bool,
    at: datetime,
    urgent_validity: timedelta,
) -> RunVerdict:
    """RUNNING, under an authority in force (window, urgent lapse, veto), with its
    watchlist sealed (DEP-1, DEP-2, AUTH-1, AUTH-3, AUTH-4, WL-1): then it runs."""
    if status is not DeploymentStatus.RUNNING:
        return RunVerdict(run=False)
    problems = authority_problems(authority, at, urgent_validity)
    if problems:
        return RunVerdict(run=False, stop=problems[0])
    return RunVerdict(run=watchlist_sealed)
