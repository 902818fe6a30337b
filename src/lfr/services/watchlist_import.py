"""Bulk import of watchlist entries (WL-3..5): a CSV of subjects, one row each, naming the
image files uploaded with it. Every row is checked as a single entry is (fields, scope,
composition, each image through the enrolment gate); all rows are added, or none, and the
refusal names every problem by its row.

A row may name several images, separated by ``;`` (``front.jpg;side.jpg``): the engine
matches a subject's images as one template (their centroid), and three recent photographs
miss far fewer searches than one (docs/evaluation.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.orm import Session

from lfr.db.governance import WatchlistEntryRow
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.domain.watchlist import EntryDraft
from lfr.services.watchlists import Enroler, add_entry

IMPORT_COLUMNS = ("subject_reference", "category", "reason", "image_source", "image")
"""Required columns; `date_of_birth` and `under_18_justification` are optional."""

IMAGE_SEPARATOR = ";"
"""Between the file names of one subject's images in the `image` column."""


@dataclass(frozen=True)
class ImportRow:
    """One subject of the CSV: its line number (the header is line 1), the entry it asks
    for and the names of its image files."""

    number: int
    draft: EntryDraft
    image_names: tuple[str, ...]


def category_from_text(value: str) -> WatchlistCategory | None:
    """A category's value as typed; blank is None (the entry rules then ask for one)."""
    try:
        return WatchlistCategory(value) if value else None
    except ValueError:
        raise Refusal("WL-3", f"unknown category {value!r}", "category") from None


def date_from_text(text: str) -> date | None:
    """A date of birth as typed (YYYY-MM-DD); blank is None, as it may be unknown."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refusal("WL-3a", f"not a date (YYYY-MM-DD): {text!r}", "date_of_birth") from None


def parse_import(
    data: bytes,
    name: str,
    *,
    attests_image_is_subject: bool,
    attests_still_of_interest: bool,
) -> list[ImportRow]:
    """The rows of a UTF-8 CSV with a header, the attestations applying to every row.
    Refuses an unreadable file, a missing column, no rows, or any row whose category,
    date or image names cannot be read (naming every such row at once)."""
    reader = _reader(data, name)
    rows: list[ImportRow] = []
    problems: list[Unmet] = []
    for number, record in enumerate(reader, start=2):
        try:
            rows.append(_row(number, record, attests_image_is_subject, attests_still_of_interest))
        except Refusal as refusal:
            problems += [_at_row(number, unmet) for unmet in refusal.unmet]
    if problems:
        raise Refusals(problems)
    if not rows:
        raise Refusal("WL-3", "no rows", name)
    return rows


def _reader(data: bytes, name: str) -> csv.DictReader[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refusal("WL-3", "not UTF-8 text", name) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in IMPORT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Refusal("WL-3", f"missing column(s): {', '.join(missing)}", name)
    return reader


def _row(number: int, record: dict[str, str], image_ok: bool, interest_ok: bool) -> ImportRow:
    names = tuple(n.strip() for n in (record["image"] or "").split(IMAGE_SEPARATOR) if n.strip())
    if not names:
        raise Refusal("WL-3", "no image named", "image")
    draft = EntryDraft(
        subject_reference=record["subject_reference"] or "",
        category=category_from_text((record["category"] or "").strip()),
        reason=record["reason"] or "",
        image_source=record["image_source"] or "",
        attests_image_is_subject=image_ok,
        attests_still_of_interest=interest_ok,
        date_of_birth=date_from_text(record.get("date_of_birth") or ""),
        under_18_justification=record.get("under_18_justification") or "",
    )
    return ImportRow(number, draft, names)


def _at_row(number: int, unmet: Unmet) -> Unmet:
    return replace(unmet, field=f"row {number} {unmet.field or ''}".strip())


def _missing_images(rows: Sequence[ImportRow], uploaded: Mapping[str, bytes]) -> list[Unmet]:
    """Every image a row names that was not uploaded with the CSV."""
    return [
        Unmet("WL-3", f"image {name!r} was not uploaded", f"row {row.number} image")
        for row in rows
        for name in row.image_names
        if name not in uploaded
    ]


def import_entries(
    session: Session,
    actor: Actor,
    watchlist_id: str,
    rows: Sequence[ImportRow],
    uploaded: Mapping[str, bytes],
    enroler: Enroler,
) -> list[WatchlistEntryRow]:
    """Add every row as an entry (each audited as `add_entry` audits it), or none: the
    refusal lists each row's problems. Run inside the caller's transaction."""
    problems = _missing_images(rows, uploaded)
    if problems:
        raise Refusals(problems)
    added: list[WatchlistEntryRow] = []
    for row in rows:
        images = [uploaded[name] for name in row.image_names]
        try:
            with session.begin_nested():
                added.append(add_entry(session, actor, watchlist_id, row.draft, images, enroler))
        except Refusal as refusal:
            problems += [_at_row(row.number, _by_file(row, u)) for u in refusal.unmet]
    if problems:
        raise Refusals(problems)
    return added


def _by_file(row: ImportRow, unmet: Unmet) -> Unmet:
    """`add_entry` names a refused image by its place (`images[1]`); the CSV's author
    knows it by its file name."""
    field = unmet.field or ""
    if field.startswith("images[") and field.endswith("]"):
        return replace(unmet, field=row.image_names[int(field[len("images[") : -1])])
    return unmet
