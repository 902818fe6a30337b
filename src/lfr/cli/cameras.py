"""`lfr cameras set | list`: where each named camera's video comes from (REC-1), from the
server's console, as the administrator (also on the Cameras page and through the API)."""

from __future__ import annotations

from typing import Annotated

import typer

from lfr.cli._database import console_transaction, database_transaction
from lfr.services import cameras, people
from lfr.vision import source_types
from lfr.vision.sources import shown

cameras_app = typer.Typer(help="Camera sources (REC-1).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cameras_app, name="cameras")


@cameras_app.command("set")
def set_source(
    name: Annotated[str, typer.Argument(help="The camera's name, as authorised.")],
    source: Annotated[str, typer.Argument(help=f"{source_types.WRITTEN}.")],
) -> None:
    """Set (or change) a camera's source; audited."""
    with console_transaction() as session:
        cameras.configure_camera(session, people.console_actor(), name, source)
    typer.echo(f"camera {name}: {shown(source)}")


@cameras_app.command("list")
def list_sources() -> None:
    """Every camera and its source (a stream's user name and password hidden)."""
    with database_transaction() as session:
        for row in cameras.all_cameras(session):
            typer.echo(f"{row.name:<20} {shown(row.source)}")
