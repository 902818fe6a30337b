"""Helpers shared by the governance rules (AUTH, WL, DEP, ADJ, DP).

A rule function either returns the list of what is unmet (`Unmet`: rule, reason, field),
so that a checklist can show every unmet condition at once (DEP-1), or raises a
`Refusal` (one condition) / `Refusals` (several), defined in `lfr.domain.refusal`.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import NoReturn

from lfr.domain.people import SYSTEM_ACTOR, Actor
from lfr.domain.refusal import Refusal, Refusals, Unmet


def refuse(rule: str, reason: str, field: str | None = None) -> NoReturn:
    """Raise the `Refusal`, arguments in its own order (rule, reason, field)."""
    raise Refusal(rule, reason, field)


def raise_if_any(problems: Iterable[Unmet]) -> None:
    """Raise `Refusals` naming every unmet condition, if there is any."""
    found = list(problems)
    if found:
        raise Refusals(found)


def invisible(character: str) -> bool:
    """A character that shows nothing: white space, or a format character (Unicode
    category Cf: U+200B zero-width space, U+202E right-to-left override, U+FEFF, …)."""
    return character.isspace() or unicodedata.category(character) == "Cf"


def blank(text: str | None) -> bool:
    """No text, or text that reads as nothing: a reason made only of invisible characters
    is no reason."""
    return text is None or all(invisible(character) for character in text)


def repeated(names: Iterable[str]) -> list[str]:
    """The names given more than once, each named once, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def required(text: str | None, unmet: Unmet) -> list[Unmet]:
    """`unmet` when a text the rule requires (a reason, a reference) is missing or blank."""
    return [unmet] if blank(text) else []


def human_problems(actor: Actor, field: str = "actor") -> list[Unmet]:
    """ADJ-4: decisions about people are taken by a person, never by the software itself."""
    if actor.user_id == SYSTEM_ACTOR.user_id:
        return [Unmet("ADJ-4", "only a person may take this decision, not the system", field)]
    return []
