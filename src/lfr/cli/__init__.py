"""The `lfr` command.

Each module in this package that defines ``register(app: typer.Typer) -> None`` adds its
commands; the package discovers them, so an area (engine, governance, web) adds a command
by adding one file here and never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="lfr",
    help="Live Facial Recognition with the framework's safeguards built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Live Facial Recognition with the framework's safeguards built in."""


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands()


def main() -> None:
    from sqlalchemy.exc import OperationalError

    from lfr.db.session import unanswered_reason

    try:
        app()
    except OperationalError as error:  # the database server is down or refuses us
        said = unanswered_reason(error)
        typer.echo(f"error: the database (LFR_DATABASE_URL) cannot be reached: {said}", err=True)
        raise SystemExit(1) from None
