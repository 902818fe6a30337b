"""What an authority allows, read from its Written Authority Document, in the words the pages
show (AUTH-2, AUTH-5, AUTH-6): the application, watchlist and WAD pages all show the same
conditions, so that nobody works from an approval without seeing what it was narrowed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import AuthorityRow, DeploymentRow
from lfr.domain.authorisation import (
    Application,
    Decision,
    Scope,
    read_wad,
    scope_of,
    verify_wad,
)
from lfr.domain.categories import WatchlistCategory
from lfr.reports.recognition import (
    THRESHOLD_OF_AUTHORITY,
    RecognitionConfig,
    RecognitionSettings,
    recognition_of,
    resolve_recognition,
    threshold_words,
)


@dataclass(frozen=True, slots=True)
class ThresholdStatement:
    """The authority's alert threshold as a number (AUTH-2, REC-2): its deployment's
    recorded configuration once there is one, else what a deployment would resolve now
    from its threshold condition and the settings (`resolve_recognition`, the same road)."""

    recognition: RecognitionConfig
    recorded: bool
    """True: the deployment's recorded configuration; False: no deployment yet."""

    @property
    def summary(self) -> str:
        """``0.946: a stranger scores this high about 1 in 23,000 comparisons``."""
        return threshold_words(self.recognition.threshold, self.recognition.false_match_rate)

    @property
    def origin(self) -> str:
        """Where the number comes from, in words."""
        if self.recognition.threshold_source == THRESHOLD_OF_AUTHORITY:
            origin = "the authority's condition"
        else:
            origin = "no condition set: the engine's configured threshold"
        recorded = "recorded with the deployment" if self.recorded else "no deployment yet"
        return f"{origin}; {recorded}"


def threshold_statement(
    session: Session, authority: AuthorityRow, settings: RecognitionSettings
) -> ThresholdStatement:
    deployment = session.scalars(
        select(DeploymentRow).where(DeploymentRow.authority_id == authority.id)
    ).one_or_none()
    if deployment is not None and deployment.recognition is not None:
        return ThresholdStatement(recognition_of(deployment), recorded=True)
    application, decision = read_wad(authority.wad)
    threshold = scope_of(application, decision.conditions).alert_threshold
    return ThresholdStatement(resolve_recognition(settings, threshold).config, recorded=False)


@dataclass(frozen=True, slots=True)
class AuthorityTerms:
    """An authority's frozen application and decision, and the scope they give."""

    authority_id: str
    application: Application
    decision: Decision
    scope: Scope
    sha256: str
    created_at: datetime
    threshold: ThresholdStatement

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


def terms_of(row: AuthorityRow, threshold: ThresholdStatement) -> AuthorityTerms:
    """The terms of `row`, after checking its document still matches its hash (AUTH-5),
    with its threshold as a number (`threshold_statement`)."""
    verify_wad(row.wad, row.wad_sha256)
    application, decision = read_wad(row.wad)
    return AuthorityTerms(
        authority_id=row.id,
        application=application,
        decision=decision,
        scope=scope_of(application, decision.conditions),
        sha256=row.wad_sha256,
        created_at=row.created_at,
        threshold=threshold,
    )


def authority_terms(
    session: Session, row: AuthorityRow, settings: RecognitionSettings
) -> AuthorityTerms:
    return terms_of(row, threshold_statement(session, row, settings))
