"""What an authority allows, read from its Written Authority Document, in the words the pages
show (AUTH-2, AUTH-5, AUTH-6): the application, watchlist and WAD pages all show the same
conditions, so that nobody works from an approval without seeing what it was narrowed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lfr.db.governance import AuthorityRow
from lfr.domain.authorisation import (
    Application,
    Decision,
    Scope,
    read_wad,
    scope_of,
    verify_wad,
)
from lfr.domain.categories import WatchlistCategory


@dataclass(frozen=True, slots=True)
class AuthorityTerms:
    """An authority's frozen application and decision, and the scope they give."""

    authority_id: str
    application: Application
    decision: Decision
    scope: Scope
    sha256: str
    created_at: datetime

    @property
    def categories(self) -> list[WatchlistCategory]:
        """The categories the watchlist may hold, in the order the form lists them."""
        return [c for c in WatchlistCategory if c in self.scope.categories]

    @property
    def rank(self) -> str:
        return self.decision.decided_by_rank.name.replace("_", " ").title()

    @property
    def decision_words(self) -> str:
        return self.decision.kind.value.replace("_", " ").capitalize()

    @property
    def narrowed(self) -> list[str]:
        """The names of the conditions the decision set (the rest are as applied for)."""
        conditions = self.decision.conditions.to_json()
        return [name for name, value in conditions.items() if value is not None]


def terms_of(row: AuthorityRow) -> AuthorityTerms:
    """The terms of `row`, after checking its document still matches its hash (AUTH-5)."""
    verify_wad(row.wad, row.wad_sha256)
    application, decision = read_wad(row.wad)
    return AuthorityTerms(
        authority_id=row.id,
        application=application,
        decision=decision,
        scope=scope_of(application, decision.conditions),
        sha256=row.wad_sha256,
        created_at=row.created_at,
    )
