"""`lfr db upgrade | current`: the database schema (Alembic migrations in the package)."""

from __future__ import annotations

from typing import Annotated

import typer

from lfr.cli._database import load_settings
from lfr.db import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="Target revision (default: the newest).")] = "head",
) -> None:
    """Create or update the tables of the configured database (LFR_DATABASE_URL)."""
    url = load_settings().database_url
    migrate.upgrade(url, revision)
    typer.echo(f"database at revision {migrate.current_revision(url)}")


@db_app.command()
def current() -> None:
    """Print the revision the database is at."""
    typer.echo(migrate.current_revision(load_settings().database_url) or "empty (no revision)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
