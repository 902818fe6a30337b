"""Transparency (PUB-1..3): what the public sees, generated from the record.

- PUB-1 announcements: every authority in force or past, once approved, with date, area and
  purpose — never the watchlist's contents. An authorising officer (or Gold) may delay an
  announcement for a recorded operational reason, at most until the authorised window
  ends; the delay is audited (`lfr.services.publication.delay_announcement`), and this
  module honours it.
- PUB-2 results: every deployment whose review is signed off, from the review's frozen
  figures: date, times, place, watchlist size, faces seen, alerts, true and false alerts,
  engagements, arrests.
- PUB-3 open data (CSV and JSON with the documented, stable columns of `RESULT_COLUMNS`),
  an Atom feed, and the framework documents the force uploads
  (`lfr.services.publication.upload_document`).

Every public shape is a `...Public` model with `extra="forbid"`: it can carry only the
fields listed here, none of which is an image, a template, a subject reference or a
person's name (officers' names included).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal
from xml.etree import ElementTree

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.governance import AuthorityRow, DeploymentRow
from lfr.db.reports import PublicationDelayRow, PublicDocumentRow, ReviewStatus
from lfr.db.rows import moment
from lfr.domain.authorisation import ConsultationOutcome, read_wad
from lfr.domain.refusal import NotFound
from lfr.reports.review import figures_of, list_reviews

OPEN_DATA_FORMAT = "lfr-open-data/1"


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AnnouncementPublic(_Public):
    """A planned (or past) deployment as announced (PUB-1)."""

    authority_id: str = Field(description="Stable public identifier of the authority.")
    title: str = Field(description="The deployment's short name.")
    purpose: str = Field(description="The legitimate aim pursued.")
    place_category: str = Field(description="Why this kind of place (crime hotspot, ...).")
    places: list[str] = Field(description="Where: the authorised location(s).")
    window_start: datetime = Field(description="Authorised from (UTC).")
    window_end: datetime = Field(description="Authorised until (UTC).")
    authorised_on: date = Field(description="Date of the authorisation.")
    status: str = Field(description="planned, running, halted, ended or cancelled.")


class ResultPublic(_Public):
    """A deployment's results after its review (PUB-2): one row of the open data."""

    deployment_id: str = Field(description="Stable public identifier of the deployment.")
    title: str = Field(description="The deployment's short name.")
    date: dt.date = Field(description="Day the deployment started (UTC).")
    started_at: datetime = Field(description="When recognition started (UTC).")
    ended_at: datetime = Field(description="When recognition stopped: halt or end (UTC).")
    places: str = Field(description="Where, location names separated by '; '.")
    watchlist_size: int = Field(description="People on the watchlist.")
    faces_seen: int | None = Field(description="Faces the cameras processed (none kept).")
    alerts: int = Field(description="Alerts raised (blue-list tests excluded).")
    true_alerts: int = Field(description="Alerts where identity was confirmed.")
    false_alerts: int = Field(description="Alerts found wrong by the operator or on engaging.")
    engagements: int = Field(description="Alerts where an officer engaged the person.")
    arrests: int = Field(description="Engagements that ended in an arrest.")
    reviewed_on: dt.date = Field(description="Day the post-deployment review was signed off.")


RESULT_COLUMNS: dict[str, str] = {
    name: field.description or "" for name, field in ResultPublic.model_fields.items()
}
"""The open data's columns, in order, with their meaning: a published, stable contract
(new columns are only ever appended)."""


class DocumentKind(StrEnum):
    LEGAL_MANDATE = "legal_mandate"
    POLICY = "policy"
    PROCEDURE = "procedure"
    EQUALITY_IMPACT_ASSESSMENT = "equality_impact_assessment"
    DATA_PROTECTION_IMPACT_ASSESSMENT = "data_protection_impact_assessment"
    EVALUATION = "evaluation"
    OTHER = "other"


