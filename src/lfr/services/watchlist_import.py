"""Bulk import of watchlist entries (WL-3..5): a CSV of subjects, one row each, naming the
image files uploaded with it. Every row is checked as a single entry is (fields, scope,
composition, each image through the enrolment gate) before anything is written; a refusal
names every problem by its row and adds nothing.

The work is bounded: at most `MAX_IMPORT_ROWS` rows, each uploaded photograph used by one
row only (so each is stored once), and the rows are written in short transactions of
`IMPORT_BATCH_ROWS` (on SQLite a write transaction holds the one write lock, so a whole file
in one held it for minutes and other people's requests failed with "database is locked").
Should a batch be refused after others were written (the watchlist was sealed meanwhile,
say), the refusal says which rows were added.

A row may name several images, separated by ``;`` (``front.jpg;side.jpg``): the engine
matches a subject's images as one template (their centroid), and three recent photographs
miss far fewer searches than one (docs/evaluation.md).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from lfr.db.session import SessionFactory, reading, transaction
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.domain.rules import repeated
from lfr.domain.watchlist import EntryDraft
from lfr.services.watchlists import MAX_IMAGES_PER_REQUEST, Enroler, add_entry, entries_problems

IMPORT_COLUMNS = ("subject_reference", "category", "reason", "image_source", "image")
"""Required columns; `date_of_birth` and `under_18_justification` are optional."""

IMAGE_SEPARATOR = ";"
"""Between the file names of one subject's images in the `image` column."""

MAX_IMPORT_ROWS = MAX_IMAGES_PER_REQUEST
"""Rows one import may carry: each row needs a photograph of its own and one request carries
at most this many, so a longer file could never be added whole."""

IMPORT_BATCH_ROWS = 10
"""Rows written per transaction. Fewer: other requests wait less between batches, but each
batch repeats the watchlist's checks; more: the reverse."""

BATCH_PAUSE_S = 0.1
"""Pause after each batch but the last. SQLite's busy handler retries a waiting writer at
most every 100 ms, so without a pause the import would take the lock again first, batch
after batch, and the other writers would still wait for the whole file. Shorter: the
import ends sooner, others may wait; longer: the reverse."""

MAX_FIELD_BYTES = 128 * 1024
"""Python's csv module refuses a longer field; the refusal names the line."""


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
    for number, record in _records(reader, name):
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
    try:
        fields = reader.fieldnames or []
    except csv.Error as error:
        raise _unreadable(reader, error, name) from None
    missing = [c for c in IMPORT_COLUMNS if c not in fields]
    if missing:
        raise Refusal("WL-3", f"missing column(s): {', '.join(missing)}", name)
    if twice := repeated(fields):
        raise Refusal("WL-3", f"column(s) named more than once: {', '.join(twice)}", name)
    return reader


