"""The bulk watchlist import and everyone else's writes (issue 23, item 4; WL-3..5).

    PYTHONPATH=src nice -n 10 python -m benchmarks.import_lock             # SQLite, 40 rows
    PYTHONPATH=src nice -n 10 python -m benchmarks.import_lock --rows 50 --database-url URL

One import of `--rows` subjects (a deepface photograph each, enrolled beforehand, as the
route does outside any transaction) while another person writes an audit entry every
50 ms. Per row of the table, the rows written per transaction: the whole file at once (as
before: one transaction held the write lock for the whole file) and the shipped batches
(`IMPORT_BATCH_ROWS`). It prints the import's wall time, the longest write transaction of
the import, and the other person's writes: how many, their p50 / max wait.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.db_fixtures import Personas, make_personas, persona_accounts

from benchmarks import shared_data_dir
from lfr.audit import record
from lfr.db.session import SessionFactory, transaction
from lfr.demo import authorise, rehearsal_application
from lfr.keyring import prepare_database
from lfr.services import watchlist_import, watchlists
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import PreparedEnroler, VisionEnroler, prepare_enrolments
from lfr.settings import Settings

ROW = "PNC-{n},wanted_by_courts,warrant,custody,{image}"
WRITE_EVERY_S = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    photos = _photos(args.rows)
    enroler = VisionEnroler.default()
    prepared = prepare_enrolments(enroler, list(photos.values()))
    print(f"{len(photos)} rows, {len(photos)} photographs (enrolled before the import)\n")
    print(
        "| rows per transaction | import s | longest import transaction s | other writes "
        "| their wait p50 / max ms |"
    )
    print("|---|---|---|---|---|")
    for batch in (len(photos), watchlist_import.IMPORT_BATCH_ROWS):
        db, personas, watchlist_id = _world(args.database_url)
        rows = watchlist_import.parse_import(
            "\n".join(
                ["subject_reference,category,reason,image_source,image"]
                + [ROW.format(n=n, image=name) for n, name in enumerate(photos)]
            ).encode(),
            "list.csv",
            attests_image_is_subject=True,
            attests_still_of_interest=True,
        )
        longest, waits, took = _measure(db, personas, watchlist_id, rows, photos, prepared, batch)
        print(
            f"| {batch} | {took:.2f} | {longest:.2f} | {len(waits)} | "
            f"{statistics.median(waits) * 1000:.0f} / {max(waits) * 1000:.0f} |"
        )


def _photos(count: int) -> dict[str, bytes]:
    folder = shared_data_dir() / "faces" / "deepface-dataset"
    files = sorted(folder.glob("img*.jpg"))
    enroler = VisionEnroler.default()
    usable: dict[str, bytes] = {}
    for path in files:
        if len(usable) == count:
            break
        data = path.read_bytes()
        if data in usable.values():
            continue
        try:
            enroler.enrol(data, path.name)
        except Exception:  # not one usable face: not a row of this import
            continue
        usable[path.name] = data
    return usable


def _world(database_url: str | None) -> tuple[SessionFactory, Personas, str]:
    settings = Settings(environment="test", data_dir=Path(tempfile.mkdtemp(prefix="lfr-import-")))
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    db = prepare_database(settings)
    personas = make_personas(db)
    _, authority_id = authorise(
        db, persona_accounts(personas), rehearsal_application(personas.applicant)
    )
    with transaction(db) as session:
        policy = GovernancePolicy.from_settings(settings)
        watchlist = watchlists.create_watchlist(
            session, personas.applicant, authority_id, policy=policy
        )
        watchlist_id = watchlist.id
    return db, personas, watchlist_id


def _measure(
    db: SessionFactory,
    personas: Personas,
    watchlist_id: str,
    rows: list[watchlist_import.ImportRow],
    photos: dict[str, bytes],
    prepared: PreparedEnroler,
    batch: int,
) -> tuple[float, list[float], float]:
    waits: list[float] = []
    stop = threading.Event()

    def other_person() -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            with transaction(db) as session:
                record(
                    session,
                    actor=personas.engineer,
                    action="camera.note",
                    object_type="camera",
                    object_id="cam-1",
                    summary="another person's write",
                )
            waits.append(time.perf_counter() - asked)
            time.sleep(WRITE_EVERY_S)

    writer = threading.Thread(target=other_person)
    longest = [0.0]
    with _timed_batches(longest), _batch_size(batch):
        writer.start()
        started = time.perf_counter()
        watchlist_import.import_entries(
            db, personas.applicant, watchlist_id, rows, photos, prepared
        )
        took = time.perf_counter() - started
    stop.set()
    writer.join()
    return longest[0], waits, took


@contextmanager
def _batch_size(rows: int) -> Iterator[None]:
    shipped = watchlist_import.IMPORT_BATCH_ROWS
    watchlist_import.IMPORT_BATCH_ROWS = rows
    try:
        yield
    finally:
        watchlist_import.IMPORT_BATCH_ROWS = shipped


@contextmanager
def _timed_batches(longest: list[float]) -> Iterator[None]:
    """Times each batch's transaction (`_add_batch`), keeping the longest."""
    add_batch = watchlist_import._add_batch

    def timed(*args: Any, **kwargs: Any) -> list[str]:
        started = time.perf_counter()
        try:
            return add_batch(*args, **kwargs)
        finally:
            longest[0] = max(longest[0], time.perf_counter() - started)

    watchlist_import._add_batch = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        watchlist_import._add_batch = add_batch  # type: ignore[assignment]


if __name__ == "__main__":
    main()