class DocumentPublic(_Public):
    id: str
    title: str
    kind: DocumentKind
    filename: str
    content_type: str
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the file, to check a downloaded copy.")
    uploaded_on: date


# --- PUB-1 announcements ---------------------------------------------------------------------


def announcements(session: Session, *, now: datetime | None = None) -> list[AnnouncementPublic]:
    """Every approved, not vetoed authority whose announcement is due, newest window first."""
    at = moment(now)
    delays = {d.authority_id: d.publish_from for d in session.scalars(select(PublicationDelayRow))}
    statuses = {
        d.authority_id: d.status.value
        for d in session.scalars(select(DeploymentRow))  # one deployment per authority
    }
    shown = []
    for row in session.scalars(select(AuthorityRow).order_by(AuthorityRow.window_start.desc())):
        if at < delays.get(row.id, row.created_at):
            continue
        if any(c.outcome is ConsultationOutcome.VETO for c in row.application.consultations):
            continue
        shown.append(_announcement(row, statuses.get(row.id, "planned")))
    return shown


def _announcement(row: AuthorityRow, status: str) -> AnnouncementPublic:
    application, decision = read_wad(row.wad)
    scope_places = decision.conditions.places or application.places
    category = application.place_category
    return AnnouncementPublic(
        authority_id=row.id,
        title=application.title,
        purpose=application.legitimate_aim,
        place_category=category.label if category else "",
        places=list(scope_places),
        window_start=row.window_start,
        window_end=row.window_end,
        authorised_on=decision.decided_at.date(),
        status=status,
    )


# --- PUB-2 results ---------------------------------------------------------------------------


def results(session: Session) -> list[ResultPublic]:
    """Every signed-off review's published figures, oldest deployment first."""
    shown = []
    for review in list_reviews(session):
        if review.status is not ReviewStatus.SIGNED_OFF or review.signed_off_at is None:
            continue
        shown.append(result_of(figures_of(session, review), review.signed_off_at))
    return sorted(shown, key=lambda r: r.started_at)


def result_of(figures: dict[str, Any], signed_off_at: datetime) -> ResultPublic:
    started = datetime.fromisoformat(figures["started_at"])
    return ResultPublic(
        deployment_id=figures["deployment_id"],
        title=figures["title"],
        date=started.date(),
        started_at=started,
        ended_at=datetime.fromisoformat(figures["stopped_at"]),
        places="; ".join(figures["places"]),
        watchlist_size=figures["watchlist"]["size"],
        faces_seen=figures["faces_seen"],
        alerts=figures["alerts"],
        true_alerts=figures["true_alerts"],
        false_alerts=figures["false_alerts"],
        engagements=figures["engagements"],
        arrests=figures["arrests"],
        reviewed_on=signed_off_at.date(),
    )


# --- PUB-3 open data and the feed ------------------------------------------------------------


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
"""A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV
injection): such a cell is written with a leading apostrophe, which spreadsheets show as
text and `results_from_csv` removes."""


