"""Watchlists, their entries and the blue list (WL-*, REC-6)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from lfr.db.governance import (
    BlueListEntryRow,
    WatchlistEntryRow,
    WatchlistRow,
)
from lfr.domain.categories import WatchlistCategory
from lfr.web.schemas.base import Schema


class EntryOut(Schema):
    id: str
    subject_reference: str
    category: WatchlistCategory
    reason: str
    image_source: str
    date_of_birth: date | None
    images: int
    image_qualities: list[float] = Field(
        description="the enrolment gate's quality of each image (0 to 1), in the order added"
    )
    added_at: datetime


class ImageCheckOut(Schema):
    """Whether the enrolment gate would accept one image (WL-5)."""

    name: str = Field(description="the uploaded file's name")
    usable: bool
    quality: float | None = Field(description="0 to 1; null when the image is refused")
    reasons: list[str] = Field(description="why it is refused; empty when usable")


class BlueListEntryOut(Schema):
    id: str
    staff_user_id: str
    consent_statement: str
    image_source: str
    enrolled_at: datetime
    enrolled_by: str


class WatchlistOut(Schema):
    id: str
    authority_id: str
    created_at: datetime
    sealed_at: datetime | None
    biometrics_destroyed_at: datetime | None
    entries: list[EntryOut]
    blue_list: list[BlueListEntryOut]


class WatchlistIn(Schema):
    authority_id: str = Field(max_length=64)


def entry_out(row: WatchlistEntryRow) -> EntryOut:
    return EntryOut(
        id=row.id,
        subject_reference=row.subject_reference,
        category=row.category,
        reason=row.reason,
        image_source=row.image_source,
        date_of_birth=row.date_of_birth,
        images=len(row.images),
        image_qualities=[round(image.quality_score, 3) for image in row.images],
        added_at=row.added_at,
    )


def blue_entry_out(row: BlueListEntryRow) -> BlueListEntryOut:
    return BlueListEntryOut(
        id=row.id,
        staff_user_id=row.staff_user_id,
        consent_statement=row.consent_statement,
        image_source=row.image_source,
        enrolled_at=row.enrolled_at,
        enrolled_by=row.enrolled_by,
    )


def watchlist_out(row: WatchlistRow) -> WatchlistOut:
    return WatchlistOut(
        id=row.id,
        authority_id=row.authority_id,
        created_at=row.created_at,
        sealed_at=row.sealed_at,
        biometrics_destroyed_at=row.biometrics_destroyed_at,
        entries=[entry_out(e) for e in row.entries],
        blue_list=[blue_entry_out(b) for b in row.blue_entries],
    )
