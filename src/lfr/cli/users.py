"""`lfr users add | train`: bootstrap accounts and training from the server's console."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from lfr.cli._database import database_transaction
from lfr.domain.people import Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import people
from lfr.web.signin import mark_one_time

users_app = typer.Typer(help="Accounts and training records.", no_args_is_help=True)

_RANKS = ", ".join(rank.name.lower() for rank in Rank)
_ROLES = ", ".join(role.value for role in Role)


def _parse_rank(text: str) -> Rank:
    try:
        return Rank[text.strip().upper().replace("-", "_").replace(" ", "_")]
    except KeyError as error:
        raise typer.BadParameter(
            f"{text!r} is not one of: {_RANKS}", param_hint="--rank"
        ) from error


def _parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower().replace("-", "_"))
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not one of: {_ROLES}", param_hint="--role"
        ) from error


def _parse_date(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not an ISO date", param_hint=option) from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _refused(refusal: Refusal) -> typer.Exit:
    typer.echo(f"refused: {refusal}", err=True)
    return typer.Exit(1)


@users_app.command()
def add(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Supt. Jane Smith'.")],
    rank: Annotated[str, typer.Option(help=f"One of: {_RANKS}.")],
    role: Annotated[
        list[str] | None, typer.Option(help=f"Role(s), repeatable. One of: {_ROLES}.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Initial one-time password (default: generated)."),
    ] = None,
) -> None:
    """Create an account as the console administrator; prints a one-time password.

    The password works for one sign-in only, which must replace it (as for accounts made on
    the People page): a second-factor role enrols its factor at that first sign-in, so the
    password alone can enrol one only while it is the one the administrator handed over."""
    roles = [_parse_role(text) for text in role or []]
    initial = password or people.generate_password()
    try:
        with database_transaction() as session:
            user = people.create_user(
                session,
                actor=people.console_actor(),
                username=username,
                display_name=name,
                rank=_parse_rank(rank),
                password=initial,
                roles=roles,
            )
            mark_one_time(session, user.id)
    except Refusal as refusal:
        raise _refused(refusal) from refusal
    typer.echo(f"created {user.username} ({user.display_name}) id {user.id}")
    if password is None:
        typer.echo(f"one-time password: {initial}")


@users_app.command()
def train(
    username: Annotated[str, typer.Argument(help="Whose training.")],
    role: Annotated[str, typer.Option(help=f"The role trained for. One of: {_ROLES}.")],
    expires: Annotated[str, typer.Option(help="Expiry date (ISO, e.g. 2027-06-30).")],
    completed: Annotated[str | None, typer.Option(help="Completion date (default: now).")] = None,
) -> None:
    """Record completed training for a role, valid until --expires (TRN-1)."""
    trained_role = _parse_role(role)
    expires_at = _parse_date(expires, "--expires")
    completed_at = _parse_date(completed, "--completed") if completed else datetime.now(UTC)
    try:
        with database_transaction() as session:
            user = people.find_user(session, username)
            if user is None:
                raise typer.BadParameter(f"no account {username!r}", param_hint="USERNAME")
            people.record_training(
                session,
                actor=people.console_actor(),
                user_id=user.id,
                role=trained_role,
                completed_at=completed_at,
                expires_at=expires_at,
            )
    except Refusal as refusal:
        raise _refused(refusal) from refusal
    typer.echo(f"{username}: {trained_role.value} training valid until {expires_at.date()}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
