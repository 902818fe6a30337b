"""How a rule says no: a ``Refusal`` names the rule (SPEC id) and, where it applies, the field.

Pure domain rules raise it; services let it pass unchanged; the web and the CLI show
``str(refusal)``. Several unmet conditions are reported together (e.g. DEP-1) through
``Refusals``, so the person sees everything to fix at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unmet:
    """One unmet condition: the rule, the field it concerns (if any) and why."""

    rule: str
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.rule}{where}: {self.reason}"


class Refusal(Exception):  # noqa: N818 (a refusal is an outcome, not a fault)
    """The framework forbids this action; nothing was changed."""

    def __init__(self, rule: str, reason: str, field: str | None = None) -> None:
        self.unmet: tuple[Unmet, ...] = (Unmet(rule, reason, field),)
        super().__init__(str(self.unmet[0]))

    @property
    def rule(self) -> str:
        return self.unmet[0].rule

    @property
    def field(self) -> str | None:
        return self.unmet[0].field

    @property
    def reason(self) -> str:
        return self.unmet[0].reason


class Refusals(Refusal):
    """Several conditions are unmet; all are listed."""

    def __init__(self, unmet: Sequence[Unmet]) -> None:
        if not unmet:
            raise ValueError("Refusals needs at least one unmet condition")
        Exception.__init__(self, "; ".join(str(item) for item in unmet))
        self.unmet = tuple(unmet)


class NotFound(Refusal):
    """The object named does not exist (or the actor may not know it exists)."""

    def __init__(self, object_type: str, object_id: str) -> None:
        super().__init__("not-found", f"no {object_type} {_shown(object_id)}", object_type)


SHOWN_ID_CHARS = 80
"""An id longer than any the system makes is not echoed whole (a 5,000-character path)."""


def _shown(object_id: str) -> str:
    if len(object_id) <= SHOWN_ID_CHARS:
        return repr(object_id)
    return f"{object_id[:SHOWN_ID_CHARS]!r}… ({len(object_id)} characters)"
