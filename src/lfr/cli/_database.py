"""Helpers shared by the CLI commands that open the database (not a command module)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from lfr.db.session import make_engine, make_session_factory, transaction
from lfr.settings import Settings, get_settings, settings_error_line


def load_settings() -> Settings:
    """The settings, or a clear message and exit 2 when they are invalid or insecure."""
    try:
        return get_settings()
    except ValidationError as error:
        typer.echo(f"error: invalid settings: {settings_error_line(error)}", err=True)
        raise typer.Exit(2) from error


@contextmanager
def database_transaction() -> Iterator[Session]:
    """One transaction on the configured database; committed when the command succeeds."""
    engine = make_engine(load_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


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
