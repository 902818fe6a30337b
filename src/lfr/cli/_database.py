"""Helpers shared by the CLI commands that open the database (not a command module).

A command that reads or changes the record opens the database that exists, never a new
empty one: `existing_database_url` finds the default SQLite file from any folder inside
the installation's tree (``data/lfr.db`` in this folder or one above it) and otherwise
stops with a message that says how to point at it (``LFR_DATA_DIR``, ``LFR_DATABASE_URL``).
Only `lfr db upgrade` and `lfr serve` create a database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lfr.cli._settings import load_settings
from lfr.db.session import transaction
from lfr.keyring import engine_of, open_database
from lfr.settings import Settings

DATABASE_FILE = "lfr.db"


class NoDatabaseError(RuntimeError):
    """The configured SQLite database does not exist (and must not be created here)."""


def existing_database_url(settings: Settings, start: Path | None = None) -> str:
    """The URL of the configured database, which must exist. A server database (PostgreSQL)
    is taken as configured. An SQLite file named by the settings must exist; with the
    default (``data/lfr.db``, neither LFR_DATA_DIR nor LFR_DATABASE_URL set) the folders
    from `start` (this one) upwards are searched for it, so a command run from a subfolder
    finds the installation's record."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return settings.database_url
    database = Path(url.database or "")
    if database.is_file():
        return settings.database_url
    chosen = {"data_dir", "database_url"} & settings.model_fields_set
    if not chosen and not settings.data_dir.is_absolute():
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            found = folder / settings.data_dir / DATABASE_FILE
            if found.is_file():
                return str(url.set(database=str(found)))
    raise NoDatabaseError(
        f"no database at {database.resolve()}: nothing was created. `lfr serve` (or "
        "`lfr db upgrade`) creates it; from another folder, set LFR_DATA_DIR to the data "
        "folder that holds lfr.db, or LFR_DATABASE_URL."
    )


def existing_database_or_exit(settings: Settings) -> str:
    """`existing_database_url`, or its message and exit 2."""
    try:
        return existing_database_url(settings)
    except NoDatabaseError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@contextmanager
def database_transaction() -> Iterator[Session]:
    """One transaction on the configured, existing database, opened with the settings'
    keys; committed when the command succeeds."""
    settings = load_settings()
    db = open_database(settings, existing_database_or_exit(settings))
    try:
        with transaction(db) as session:
            yield session
    finally:
        engine_of(db).dispose()


@contextmanager
def console_transaction() -> Iterator[Session]:
    """One transaction for a change made at the server's console: a refusal is printed
    (``refused: <rule> (<field>): <reason>``) and the command exits 1, nothing changed."""
    from lfr.domain.refusal import Refusal

    try:
        with database_transaction() as session:
            yield session
    except Refusal as refusal:
        typer.echo(f"refused: {refusal}", err=True)
        raise typer.Exit(1) from None