def _records(reader: csv.DictReader[str], name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row with its number (the header is row 1), refusing a file longer than
    `MAX_IMPORT_ROWS` or one the csv module cannot read (a field over 128 KiB, say)."""
    number = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _unreadable(reader, error, name) from None
        number += 1
        if number - 1 > MAX_IMPORT_ROWS:
            raise Refusal(
                "WL-3", f"at most {MAX_IMPORT_ROWS} rows per import: split the file", name
            )
        yield number, record


def _unreadable(reader: csv.DictReader[str], error: csv.Error, name: str) -> Refusal:
    if "field larger than field limit" in str(error):
        reason = f"a field longer than {MAX_FIELD_BYTES // 1024} KiB"
    else:
        reason = f"not readable as CSV ({error})"
    # The reader counts a line once it is read whole: the refused one is the next.
    return Refusal("WL-3", f"line {reader.line_num + 1}: {reason}", name)


def _row(number: int, record: dict[str, str], image_ok: bool, interest_ok: bool) -> ImportRow:
    if None in record:  # the csv module keeps the cells beyond the header under None
        raise Refusal(
            "WL-3",
            "more cells than the header has columns: quote a cell that holds a comma",
            "columns",
        )
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


def _shared_images(rows: Sequence[ImportRow], uploaded: Mapping[str, bytes]) -> list[Unmet]:
    """Every photograph named by more than one row (or twice in one): one photograph shows
    one subject, and each is stored once."""
    first_row: dict[bytes, int] = {}
    problems: list[Unmet] = []
    for row in rows:
        for name in row.image_names:
            image = uploaded.get(name)
            if image is None:
                continue
            if image in first_row:
                where = "this row" if first_row[image] == row.number else f"row {first_row[image]}"
                problems.append(
                    Unmet(
                        "WL-3",
                        f"image {name!r} is already used by {where}: one photograph, one subject",
                        f"row {row.number} image",
                    )
                )
            else:
                first_row[image] = row.number
    return problems


def import_entries(
    factory: SessionFactory,
    actor: Actor,
    watchlist_id: str,
    rows: Sequence[ImportRow],
    uploaded: Mapping[str, bytes],
    enroler: Enroler,
    *,
    after_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """Check every row, then add them in short transactions (each entry audited as
    `add_entry` audits it); returns the new entries' ids. A refusal lists each row's
    problems; ``after_batch`` hears the number of rows added so far after each batch."""
    if len(rows) > MAX_IMPORT_ROWS:
        raise Refusal("WL-3", f"at most {MAX_IMPORT_ROWS} rows per import", "table")
    problems = _missing_images(rows, uploaded) + _shared_images(rows, uploaded)
    if problems:
        raise Refusals(problems)
    _check_rows(factory, actor, watchlist_id, rows, uploaded, enroler)
    added: list[str] = []
    for start in range(0, len(rows), IMPORT_BATCH_ROWS):
        batch = rows[start : start + IMPORT_BATCH_ROWS]
        added += _add_batch(factory, actor, watchlist_id, batch, uploaded, enroler, rows[0])
        if after_batch is not None:
            after_batch(len(added))
        if len(added) < len(rows):
            time.sleep(BATCH_PAUSE_S)  # let whoever waits for the write lock in
    return added


def _check_rows(
    factory: SessionFactory,
    actor: Actor,
    watchlist_id: str,
    rows: Sequence[ImportRow],
    uploaded: Mapping[str, bytes],
    enroler: Enroler,
) -> None:
    """Every row's problems at once, in a read-only transaction (no write lock held)."""
    entries = [(row.draft, [uploaded[name] for name in row.image_names]) for row in rows]
    with reading(factory) as session:
        found = entries_problems(session, actor, watchlist_id, entries, enroler)
    problems = [
        _at_row(row.number, _by_file(row, unmet))
        for row, row_problems in zip(rows, found, strict=True)
        for unmet in row_problems
    ]
    if problems:
        raise Refusals(problems)


def _add_batch(
    factory: SessionFactory,
    actor: Actor,
    watchlist_id: str,
    batch: Sequence[ImportRow],
    uploaded: Mapping[str, bytes],
    enroler: Enroler,
    first: ImportRow,
) -> list[str]:
    """One short transaction adding a batch; refused whole if anything changed since the
    check (saying which earlier rows were added)."""
    try:
        with transaction(factory) as session:
            return [
                add_entry(
                    session,
                    actor,
                    watchlist_id,
                    row.draft,
                    [uploaded[name] for name in row.image_names],
                    enroler,
                ).id
                for row in batch
            ]
    except Refusal as refusal:
        done = (
            f"rows {first.number}-{batch[0].number - 1} were added; "
            if batch[0].number > first.number
            else ""
        )
        reason = f"{done}nothing from row {batch[0].number} on was added"
        raise Refusals([*refusal.unmet, Unmet("WL-3", reason, "table")]) from None


def _by_file(row: ImportRow, unmet: Unmet) -> Unmet:
    """`add_entry` names a refused image by its place (`images[1]`); the CSV's author
    knows it by its file name."""
    field = unmet.field or ""
    if field.startswith("images[") and field.endswith("]"):
        return replace(unmet, field=row.image_names[int(field[len("images[") : -1])])
    return unmet
