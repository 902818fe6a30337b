"""`lfr config show`: every effective setting, its value, where it came from (default,
file, environment, argument) and what it is for; secrets masked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lfr.cli._settings import ConfigFile, load_settings, load_standalone_settings
from lfr.effective_settings import EffectiveSetting, effective_settings

config_app = typer.Typer(help="The settings in effect.", no_args_is_help=True)


@config_app.command()
def show(
    config: ConfigFile = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list: name, variable, value, source.")
    ] = False,
    node: Annotated[
        bool,
        typer.Option(
            "--node", help="As `lfr node` and `lfr watch` read them: no service secret asked."
        ),
    ] = False,
) -> None:
    """Print every effective setting with its source and description (secrets masked)."""
    settings = load_standalone_settings(config) if node else load_settings(config)
    arguments = {"config_file": config} if config is not None else {}
    rows = effective_settings(settings, arguments)
    if as_json:
        typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    for row in rows:
        typer.echo(_text(row))


def _text(row: EffectiveSetting) -> str:
    value = "unset" if row.value is None else json.dumps(row.value)
    line = f"{row.name} = {value}  ({row.source.value}; {row.variable})"
    return f"{line}\n    {row.description}" if row.description else line


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
