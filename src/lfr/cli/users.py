"""`lfr users add | train | disable | enable | set-roles | reset-password |
reset-second-factor | grants | approve | resets | approve-reset`: accounts and training from
the server's console.

The console acts as administrator (it holds the database already); every change is
audited as ``console (<os user>)``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from lfr.cli._database import console_transaction, database_transaction
from lfr.domain.people import Rank, Role
from lfr.services import people
from lfr.web import signin

_PASSWORD, _SECOND_FACTOR = people.ResetKind.PASSWORD, people.ResetKind.SECOND_FACTOR

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
    with console_transaction() as session:
        user, initial = people.create_one_time_account(
            session,
            actor=people.console_actor(),
            username=username,
            display_name=name,
            rank=_parse_rank(rank),
            roles=roles,
            password=password,
        )
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
    with console_transaction() as session:
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
    typer.echo(f"{username}: {trained_role.value} training valid until {expires_at.date()}")


Reason = Annotated[str, typer.Option(help="Why (recorded in the audit log).")]


def _user_id(session: Session, username: str) -> str:
    user = people.find_user(session, username)
    if user is None:
        raise typer.BadParameter(f"no account {username!r}", param_hint="USERNAME")
    return user.id


@users_app.command()
def disable(username: Annotated[str, typer.Argument()], reason: Reason) -> None:
    """Disable an account; its sessions end at once."""
    with console_transaction() as session:
        signin.disable_account(session, people.console_actor(), _user_id(session, username), reason)
    typer.echo(f"{username}: disabled, signed out everywhere")


@users_app.command()
def enable(username: Annotated[str, typer.Argument()], reason: Reason) -> None:
    """Enable a disabled account."""
    with console_transaction() as session:
        people.set_active(
            session,
            actor=people.console_actor(),
            user_id=_user_id(session, username),
            active=True,
            reason=reason,
        )
    typer.echo(f"{username}: enabled")


@users_app.command("set-roles")
def set_roles(
    username: Annotated[str, typer.Argument()],
    reason: Reason,
    role: Annotated[
        list[str] | None, typer.Option(help=f"Role(s) to hold, repeatable. One of: {_ROLES}.")
    ] = None,
) -> None:
    """Replace an account's roles (none given: it holds none)."""
    roles = [_parse_role(text) for text in role or []]
    with console_transaction() as session:
        user = people.set_roles(
            session,
            actor=people.console_actor(),
            user_id=_user_id(session, username),
            roles=roles,
            reason=reason,
        )
        held = ", ".join(sorted(r.value for r in user.roles)) or "none"
    typer.echo(f"{username}: roles {held}")


@users_app.command("reset-password")
def reset_password(username: Annotated[str, typer.Argument()], reason: Reason) -> None:
    """Issue a new one-time password (printed once); the holder replaces it at sign-in."""
    with console_transaction() as session:
        outcome = signin.reset_sign_in(
            session, people.console_actor(), _user_id(session, username), _PASSWORD, reason
        )
    typer.echo(f"{username}: one-time password: {outcome.password}")


@users_app.command("reset-second-factor")
def reset_second_factor(username: Annotated[str, typer.Argument()], reason: Reason) -> None:
    """Remove the second factor; a new one is enrolled with the one-time password printed."""
    with console_transaction() as session:
        outcome = signin.reset_sign_in(
            session, people.console_actor(), _user_id(session, username), _SECOND_FACTOR, reason
        )
    typer.echo(f"{username}: second factor removed; one-time password: {outcome.password}")


@users_app.command()
def grants() -> None:
    """List role grants awaiting a second administrator."""
    with database_transaction() as session:
        for grant in people.pending_grants(session):
            typer.echo(f"{grant.id}  {grant.roles}  for {grant.user_id}: {grant.reason}")


@users_app.command()
def approve(
    grant_id: Annotated[str, typer.Argument(help="The grant's id (`lfr users grants`).")],
) -> None:
    """Approve a pending role grant as the second person."""
    with console_transaction() as session:
        outcome = signin.decide_grant(session, people.console_actor(), grant_id, approve=True)
    typer.echo(f"grant {grant_id}: approved")
    if outcome.password is not None:
        replaced = "the one handed over before no longer works"
        typer.echo(f"New one-time password ({replaced}): {outcome.password}")


@users_app.command()
def resets() -> None:
    """List password and second-factor resets awaiting a second administrator."""
    with database_transaction() as session:
        for request in people.pending_resets(session):
            typer.echo(f"{request.id}  {request.kind}  for {request.user_id}: {request.reason}")


@users_app.command("approve-reset")
def approve_reset(
    reset_id: Annotated[str, typer.Argument(help="The request's id (`lfr users resets`).")],
) -> None:
    """Approve a pending reset as the second person; prints the one-time password once."""
    with console_transaction() as session:
        outcome = signin.decide_reset(session, people.console_actor(), reset_id, approve=True)
    typer.echo(f"reset {reset_id}: approved; one-time password: {outcome.password}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
