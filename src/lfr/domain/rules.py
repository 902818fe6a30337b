"""How a rule says no: every refusal names the SPEC requirement and the field.

A rule function either returns the list of what is wrong (so that a checklist can show
every unmet condition at once, DEP-1) or raises `RuleViolationError` carrying that list.
Pages, the API and the CLI show `violation.rule`, `violation.field` and `violation.reason`
as they are; nothing is lost by collapsing several problems into one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from lfr.domain.people import SYSTEM_ACTOR, Actor


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which requirement (SPEC id), which field, and why."""

    rule: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule} [{self.field}]: {self.reason}"


class RuleViolationError(Exception):
    """The framework forbids what was asked; carries every violation found."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        if not self.violations:
            raise ValueError("a RuleViolationError needs at least one violation")
        super().__init__("; ".join(str(violation) for violation in self.violations))

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(violation.rule for violation in self.violations)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(violation.field for violation in self.violations)


def refuse(rule: str, field: str, reason: str) -> NoReturn:
    raise RuleViolationError([Violation(rule, field, reason)])


def raise_if_any(violations: Iterable[Violation]) -> None:
    found = list(violations)
    if found:
        raise RuleViolationError(found)


def blank(text: str | None) -> bool:
    return text is None or not text.strip()


def is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def require_aware(moment: datetime, field: str) -> None:
    """Times are compared across machines and stored: a naive one is ambiguous."""
    if not is_aware(moment):
        refuse("AUD-1", field, "time must carry a time zone (UTC)")


def human_problems(actor: Actor, field: str = "actor") -> list[Violation]:
    """ADJ-4: decisions about people are taken by a person, never by the software itself."""
    if actor.user_id == SYSTEM_ACTOR.user_id:
        return [Violation("ADJ-4", field, "only a person may take this decision, not the system")]
    return []
