"""Applying the Alembic migrations that ship inside the package (`lfr db upgrade`).

On PostgreSQL the migrating transaction first takes an advisory lock, so that instances
started together on one database migrate one after another: the first applies the
migrations, the others wait, then find the database at the newest revision. On a SQLite
file they queue on a lock file beside it (`<file>.migrate-lock`) for the same reason.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, text
from sqlalchemy.orm import Session

from lfr.db.session import make_engine

_HERE = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK = 0x1F5_0001
"""The PostgreSQL advisory lock key that migrations hold (any constant no other lock uses)."""


def hold_first_start_lock(connection: Connection | Session) -> None:
    """On PostgreSQL, until the caller's transaction ends: what instances starting together
    must do one at a time (migrate, create the first administrator) waits here."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _run(url: str, step: Callable[[Config], None]) -> None:
    """Run an Alembic command in one transaction on lfr's engine (same pragmas as the app),
    one migrating instance at a time."""
    with _sqlite_file_lock(url):
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                hold_first_start_lock(connection)
                config = alembic_config(url)
                config.attributes["connection"] = connection
                step(config)
        finally:
            engine.dispose()


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """On a SQLite file, hold an exclusive lock on a file beside it while migrating.

    SQLite's own locks cannot order instances that open a new file together: each reads it
    (a shared lock) and then needs it alone to switch it to WAL, and SQLite answers one of
    them "database is locked" at once rather than let both wait for ever. So the migrating
    instances queue here first, as PostgreSQL's advisory lock makes them."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest)."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Step the database at ``url`` back to ``revision`` ("base": no tables)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
