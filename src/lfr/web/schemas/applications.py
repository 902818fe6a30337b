"""Applications, decisions, consultations and authorities (AUTH-*)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from lfr.db.governance import (
    AuthorityRow,
    ConsultationRow,
)
from lfr.domain.authorisation import (
    ApplicationStatus,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
)
from lfr.domain.categories import WatchlistCategory
from lfr.web.schemas.base import CameraName, PlaceName, Schema


class WindowIn(Schema):
    start: datetime
    end: datetime


class ApplicationIn(Schema):
    """An application's answers (AUTH-1); a draft may leave any of them empty."""

    title: str = Field("", max_length=200)
    lawful_basis: str = Field("", max_length=20000)
    legitimate_aim: str = Field("", max_length=20000)
    intelligence_case: str = Field("", max_length=20000)
    necessity: str = Field("", max_length=20000)
    proportionality: str = Field("", max_length=20000)
    alternatives: str = Field("", max_length=20000)
    places: list[PlaceName] = Field(default_factory=list, max_length=100)
    place_category: PlaceCategory | None = None
    window: WindowIn | None = None
    cameras: list[CameraName] = Field(default_factory=list, max_length=100)
    scale_justification: str = Field("", max_length=20000)
    watchlist_rationale: str = Field("", max_length=20000)
    watchlist_categories: list[WatchlistCategory] = Field(default_factory=list)
    safeguards: str = Field("", max_length=20000)
    equality_considerations: str = Field("", max_length=20000)
    urgent: bool = False
    urgency_reason: str = Field("", max_length=20000)


class ConsultationOut(Schema):
    id: int
    outcome: ConsultationOutcome
    comments: str
    consulted_by: str
    consulted_at: datetime


class AuthorityOut(Schema):
    """The authority a decision granted; `confirmed_at` is set once a Superintendent confirms
    an urgent one (AUTH-3), and `lapses_at` says when an unconfirmed urgent one stops."""

    id: str
    application_id: str
    wad_sha256: str
    urgent: bool
    window_start: datetime
    window_end: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    lapses_at: datetime | None


class ApplicationSummary(Schema):
    id: str
    title: str
    status: ApplicationStatus
    urgent: bool


class ApplicationOut(Schema):
    id: str
    status: ApplicationStatus
    applicant_id: str
    application: dict[str, Any] = Field(description="The answers, as `ApplicationIn`.")
    decision_kind: DecisionKind | None
    decision_reasons: str | None
    decided_at: datetime | None
    consultations: list[ConsultationOut]
    authority: AuthorityOut | None


class WindowCondition(Schema):
    start: datetime
    end: datetime


class ConditionsIn(Schema):
    """What an approval with conditions narrows (AUTH-2); leave out what stays as applied."""

    max_watchlist_size: int | None = Field(None, ge=1)
    allowed_categories: list[WatchlistCategory] | None = None
    places: list[str] | None = None
    cameras: list[str] | None = None
    window: WindowCondition | None = None
    alert_threshold: float | None = Field(None, gt=0, le=1)


class DecisionIn(Schema):
    kind: DecisionKind
    reasons: str = Field(max_length=20000)
    conditions: ConditionsIn | None = None
    threshold_justification: str | None = Field(None, max_length=20000)


class ConsultationIn(Schema):
    outcome: ConsultationOutcome
    comments: str = Field(max_length=20000)


class Reason(Schema):
    """Why, for the audit log."""

    reason: str = Field(max_length=4000)


class WadOut(Schema):
    """The Written Authority Document as frozen (AUTH-5), checked against its hash."""

    authority_id: str
    sha256: str
    wad: dict[str, Any]


def consultation_out(row: ConsultationRow) -> ConsultationOut:
    return ConsultationOut(
        id=row.id,
        outcome=row.outcome,
        comments=row.comments,
        consulted_by=row.consulted_by,
        consulted_at=row.consulted_at,
    )


def authority_out(row: AuthorityRow, lapses_at: datetime | None) -> AuthorityOut:
    return AuthorityOut(
        id=row.id,
        application_id=row.application_id,
        wad_sha256=row.wad_sha256,
        urgent=row.urgent,
        window_start=row.window_start,
        window_end=row.window_end,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
        lapses_at=lapses_at,
    )
