"""`lfr db upgrade | current | rekey`: the database schema (Alembic migrations in the
package), and re-sealing its encrypted values under a new biometric key (DP-2)."""

from __future__ import annotations

from typing import Annotated

import typer

from lfr.cli._database import database_transaction, existing_database_or_exit
from lfr.cli._settings import load_settings
from lfr.crypto import DecryptionError
from lfr.db import migrate
from lfr.services.biometric_keys import rekey as rekey_values
from lfr.services.people import console_actor

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
    url = existing_database_or_exit(load_settings())
    typer.echo(migrate.current_revision(url) or "empty (no revision)")


@db_app.command()
def rekey() -> None:
    """Re-seal every encrypted image, template and secret under LFR_BIOMETRIC_KEY (after a
    key rotation: the old key in LFR_BIOMETRIC_PREVIOUS_KEYS); audited. All or nothing."""
    try:
        with database_transaction() as session:
            report = rekey_values(session, console_actor())
    except DecryptionError as error:
        typer.echo(f"error: nothing was re-sealed: {error}", err=True)
        raise typer.Exit(1) from error
    for column, count in report.resealed.items():
        typer.echo(f"{column}: {count} re-sealed")
    typer.echo(f"every encrypted value is now sealed under key {report.key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
