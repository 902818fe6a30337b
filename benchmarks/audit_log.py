"""Audit log throughput: entries appended per second (one per transaction) and verified per
second, on SQLite and, when LFR_TEST_POSTGRES_URL is set, PostgreSQL.

    PYTHONPATH=src python benchmarks/audit_log.py [--entries 2000]

Prints a table; nothing is asserted (speed is shown, not tested).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from lfr.audit import record, verify
from lfr.db.migrate import upgrade
from lfr.db.session import make_engine, transaction
from lfr.domain.people import Actor, Rank, Role
from lfr.keyring import engine_of, open_database
from lfr.settings import Settings

ACTOR = Actor("bench", "Benchmark Operator", Rank.STAFF, frozenset({Role.OPERATOR}))


def measure(url: str, entries: int) -> tuple[float, float]:
    upgrade(url)
    factory = open_database(Settings(environment="test"), url)
    started = time.perf_counter()
    for number in range(entries):
        with transaction(factory) as session:
            record(
                session,
                actor=ACTOR,
                action="alert.dismiss",
                object_type="alert",
                object_id=number,
                summary=f"alert {number}",
                before={"state": "pending"},
                after={"state": "dismissed"},
                reason="not the person",
            )
    append_rate = entries / (time.perf_counter() - started)
    started = time.perf_counter()
    with transaction(factory) as session:
        assert verify(session).ok
    verify_rate = entries / (time.perf_counter() - started)
    engine_of(factory).dispose()
    return append_rate, verify_rate


def postgres_schema(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(base: str, schema: str) -> None:
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2000)
    entries = parser.parse_args().entries
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(("sqlite (WAL)", *measure(f"sqlite:///{Path(folder) / 'b.db'}", entries)))
    postgres = os.environ.get("LFR_TEST_POSTGRES_URL")
    if postgres:
        url, schema = postgres_schema(postgres)
        try:
            rows.append(("postgresql", *measure(url, entries)))
        finally:
            drop_schema(postgres, schema)
    print(f"{'database':<14} {'append/s':>10} {'verify/s':>10}   ({entries} entries)")
    for name, append_rate, verify_rate in rows:
        print(f"{name:<14} {append_rate:>10.0f} {verify_rate:>10.0f}")


if __name__ == "__main__":
    main()
