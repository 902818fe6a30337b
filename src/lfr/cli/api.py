"""`lfr api openapi`: print the JSON API's OpenAPI document (docs/openapi.json is this)."""

from __future__ import annotations

import typer

api_app = typer.Typer(help="The JSON API's contract.", no_args_is_help=True)


@api_app.command()
def openapi() -> None:
    """Print the OpenAPI document that /api/openapi.json serves (for client generators)."""
    from lfr.web.openapi import openapi_text

    typer.echo(openapi_text(), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(api_app, name="api")
