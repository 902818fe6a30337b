"""`lfr audit check`: compliance findings (AUD-2); exit 1 when any is a failure."""

from __future__ import annotations

import typer

from lfr.cli._database import database_transaction
from lfr.cli._settings import load_settings
from lfr.cli.audit import audit_app
from lfr.services.compliance import Level, check_compliance
from lfr.services.policy import GovernancePolicy


def check() -> None:
    """Check authorities in force, watchlist currency and composition, training, retention."""
    policy = GovernancePolicy.from_settings(load_settings())
    with database_transaction() as session:
        findings = check_compliance(session, policy=policy)
    for finding in findings:
        typer.echo(str(finding))
    failures = sum(f.level is Level.FAILURE for f in findings)
    warnings = sum(f.level is Level.WARNING for f in findings)
    typer.echo(f"{failures} failure(s), {warnings} warning(s)")
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    # The `audit` group belongs to lfr.cli.audit; this area adds its `check` command to it.
    audit_app.command("check")(check)
