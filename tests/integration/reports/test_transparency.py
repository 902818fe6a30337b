"""Transparency (PUB-1..3): announcements, results, open data, the feed, documents; no
public output ever carries an image, a template, a subject reference or a name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.refusal import Refusal
from lfr.reports import transparency
from lfr.reports.transparency import DocumentKind
from lfr.services import publication
from tests.db_fixtures import Personas
from tests.integration.governance.world import CachingEnroler
from tests.integration.reports.recorded import (
    Recorded,
    assert_clean,
    forbidden_values,
    sign_off,
)

pytestmark = pytest.mark.db


def test_results_appear_after_sign_off_and_carry_nothing_personal(
    session_factory: SessionFactory,
    personas: Personas,
    recorded: Recorded,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """PUB-1/PUB-2/PUB-3: results only after review; every public output scanned for every
    subject reference, id, name, image and template of the seeded deployment."""
    with transaction(session_factory) as session:
        assert transparency.results(session) == []
    sign_off(session_factory, personas, recorded)
    with transaction(session_factory) as session:
        announced = transparency.announcements(session)
        published = transparency.results(session)
    assert [a.status for a in announced] == ["ended"]
    assert announced[0].places == ["Station exit north", "Station exit south"]
    assert len(published) == 1
    result = published[0]
    assert (result.alerts, result.true_alerts, result.false_alerts) == (5, 2, 2)
    assert (result.engagements, result.arrests, result.faces_seen) == (3, 1, 125)
    assert result.watchlist_size == 2
    outputs = [
        transparency.results_csv(published),
        transparency.results_json(published),
        transparency.atom_feed(announced, published, "http://example.test").decode(),
        *(a.model_dump_json() for a in announced),
    ]
    forbidden = forbidden_values(recorded, personas, enroler, faces_dir)
    for text in outputs:
        assert_clean(text, forbidden)


def test_open_data_round_trips(
    session_factory: SessionFactory, personas: Personas, recorded: Recorded
) -> None:
    """PUB-3: CSV and JSON read back to the same rows, under the documented columns."""
    sign_off(session_factory, personas, recorded)
    with transaction(session_factory) as session:
        published = transparency.results(session)
    csv_text = transparency.results_csv(published)
    assert csv_text.splitlines()[0] == ",".join(transparency.RESULT_COLUMNS)
    assert transparency.results_from_csv(csv_text) == published
    assert transparency.results_from_json(transparency.results_json(published)) == published
    with pytest.raises(ValueError, match="header"):
        transparency.results_from_csv("deployment_id,title\nx,y\n")


def test_atom_feed_is_well_formed(
    session_factory: SessionFactory, personas: Personas, recorded: Recorded
) -> None:
    sign_off(session_factory, personas, recorded)
    with transaction(session_factory) as session:
        feed = transparency.atom_feed(
            transparency.announcements(session), transparency.results(session), "http://x.test"
        )
    root = ElementTree.fromstring(feed)
    entries = root.findall(f"{{{transparency.ATOM}}}entry")
    titles = sorted(e.findtext(f"{{{transparency.ATOM}}}title") or "" for e in entries)
    assert len(entries) == 2
    assert titles[0].startswith("Planned:")
    assert titles[1].startswith("Results:")


def test_an_announcement_can_be_delayed_for_a_recorded_reason(
    session_factory: SessionFactory, personas: Personas, planned_world: object
) -> None:
    """PUB-1: hidden until the recorded time; the reason is required and audited."""
    with transaction(session_factory) as session:
        (announced,) = transparency.announcements(session)
    authority_id = announced.authority_id
    later = utcnow() + timedelta(hours=2)
    with pytest.raises(Refusal, match="reason"), transaction(session_factory) as session:
        publication.delay_announcement(
            session, personas.authorising_officer, authority_id, later, " "
        )
    with (
        pytest.raises(Refusal, match="authorising officer"),
        transaction(session_factory) as session,
    ):
        publication.delay_announcement(session, personas.operator, authority_id, later, "x")
    with transaction(session_factory) as session:
        publication.delay_announcement(
            session, personas.authorising_officer, authority_id, later, "covert phase first"
        )
    with transaction(session_factory) as session:
        assert transparency.announcements(session) == []
        assert len(transparency.announcements(session, now=later)) == 1
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "publication.delay")
        ).one()
    assert entry.reason == "covert phase first"


def test_documents_are_published_by_an_administrator_only(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """PUB-3: a PDF is published with its hash; wrong types and roles are refused."""
    pdf = b"%PDF-1.4\n% legal mandate\n"
    with pytest.raises(Refusal, match="administrator"), transaction(session_factory) as session:
        publication.upload_document(
            session,
            personas.auditor,
            title="Legal mandate",
            kind=DocumentKind.LEGAL_MANDATE,
            filename="mandate.pdf",
            content_type="application/pdf",
            content=pdf,
        )
    with pytest.raises(Refusal, match="PDF"), transaction(session_factory) as session:
        publication.upload_document(
            session,
            personas.administrator,
            title="Legal mandate",
            kind=DocumentKind.LEGAL_MANDATE,
            filename="mandate.pdf",
            content_type="application/pdf",
            content=b"<html>",
        )
    with transaction(session_factory) as session:
        row = publication.upload_document(
            session,
            personas.administrator,
            title="Legal mandate",
            kind=DocumentKind.LEGAL_MANDATE,
            filename="mandate.pdf",
            content_type="application/pdf",
            content=pdf,
        )
    with transaction(session_factory) as session:
        (listed,) = transparency.documents(session)
        document, content = transparency.document_file(session, row.id)
    assert listed.sha256 == document.sha256
    assert content == pdf