def csv_cell(value: object) -> object:
    """A value as written to open-data CSV: text that a spreadsheet would run, defused.

    Carriage returns become line feeds: the writer quotes a cell holding a line feed but
    not one holding a lone carriage return, which would split the row for a reader."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return value


def _csv_value(text: str) -> str | None:
    if text == "":
        return None
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def results_csv(rows: Sequence[ResultPublic]) -> str:
    """The results as CSV with the `RESULT_COLUMNS` header; empty cells for unknowns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(RESULT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow({k: csv_cell(v) for k, v in data.items()})
    return buffer.getvalue()


def results_from_csv(text: str) -> list[ResultPublic]:
    """Read the open-data CSV back (the round trip the tests check); names a bad row."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != list(RESULT_COLUMNS):
        raise ValueError(f"open data CSV: header {reader.fieldnames} is not {list(RESULT_COLUMNS)}")
    rows = []
    for number, raw in enumerate(reader, start=2):
        values = {k: _csv_value(v) for k, v in raw.items()}
        try:
            rows.append(ResultPublic.model_validate(values))
        except ValueError as error:
            raise ValueError(f"open data CSV line {number}: {error}") from error
    return rows


def results_json(rows: Sequence[ResultPublic], *, generated_at: datetime | None = None) -> str:
    document = {
        "format": OPEN_DATA_FORMAT,
        "generated_at": (generated_at or utcnow()).isoformat(),
        "columns": RESULT_COLUMNS,
        "results": [row.model_dump(mode="json") for row in rows],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def results_from_json(text: str) -> list[ResultPublic]:
    document = json.loads(text)
    if document.get("format") != OPEN_DATA_FORMAT:
        raise ValueError(f"open data JSON: format {document.get('format')!r} is not ours")
    return [ResultPublic.model_validate(item) for item in document["results"]]


ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(
    announced: Sequence[AnnouncementPublic],
    published: Sequence[ResultPublic],
    base_url: str,
    *,
    updated: datetime | None = None,
) -> bytes:
    """An Atom feed (RFC 4287) with one entry per announcement and per result."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    base = base_url.rstrip("/")
    _text(feed, "title", "Live Facial Recognition: deployments and results")
    _text(feed, "id", f"{base}/public/feed.atom")
    _link(feed, f"{base}/public/feed.atom", "self")
    _link(feed, f"{base}/public", "alternate")
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "The force's LFR transparency pages")
    entries: list[tuple[datetime, str, str, str, str]] = [
        (
            datetime.combine(a.authorised_on, datetime.min.time(), a.window_start.tzinfo),
            f"{base}/public/deployments#a-{a.authority_id}",
            f"Planned: {a.title}",
            f"{base}/public#a-{a.authority_id}",  # the entry's id above stays as first published
            f"{', '.join(a.places)} from {a.window_start:%Y-%m-%d %H:%M} to "
            f"{a.window_end:%Y-%m-%d %H:%M} UTC. Purpose: {a.purpose}.",
        )
        for a in announced
    ]
    entries += [
        (
            r.ended_at,
            f"{base}/public/results/{r.deployment_id}",
            f"Results: {r.title} ({r.date.isoformat()})",
            f"{base}/public/results/{r.deployment_id}",
            f"{r.alerts} alerts ({r.true_alerts} true, {r.false_alerts} false), "
            f"{r.engagements} engagements, {r.arrests} arrests; "
            f"watchlist of {r.watchlist_size}; faces seen: "
            f"{r.faces_seen if r.faces_seen is not None else 'not reported'}.",
        )
        for r in published
    ]
    entries.sort(key=lambda e: e[0], reverse=True)
    newest = updated or (entries[0][0] if entries else utcnow())
    _text(feed, "updated", newest.isoformat())
    for when, entry_id, title, link, summary in entries:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", entry_id)
        _text(entry, "title", title)
        _text(entry, "updated", when.isoformat())
        _link(entry, link, "alternate")
        _text(entry, "summary", summary)
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _text(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}").text = text


def _link(parent: ElementTree.Element, href: str, rel: Literal["self", "alternate"]) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}link", {"href": href, "rel": rel})


# --- PUB-3 documents -------------------------------------------------------------------------


def documents(session: Session) -> list[DocumentPublic]:
    rows = session.scalars(select(PublicDocumentRow).order_by(PublicDocumentRow.uploaded_at.desc()))
    return [_document(row) for row in rows]


def _document(row: PublicDocumentRow) -> DocumentPublic:
    return DocumentPublic(
        id=row.id,
        title=row.title,
        kind=DocumentKind(row.kind),
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=len(row.content),
        sha256=row.sha256,
        uploaded_on=row.uploaded_at.date(),
    )


def document_file(session: Session, document_id: str) -> tuple[DocumentPublic, bytes]:
    row = session.get(PublicDocumentRow, document_id)
    if row is None:
        raise NotFound("public_document", document_id)
    return _document(row), row.content
