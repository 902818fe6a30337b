"""Engines, sessions and the one way services change data: ``transaction()``.

SQLite (the embedded default) runs in WAL mode so readers never block the writer, with
foreign keys enforced and a busy timeout so a second writer waits instead of failing.
Every SQLite transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up
front, so a read-then-write sequence (the audit chain head, claiming an alert) can never
be overtaken between its read and its write. Readers that must not wait can use
``reading()``, which starts a deferred transaction.

PostgreSQL goes through psycopg 3 (``postgresql+psycopg://...``); ordering there comes
from row locks (``SELECT ... FOR UPDATE``) taken by the services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock. Longer: fewer 'database is locked' errors
under bursts; shorter: a stuck writer is reported sooner."""

_BEGIN_OPTION = "lfr_sqlite_begin"

SessionFactory = sessionmaker[Session]


def unanswered_reason(error: DBAPIError) -> str:
    """Why the database did not answer, in one line: the first line of the driver's error
    (psycopg's second line is a hint), else its type; never the statement or its
    parameters, which the error's own text carries."""
    text = str(error.orig).strip() if error.orig is not None else ""
    return text.splitlines()[0] if text else type(error.orig or error).__name__


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with lfr's connection settings applied."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that "begin" below decides how.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The wait comes first: switching a new file to WAL needs the write lock, which an
        # instance migrating beside this one may hold for longer than the driver's 5 s.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def make_session_factory(engine: Engine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit (no expire on commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back everything if it raises.

    Services and their audit entries write through the session given here, so a change and
    its audit entry are committed together or not at all (AUD-1).
    """
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: SessionFactory) -> Iterator[Session]:
    """A read-only unit of work that never waits for SQLite's write lock; rolled back."""
    with factory() as session:
        session.connection(execution_options={_BEGIN_OPTION: "DEFERRED"})
        try:
            yield session
        finally:
            session.rollback()
