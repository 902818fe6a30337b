"""`lfr version`."""

from __future__ import annotations

import typer

from lfr import __version__


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the version of lfr."""
        typer.echo(__version__)
