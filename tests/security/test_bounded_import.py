"""The bulk watchlist import does bounded work (issue 23, item 4; WL-3..5).

Found: 2,000 rows held SQLite's write lock for 167 s (other users' requests failed with
"database is locked" after 30 s); each row stored its own copy of a shared image (0.9 MB
uploaded became 600 MB); a CSV field over 128 KiB gave a 500."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lfr.audit import record
from lfr.db.governance import WatchlistEntryRow, WatchlistImageRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.refusal import Refusal
from lfr.services import watchlist_import
from lfr.services.watchlists import PreparedEnroler, VisionEnroler, prepare_enrolments
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.web.test_uploads import (
    ATTESTED,
    add_entry,
    compiler,
    entry_form,
    import_csv,
    import_files,
    watchlist_id,
)

pytestmark = pytest.mark.db

__all__ = ["compiler", "watchlist_id"]

ROW = "PNC-{n},wanted_by_courts,warrant,custody,{image}"


def _parse(table: bytes) -> list[watchlist_import.ImportRow]:
    return watchlist_import.parse_import(
        table, "list.csv", attests_image_is_subject=True, attests_still_of_interest=True
    )


def test_a_field_over_128_kib_is_refused_naming_its_line(
    compiler: TestClient, watchlist_id: str
) -> None:
    """Found: Python's csv module raised `field larger than field limit`, a 500."""
    table = import_csv([ROW.format(n=1, image="a.jpg"), ROW.format(n=2, image="b.jpg" * 30_000)])
    response = compiler.post(
        f"/api/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(table, {"a.jpg": b"\xff\xd8\xff"}),
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "list.csv"
    assert problem["reason"] == "line 3: a field longer than 128 KiB"


def test_an_import_has_a_row_limit() -> None:
    limit = watchlist_import.MAX_IMPORT_ROWS
    rows = [ROW.format(n=n, image=f"{n}.jpg") for n in range(limit)]
    assert len(_parse(import_csv(rows))) == limit
    with pytest.raises(Refusal, match=f"at most {limit} rows per import"):
        _parse(import_csv([*rows, ROW.format(n="extra", image="x.jpg")]))


def test_each_photograph_is_stored_once(
    compiler: TestClient, watchlist_id: str, web_context: WebContext, faces_dir: Path
) -> None:
    """Found: 2,000 rows naming the same few files stored a copy per row. One photograph
    shows one subject: a second row naming it (or the same bytes under another name) is
    refused, naming both rows, and nothing is stored."""
    obama = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    rows = [
        ROW.format(n="A", image="obama.jpg"),
        ROW.format(n="B", image="obama.jpg"),
        ROW.format(n="C", image="copy.jpg"),
    ]
    response = compiler.post(
        f"/api/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(import_csv(rows), {"obama.jpg": obama, "copy.jpg": obama}),
    )
    assert response.status_code == 422
    reasons = {(p["field"], p["reason"]) for p in response.json()["detail"]}
    assert reasons == {
        ("row 3 image", "image 'obama.jpg' is already used by row 2: one photograph, one subject"),
        ("row 4 image", "image 'copy.jpg' is already used by row 2: one photograph, one subject"),
    }
    with transaction(web_context.db) as session:
        assert session.scalar(select(func.count()).select_from(WatchlistImageRow)) == 0


def test_a_photograph_already_on_the_list_is_refused_in_a_later_import_and_a_single_entry(
    compiler: TestClient, watchlist_id: str, web_context: WebContext, faces_dir: Path
) -> None:
    """Found: the same photograph was refused twice within one import, but a second import,
    and a single entry after it, put it on two more subjects. Each later one is refused,
    naming the subject it is already listed for; another photograph of anyone is taken."""
    obama = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    biden = (faces_dir / "face_recognition-examples" / "biden.jpg").read_bytes()
    first = compiler.post(
        f"/api/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(import_csv([ROW.format(n="R1", image="o.jpg")]), {"o.jpg": obama}),
    )
    assert first.status_code == 201, first.text
    rows = [ROW.format(n="R2", image="again.jpg"), ROW.format(n="R3", image="b.jpg")]
    again = compiler.post(
        f"/api/watchlists/{watchlist_id}/import",
        data=ATTESTED,
        files=import_files(import_csv(rows), {"again.jpg": obama, "b.jpg": biden}),
    )
    assert again.status_code == 422
    (problem,) = again.json()["detail"]
    assert problem["field"] == "row 2 again.jpg"
    assert problem["reason"] == (
        "this photograph is already on the list for PNC-R1: one photograph, one subject"
    )
    single = add_entry(compiler, watchlist_id, "obama.jpg", obama, entry_form())
    assert single.status_code == 422
    assert "already on the list for PNC-R1" in single.text
    with transaction(web_context.db) as session:
        assert session.scalar(select(func.count()).select_from(WatchlistImageRow)) == 1
    taken = add_entry(compiler, watchlist_id, "biden.jpg", biden, entry_form())
    assert taken.status_code == 303


def test_an_import_writes_in_short_batches_and_others_write_between(
    web_context: WebContext,
    personas: Personas,
    watchlist_id: str,
    enroler: VisionEnroler,
    faces_dir: Path,
) -> None:
    """Found: one transaction for the whole file, so every other write waited for it. Now
    every row is checked first (read only), then rows are written `IMPORT_BATCH_ROWS` at a
    time; between two batches another person's write goes through at once."""
    files = sorted((faces_dir / "deepface-dataset").glob("img*.jpg"))[:14]
    photos = {path.name: path.read_bytes() for path in files}
    table = import_csv([ROW.format(n=n, image=name) for n, name in enumerate(photos)])
    rows = _parse(table)
    prepared = prepare_enrolments(enroler, list(photos.values()))
    usable = [row for row in rows if _usable(prepared, photos[row.image_names[0]])]
    assert len(usable) > watchlist_import.IMPORT_BATCH_ROWS
    factory = web_context.db
    seen: list[tuple[int, int, bool]] = []

    def others_write(added: int) -> None:
        done = threading.Event()
        writer = threading.Thread(target=_write_and_signal, args=(factory, personas, done))
        writer.start()
        seen.append((added, _entries(factory), done.wait(timeout=30)))
        writer.join(timeout=30)

    added = watchlist_import.import_entries(
        factory,
        personas.applicant,
        watchlist_id,
        usable,
        photos,
        prepared,
        after_batch=others_write,
    )
    assert len(added) == len(usable) == _entries(factory)
    first_added, entries_then, wrote = seen[0]
    assert first_added == entries_then == watchlist_import.IMPORT_BATCH_ROWS
    assert wrote, "another person's write waited for the import"
    assert len(seen) == -(-len(usable) // watchlist_import.IMPORT_BATCH_ROWS)


def _usable(prepared: PreparedEnroler, image: bytes) -> bool:
    try:
        prepared.enrol(image, "image")
    except Refusal:
        return False
    return True


def _write_and_signal(factory: SessionFactory, personas: Personas, done: threading.Event) -> None:
    with transaction(factory) as session:
        record(
            session,
            actor=personas.engineer,
            action="camera.note",
            object_type="camera",
            object_id="cam-1",
            summary="a write by someone else during an import",
        )
    done.set()


def _entries(factory: SessionFactory) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(WatchlistEntryRow)) or 0
