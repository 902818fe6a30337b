"""`lfr retention run | policy` (DP-1, WL-6)."""

from __future__ import annotations

from datetime import timedelta

import typer

from lfr.cli._database import database_transaction
from lfr.cli._settings import load_settings
from lfr.services.policy import GovernancePolicy
from lfr.services.retention import run_retention_if_due

retention_app = typer.Typer(
    help="Published retention periods and the deletion run.", no_args_is_help=True
)


@retention_app.command()
def run() -> None:
    """Delete every alert and watchlist biometric that is due; each deletion is audited."""
    policy = GovernancePolicy.from_settings(load_settings())
    with database_transaction() as session:
        report = run_retention_if_due(session, interval=timedelta(0), policy=policy)
    assert report is not None  # an interval of zero is always due
    typer.echo(
        f"deleted {report.alerts_deleted} alert(s); destroyed the images and templates of "
        f"{report.watchlists_destroyed} watchlist(s) ({report.images_destroyed} images)"
    )


@retention_app.command()
def policy() -> None:
    """Print the published retention table (DP-1)."""
    for row in GovernancePolicy.from_settings(load_settings()).retention.table():
        typer.echo(f"{row.rule:<6} {row.data}: {row.period}")


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
