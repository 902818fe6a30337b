"""Deployments: staffing, the start checklist, halt, end and cancellation (DEP-1, DEP-2, TRN-1).

A deployment starts only when every condition of DEP-1 holds; the checklist returns every
unmet condition at once so that Silver sees the whole picture, not one refusal at a time.
Silver or Gold halts a running deployment with a reason (DEP-2); a halt is final for that
deployment's processing, and it is then ended. A planned deployment may be cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lfr.domain.authorisation import Authority, authority_problems, outside_scope
from lfr.domain.people import Actor, Role
from lfr.domain.rules import Violation, blank, human_problems, raise_if_any
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


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    user_id: str
    role: Role
    completed_at: datetime
    expires_at: datetime


def is_trained(records: Sequence[TrainingRecord], user_id: str, role: Role, at: datetime) -> bool:
    return any(
        r.user_id == user_id and r.role is role and r.completed_at <= at < r.expires_at
        for r in records
    )


def assignment_problems(
    person: Actor, role: Role, records: Sequence[TrainingRecord], at: datetime
) -> list[Violation]:
    """TRN-1: a person is assigned only to a role they hold and are trained for, in date."""
    problems: list[Violation] = []
    if role not in DEPLOYMENT_ROLES:
        problems.append(Violation("DEP-1", "role", f"{role.value} is not a deployment role"))
    if not person.has(role):
        problems.append(Violation("TRN-1", role.value, f"{person.name} does not hold the role"))
    if not is_trained(records, person.user_id, role, at):
        problems.append(
            Violation("TRN-1", role.value, f"{person.name} has no in-date training for the role")
        )
    return problems


@dataclass(frozen=True, slots=True)
class Assignment:
    user_id: str
    role: Role


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
    training: Sequence[TrainingRecord]
    urgent_validity: timedelta
    currency_limit: timedelta = CURRENCY_LIMIT


def start_problems(context: StartContext, at: datetime) -> list[Violation]:
    """Every unmet condition of DEP-1 at `at`; empty means the deployment may start."""
    problems: list[Violation] = []
    if context.status is not DeploymentStatus.PLANNED:
        problems.append(Violation("DEP-1", "status", f"the deployment is {context.status.value}"))
    authority = context.authority
    problems += [_as_dep1(p) for p in authority_problems(authority, at, context.urgent_validity)]
    if not authority.consulted:
        problems.append(Violation("AUTH-4", "consultation", "no chief officer consulted yet"))
    scope = authority.scope
    if not scope.window.contains(at):
        problems.append(Violation("DEP-1", "window", "now is outside the authorised window"))
    problems += _where_problems(context)
    problems += seal_problems(
        context.watchlist, scope, at, context.watchlist_sealed, context.currency_limit
    )
    problems += staffing_problems(context.assignments, context.people, context.training, at)
    return problems


def _as_dep1(problem: Violation) -> Violation:
    return Violation(problem.rule, "authority", f"no authority in force: {problem.reason}")


def _where_problems(context: StartContext) -> list[Violation]:
    scope = context.authority.scope
    problems: list[Violation] = []
    if not context.places:
        problems.append(Violation("DEP-1", "place", "name the place of deployment"))
    if not context.cameras:
        problems.append(Violation("DEP-1", "camera", "name at least one camera"))
    problems += outside_scope(scope, places=context.places, cameras=context.cameras)
    return problems


def staffing_problems(
    assignments: Sequence[Assignment],
    people: Mapping[str, Actor],
    training: Sequence[TrainingRecord],
    at: datetime,
) -> list[Violation]:
    """Gold, Silver, Bronze, an operator and an engagement officer, each trained (TRN-1)."""
    problems: list[Violation] = []
    for role in DEPLOYMENT_ROLES:
        if not any(a.role is role for a in assignments):
            problems.append(Violation("DEP-1", role.value, f"no {role.value} assigned"))
    for assignment in assignments:
        person = people.get(assignment.user_id)
        if person is None:
            problems.append(
                Violation("DEP-1", assignment.role.value, f"unknown person {assignment.user_id}")
            )
            continue
        problems += assignment_problems(person, assignment.role, training, at)
    return problems


def commander_problems(actor: Actor, assignments: Sequence[Assignment]) -> list[Violation]:
    """The acting person is this deployment's Silver or Gold (DEP-2, [13])."""
    problems = human_problems(actor)
    commands = {a.role for a in assignments if a.user_id == actor.user_id}
    if not commands & {Role.SILVER, Role.GOLD}:
        problems.append(Violation("DEP-2", "actor", "only this deployment's Silver or Gold"))
    return problems


def check_start(actor: Actor, context: StartContext, at: datetime) -> None:
    raise_if_any(commander_problems(actor, context.assignments) + start_problems(context, at))


def check_halt(
    actor: Actor, status: DeploymentStatus, assignments: Sequence[Assignment], reason: str
) -> None:
    """DEP-2: Silver (or Gold) halts a running deployment at any moment, saying why."""
    problems = commander_problems(actor, assignments)
    if status is not DeploymentStatus.RUNNING:
        problems.append(Violation("DEP-2", "status", f"the deployment is {status.value}"))
    if blank(reason):
        problems.append(Violation("DEP-2", "reason", "say why the deployment is halted"))
    raise_if_any(problems)


def check_end(actor: Actor, status: DeploymentStatus, assignments: Sequence[Assignment]) -> None:
    problems = commander_problems(actor, assignments)
    if status not in (DeploymentStatus.RUNNING, DeploymentStatus.HALTED):
        problems.append(Violation("DEP-2", "status", f"the deployment is {status.value}"))
    raise_if_any(problems)


def check_cancel(
    actor: Actor, status: DeploymentStatus, assignments: Sequence[Assignment], reason: str
) -> None:
    """A planned deployment that will not go ahead is cancelled, with the reason reported."""
    problems = commander_problems(actor, assignments)
    if status is not DeploymentStatus.PLANNED:
        problems.append(Violation("DEP-2", "status", f"the deployment is {status.value}"))
    if blank(reason):
        problems.append(Violation("DEP-2", "reason", "say why the deployment is cancelled"))
    raise_if_any(problems)


def check_assign(
    actor: Actor,
    status: DeploymentStatus,
    person: Actor,
    role: Role,
    training: Sequence[TrainingRecord],
    at: datetime,
) -> None:
    """Staff are assigned by Gold or Silver (Gold by the applicant) before the deployment
    finishes, and only when trained for the role (TRN-1)."""
    problems = human_problems(actor)
    may_assign = actor.has(Role.GOLD) or actor.has(Role.SILVER) or actor.has(Role.APPLICANT)
    if not may_assign:
        problems.append(Violation("DEP-1", "actor", "Gold, Silver or the applicant assigns"))
    if status.finished:
        problems.append(Violation("DEP-1", "status", f"the deployment is {status.value}"))
    problems += assignment_problems(person, role, training, at)
    raise_if_any(problems)
