"""Accounts, roles and training (SPEC "People and roles", TRN-1).

Every change writes its audit entry in the caller's transaction (AUD-1). Only an
administrator manages accounts; nobody changes their own roles or training, so no role is
ever granted by its holder ("no role is granted by the software to itself").

Bootstrap: the first two administrators are created from the server's console (``lfr users
add``), acting as ``console_actor()``: whoever has a shell and the database administers by
definition, and the audit entry records their operating-system account.

Two-person rule (``TWO_PERSON_ROLES``: the roles that read biometrics, and administrator):
granting such a role, and resetting the password or second factor of someone who holds one,
is only requested by one administrator and done when a second approves, who neither asked,
nor created the account, nor is its holder.
"""

from __future__ import annotations

import getpass
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from lfr.audit import record
from lfr.db.base import utcnow
from lfr.db.migrate import hold_first_start_lock
from lfr.db.people import (
    AccountReset,
    RoleGrant,
    TrainingRecord,
    TwoPersonRequest,
    User,
    UserRole,
)
from lfr.db.session import SessionFactory, transaction
from lfr.db.web_sessions import OneTimePassword
from lfr.domain.people import SYSTEM_ACTOR, TWO_PERSON_ROLES, Actor, Rank, Role
from lfr.domain.refusal import NotFound, Refusal
from lfr.domain.rules import blank


@dataclass(frozen=True, slots=True)
class AccountLock:
    """When an account locks after failed sign-ins and for how long: the settings'
    ``web.max_failed_sign_ins`` and ``web.lockout_minutes`` (`WebContext.account_lock`), the
    same numbers the sign-in throttle of a client address applies."""

    after_failures: int
    """Consecutive failures that lock. Lower: guessing is harder but a mistyping officer is
    locked out sooner; higher: the reverse."""
    lasts: timedelta
    """How long a locked account stays locked. Longer slows guessing; shorter eases mistakes."""


MIN_PASSWORD_LENGTH = 12

MIN_PASSWORD_SCORE = 3
"""zxcvbn's guessability score (0–4) a password must reach (NIST SP 800-63B: refuse
common, breached and predictable passwords). 3 means about 10^8 guesses or more: beyond
online guessing under the sign-in throttle. zxcvbn's lists include the most common
passwords from public breaches, names and dictionary words."""

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (tests use cheap ones; production keeps the defaults)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def console_actor() -> Actor:
    """The person at the server's console, acting as administrator for bootstrap."""
    who = getpass.getuser()
    return Actor(
        user_id=f"console:{who}",
        name=f"console ({who})",
        rank=Rank.STAFF,
        roles=frozenset({Role.ADMINISTRATOR}),
    )


def to_actor(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.display_name, rank=user.rank, roles=user.roles)


def generate_password() -> str:
    """A one-time password for a new account (about 120 bits)."""
    return secrets.token_urlsafe(15)


def _require_administrator(actor: Actor, action: str) -> None:
    if not actor.has(Role.ADMINISTRATOR):
        raise Refusal("people.administrator", f"only an administrator may {action}", "actor")


def _require_not_self(actor: Actor, user: User, what: str) -> None:
    if actor.user_id == user.id:
        raise Refusal("people.no-self-grant", f"nobody may change their own {what}", "user")


def is_console(actor: Actor) -> bool:
    """The person at the server's console (bootstrap): they hold the database already."""
    return actor.user_id.startswith("console:")


def _check_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refusal(
            "people.password", f"must be at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    verdict = zxcvbn(password[:100], user_inputs=list(user_inputs))
    if verdict["score"] < MIN_PASSWORD_SCORE:
        warning = verdict["feedback"].get("warning") or "it is too easy to guess"
        raise Refusal(
            "people.password",
            f"common or easily guessed ({warning.rstrip('.')}): choose a longer, unusual one",
            "password",
        )


def user_snapshot(user: User) -> dict[str, object]:
    """What the audit log records about an account (never the password hash or TOTP)."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "rank": user.rank.name,
        "roles": sorted(role.value for role in user.roles),
        "active": user.active,
    }


def _audit(
    session: Session,
    actor: Actor,
    user: User,
    action: str,
    summary: str,
    *,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> None:
    """An account's audit entry, in the caller's transaction (AUD-1)."""
    record(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.id,
        summary=summary,
        before=before,
        after=after,
        reason=reason,
    )


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


_LATIN_LOOKALIKES = {
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "CYRILLIC SMALL LETTER PALOCHKA": "l",
    "CYRILLIC SMALL LETTER QA": "q",
    "CYRILLIC SMALL LETTER WE": "w",
    "CYRILLIC SMALL LETTER KA": "k",
    "CYRILLIC CAPITAL LETTER A": "A",
    "CYRILLIC CAPITAL LETTER VE": "B",
    "CYRILLIC CAPITAL LETTER IE": "E",
    "CYRILLIC CAPITAL LETTER KA": "K",
    "CYRILLIC CAPITAL LETTER EM": "M",
    "CYRILLIC CAPITAL LETTER EN": "H",
    "CYRILLIC CAPITAL LETTER O": "O",
    "CYRILLIC CAPITAL LETTER ER": "P",
    "CYRILLIC CAPITAL LETTER ES": "C",
    "CYRILLIC CAPITAL LETTER TE": "T",
    "CYRILLIC CAPITAL LETTER HA": "X",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "I",
    "CYRILLIC CAPITAL LETTER JE": "J",
    "CYRILLIC CAPITAL LETTER DZE": "S",
    "CYRILLIC CAPITAL LETTER STRAIGHT U": "Y",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER KAPPA": "k",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK SMALL LETTER UPSILON": "u",
    "GREEK SMALL LETTER CHI": "x",
    "GREEK CAPITAL LETTER ALPHA": "A",
    "GREEK CAPITAL LETTER BETA": "B",
    "GREEK CAPITAL LETTER EPSILON": "E",
    "GREEK CAPITAL LETTER ZETA": "Z",
    "GREEK CAPITAL LETTER ETA": "H",
    "GREEK CAPITAL LETTER IOTA": "I",
    "GREEK CAPITAL LETTER KAPPA": "K",
    "GREEK CAPITAL LETTER MU": "M",
    "GREEK CAPITAL LETTER NU": "N",
    "GREEK CAPITAL LETTER OMICRON": "O",
    "GREEK CAPITAL LETTER RHO": "P",
    "GREEK CAPITAL LETTER TAU": "T",
    "GREEK CAPITAL LETTER UPSILON": "Y",
    "GREEK CAPITAL LETTER CHI": "X",
    "LATIN SMALL LETTER DOTLESS I": "i",
}
"""Letters of other scripts drawn like a Latin letter, by their Unicode names: 'аdmin' with
a Cyrillic а reads as 'admin' in an assignment list or a grant awaiting approval."""
LOOKALIKES = str.maketrans(
    {unicodedata.lookup(name): latin for name, latin in _LATIN_LOOKALIKES.items()}
)


def _name_as_read(username: str) -> str:
    """How a sign-in name reads: case, compatibility forms (full-width letters), letters of
    other scripts drawn like Latin ones, and invisible characters (zero-width spaces) set
    aside."""
    folded = unicodedata.normalize("NFKC", username).translate(LOOKALIKES).casefold()
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def _reads_as_taken(session: Session, username: str) -> str | None:
    """The existing account whose name reads as `username`, if any."""
    wanted = _name_as_read(username)
    return next(
        (n for n in session.scalars(select(User.username)) if _name_as_read(n) == wanted), None
    )


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    rank: Rank,
    password: str,
    roles: Iterable[Role] = (),
) -> User:
    """Create an account (administrator only), audited with its initial roles."""
    _require_administrator(actor, "create accounts")
    username = username.strip()
    if not username or blank(display_name):
        field = "username" if not username else "display_name"
        raise Refusal("people.account", "must not be empty", field)
    if (taken := _reads_as_taken(session, username)) is not None:
        reason = (
            f"username {username!r} is taken"
            if taken == username
            else f"username {username!r} is taken: it reads as the account {taken!r}"
        )
        raise Refusal("people.account", reason, "username")
    _check_password(password, (username, display_name))
    wanted = set(roles)
    held_back = set() if is_console(actor) else wanted & TWO_PERSON_ROLES
    user = User(
        created_by=actor.user_id,
        username=username,
        display_name=display_name.strip(),
        rank=rank,
        password_hash=_hasher.hash(password),
        active=True,
        failed_logins=0,
        role_rows=[UserRole(role=role) for role in sorted(wanted - held_back)],
        held_two_person_role=bool((wanted - held_back) & TWO_PERSON_ROLES),
    )
    session.add(user)
    session.flush()
    _audit(
        session,
        actor,
        user,
        "user.create",
        f"account {username} ({display_name})",
        after=user_snapshot(user),
    )
    if held_back:
        _request_grant(session, actor, user, held_back, "roles asked for at account creation")
    return user


def set_roles(
    session: Session, *, actor: Actor, user_id: str, roles: Iterable[Role], reason: str
) -> User:
    """Replace a user's roles (administrator only, never their own), with a reason."""
    _require_administrator(actor, "change roles")
    user = get_user(session, user_id)
    _require_not_self(actor, user, "roles")
    if blank(reason):
        raise Refusal("people.roles", "a reason is required", "reason")
    wanted = set(roles)
    held_back = set() if is_console(actor) else (wanted - user.roles) & TWO_PERSON_ROLES
    _withdraw_pending_grants(session, actor, user, reason)
    _apply_roles(session, actor, user, wanted - held_back, "user.set_roles", reason)
    if held_back:
        _request_grant(session, actor, user, held_back, reason)
    return user


def _withdraw_pending_grants(session: Session, actor: Actor, user: User, reason: str) -> None:
    """Roles replaced supersede every grant still awaiting a second administrator for
    this account: none of them may be approved afterwards (what is still wanted is asked
    for again). Withdrawing takes access away, so one administrator may do it."""
    statement = select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.decided_at.is_(None)
    )
    for grant in session.scalars(statement):
        grant.decided_by, grant.decided_at, grant.approved = actor.user_id, utcnow(), False
        _audit(
            session,
            actor,
            user,
            "user.roles_withdrawn",
            f"grant {grant.id} withdrawn: the roles of {user.username} were replaced",
            before={"grant_id": grant.id, "roles": sorted(grant.role_set)},
            reason=reason,
        )


def _apply_roles(
    session: Session, actor: Actor, user: User, wanted: set[Role], action: str, reason: str
) -> None:
    before = user_snapshot(user)
    user.role_rows = [row for row in user.role_rows if row.role in wanted] + [
        UserRole(role=role) for role in sorted(wanted - user.roles)
    ]
    user.held_two_person_role = user.held_two_person_role or bool(wanted & TWO_PERSON_ROLES)
    session.flush()
    _audit(
        session,
        actor,
        user,
        action,
        f"roles of {user.username}",
        before=before,
        after=user_snapshot(user),
        reason=reason,
    )


# --- two-person rule for roles that read biometrics, and the administrator role ------------


def _require_second_administrator(actor: Actor, requested_by: str, user: User) -> None:
    """The decider of a two-person request is an administrator other than the one who asked,
    the one who created the account (they knew its first password) and its holder."""
    if actor.user_id == requested_by:
        raise Refusal(
            "people.two-person", "a second administrator must decide, not the requester", "actor"
        )
    if user.created_by is not None and actor.user_id == user.created_by:
        raise Refusal(
            "people.two-person",
            "a second administrator must decide, not the one who created this account",
            "actor",
        )
    _require_not_self(actor, user, "roles or sign-in")


def _request_grant(
    session: Session, actor: Actor, user: User, roles: set[Role], reason: str
) -> RoleGrant:
    grant = RoleGrant(
        user_id=user.id,
        roles=",".join(sorted(role.value for role in roles)),
        reason=reason.strip(),
        requested_by=actor.user_id,
        requested_at=utcnow(),
    )
    session.add(grant)
    session.flush()
    _audit(
        session,
        actor,
        user,
        "user.roles_requested",
        f"roles for {user.username} await a second administrator",
        after={"grant_id": grant.id, "roles": sorted(grant.role_set)},
        reason=reason,
    )
    return grant


def pending_grants(session: Session) -> list[RoleGrant]:
    statement = select(RoleGrant).where(RoleGrant.decided_at.is_(None))
    return list(session.scalars(statement.order_by(RoleGrant.requested_at)))


@dataclass(frozen=True, slots=True)
class GrantOutcome:
    """A decided grant and, when its approval gave a two-person role to an account whose
    password was still a one-time one an administrator issued, that account's new one-time
    password, for the approver to hand over: the old one, known to whoever created or reset
    the account, would otherwise open a second administrator's account to them alone."""

    grant: RoleGrant
    password: str | None = None


def decide_grant(
    session: Session, *, actor: Actor, grant_id: str, approve: bool, reason: str = ""
) -> GrantOutcome:
    """A second administrator approves (roles granted now) or refuses a pending grant.

    Neither the requester, nor the account's creator, nor the person the roles are for may
    decide it. The caller ends the holder's sessions on approval (`lfr.web.signin`)."""
    grant, user = _decide(session, actor, RoleGrant, grant_id, "grant", approve, reason)
    if approve:
        why = f"grant {grant.id} requested by {grant.requested_by}: {grant.reason}"
        _apply_roles(
            session, actor, user, set(user.roles | grant.role_set), "user.roles_approved", why
        )
        if grant.role_set & TWO_PERSON_ROLES and is_one_time(session, user.id):
            return GrantOutcome(grant, _new_password(session, actor, user, why))
    else:
        _audit(
            session,
            actor,
            user,
            "user.roles_refused",
            f"roles for {user.username} refused",
            after={"grant_id": grant.id},
            reason=reason,
        )
    return GrantOutcome(grant)


_Pending = TypeVar("_Pending", bound=TwoPersonRequest)


def _decide(
    session: Session,
    actor: Actor,
    kind: type[_Pending],
    pending_id: str,
    noun: str,
    approve: bool,
    reason: str,
) -> tuple[_Pending, User]:
    """The two-person checks every pending request shares, then its decision recorded:
    an administrator other than the requester, the account's creator and its holder
    decides it, once, and says why when refusing."""
    _require_administrator(actor, f"decide {noun}s")
    pending = session.get(kind, pending_id)
    if pending is None:
        raise NotFound(f"{noun} request", pending_id)
    if pending.decided_at is not None:
        raise Refusal("people.two-person", f"this {noun} was already decided", noun)
    user = get_user(session, pending.user_id)
    _require_second_administrator(actor, pending.requested_by, user)
    if not approve and blank(reason):
        raise Refusal("people.two-person", f"say why the {noun} is refused", "reason")
    pending.decided_by, pending.decided_at, pending.approved = actor.user_id, utcnow(), approve
    return pending, user


# --- account administration ----------------------------------------------------------------


def _administered(session: Session, actor: Actor, user_id: str, what: str, reason: str) -> User:
    _require_administrator(actor, what)
    user = get_user(session, user_id)
    _require_not_self(actor, user, "account")
    if blank(reason):
        raise Refusal("people.account", "a reason is required", "reason")
    return user


def set_active(session: Session, *, actor: Actor, user_id: str, active: bool, reason: str) -> User:
    """Disable or enable an account (administrator, never their own), with a reason. The
    caller ends a disabled person's sessions in the same transaction."""
    user = _administered(session, actor, user_id, "disable or enable accounts", reason)
    before = user_snapshot(user)
    user.active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    _audit(
        session,
        actor,
        user,
        "user.enable" if active else "user.disable",
        f"account {user.username} {'enabled' if active else 'disabled'}",
        before=before,
        after=user_snapshot(user),
        reason=reason,
    )
    return user


class ResetKind(StrEnum):
    PASSWORD = "password"
    SECOND_FACTOR = "second_factor"


@dataclass(frozen=True, slots=True)
class ResetOutcome:
    """A reset done now (``password``: the one-time password, for the holder) or, for a
    holder of a two-person role, a request awaiting a second administrator (``request``)."""

    password: str | None = None
    request: AccountReset | None = None


def needs_second_administrator(actor: Actor, user: User) -> bool:
    """Resetting this account's sign-in needs a second administrator (not at the console)
    when it holds a two-person role or has held one: removing roles is one administrator's
    to do, and must not make the reset one administrator's too."""
    if is_console(actor):
        return False
    return bool(user.roles & TWO_PERSON_ROLES) or user.held_two_person_role


def reset_sign_in(
    session: Session, *, actor: Actor, user_id: str, kind: ResetKind, reason: str
) -> ResetOutcome:
    """Reset a password or second factor now, or, for a holder of a two-person role, ask a
    second administrator to (the one-time password is issued on approval, to the approver)."""
    user = _administered(session, actor, user_id, f"reset {_what(kind)}s", reason)
    if not needs_second_administrator(actor, user):
        return ResetOutcome(password=_reset(session, actor, user, kind, reason))
    request = AccountReset(
        user_id=user.id,
        kind=kind.value,
        reason=reason.strip(),
        requested_by=actor.user_id,
        requested_at=utcnow(),
    )
    session.add(request)
    session.flush()
    _audit(
        session,
        actor,
        user,
        "user.reset_requested",
        f"{_what(kind)} reset of {user.username} awaits a second administrator",
        after={"reset_id": request.id, "kind": kind.value},
        reason=reason,
    )
    return ResetOutcome(request=request)


def pending_resets(session: Session) -> list[AccountReset]:
    statement = select(AccountReset).where(AccountReset.decided_at.is_(None))
    return list(session.scalars(statement.order_by(AccountReset.requested_at)))


def decide_reset(
    session: Session, *, actor: Actor, reset_id: str, approve: bool, reason: str = ""
) -> ResetOutcome:
    """A second administrator approves (the reset is done now and its one-time password
    returned to them, for the holder) or refuses a pending reset request."""
    request, user = _decide(session, actor, AccountReset, reset_id, "reset", approve, reason)
    kind = ResetKind(request.kind)
    if approve:
        why = f"reset {request.id} requested by {request.requested_by}: {request.reason}"
        return ResetOutcome(password=_reset(session, actor, user, kind, why), request=request)
    _audit(
        session,
        actor,
        user,
        "user.reset_refused",
        f"{_what(kind)} reset of {user.username} refused",
        after={"reset_id": request.id},
        reason=reason,
    )
    return ResetOutcome(request=request)


def _what(kind: ResetKind) -> str:
    return "second factor" if kind is ResetKind.SECOND_FACTOR else "password"


def _reset(session: Session, actor: Actor, user: User, kind: ResetKind, reason: str) -> str:
    if kind is ResetKind.SECOND_FACTOR:
        _remove_second_factor(session, actor, user, reason)
    return _new_password(session, actor, user, reason)


def _new_password(session: Session, actor: Actor, user: User, reason: str) -> str:
    """Give an account a new generated password (returned once, for the holder, who must
    replace it at the next sign-in: the caller marks it one-time)."""
    password = generate_password()
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    _audit(
        session,
        actor,
        user,
        "user.reset_password",
        f"password of {user.username} reset",
        reason=reason,
    )
    return password


def _remove_second_factor(session: Session, actor: Actor, user: User, reason: str) -> None:
    """Remove an account's second factor (a lost phone): the holder enrols a new one at the
    next sign-in, which also needs the new one-time password issued with it."""
    user.totp_secret = None
    _audit(
        session,
        actor,
        user,
        "user.reset_second_factor",
        f"second factor of {user.username} removed",
        reason=reason,
    )


def record_training(
    session: Session,
    *,
    actor: Actor,
    user_id: str,
    role: Role,
    completed_at: datetime,
    expires_at: datetime,
) -> TrainingRecord:
    """Record completed training for a role, valid until ``expires_at`` (TRN-1)."""
    _require_administrator(actor, "record training")
    user = get_user(session, user_id)
    _require_not_self(actor, user, "training records")
    if expires_at <= completed_at:
        raise Refusal("TRN-1", "expiry must be after completion", "expires_at")
    training = TrainingRecord(
        user_id=user.id,
        role=role,
        completed_at=completed_at,
        expires_at=expires_at,
        recorded_by=actor.name,
    )
    session.add(training)
    session.flush()
    _audit(
        session,
        actor,
        user,
        "training.record",
        f"{role.value} training of {user.username}",
        after={"role": role, "completed_at": completed_at, "expires_at": expires_at},
    )
    return training


def _in_date(role: Role, at: datetime) -> ColumnElement[bool]:
    """A training record for ``role`` completed by and valid at ``at`` (TRN-1)."""
    return and_(
        TrainingRecord.role == role,
        TrainingRecord.completed_at <= at,
        TrainingRecord.expires_at > at,
    )


def is_trained(session: Session, user_id: str, role: Role, at: datetime) -> bool:
    """True when the user holds training for ``role`` completed by and valid at ``at`` (TRN-1)."""
    statement = select(TrainingRecord.id).where(
        TrainingRecord.user_id == user_id, _in_date(role, at)
    )
    return session.execute(statement.limit(1)).first() is not None


def trained_for(session: Session, role: Role, at: datetime) -> list[User]:
    """Active accounts holding ``role`` with in-date training for it (TRN-1): whom a
    deployment may be staffed with in that role, by name."""
    statement = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(TrainingRecord, TrainingRecord.user_id == User.id)
        .where(User.active, UserRole.role == role, _in_date(role, at))
        .distinct()
        .order_by(User.display_name)
    )
    return list(session.scalars(statement))


def verify_password(user: User, password: str) -> bool:
    """True when ``password`` is the user's (constant-time argon2 check)."""
    return _matches(user.password_hash, password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class SignIn:
    """The result of ``authenticate``: the user on success, else why not (for the log)."""

    user: User | None
    reason: str | None = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    now: datetime | None = None,
    *,
    lock: AccountLock,
) -> SignIn:
    """Check a sign-in, counting failures and locking the account as `lock` says.

    The caller commits (so the failure count persists even though sign-in failed). The reason
    is for the server log and the audit; show the person only "sign-in failed".
    """
    now = now or utcnow()
    user = find_user(session, username)
    if user is None or not user.active:
        _spend_a_verification(password)
        return SignIn(None, "unknown or inactive account")
    if user.locked_until is not None and user.locked_until > now:
        return SignIn(None, "account locked")
    if not verify_password(user, password):
        return SignIn(None, _count_failure(session, user, now, lock))
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignIn(user)


def _spend_a_verification(password: str) -> None:
    """Take as long as a real check, so response time does not reveal which names exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(generate_password())
    _matches(_dummy_hash, password)


def _count_failure(session: Session, user: User, now: datetime, lock: AccountLock) -> str:
    user.failed_logins += 1
    if user.failed_logins < lock.after_failures:
        return "wrong password"
    user.locked_until, user.failed_logins = now + lock.lasts, 0
    _audit(
        session,
        SYSTEM_ACTOR,
        user,
        "user.locked",
        f"account {user.username} locked after failed sign-ins",
        after={"locked_until": user.locked_until},
    )
    return "wrong password; account locked"


def enrol_second_factor(session: Session, actor: Actor, user: User, secret: bytes) -> None:
    """Give an account its TOTP secret, audited (AUD-1): the holder at their first sign-in,
    or an administrator (the demo's seeded accounts). The secret itself is never audited."""
    if actor.user_id != user.id:
        _require_administrator(actor, "enrol another person's second factor")
    user.totp_secret = secret
    _audit(
        session,
        actor,
        user,
        "user.second_factor_enrolled",
        f"second factor of {user.username} enrolled",
    )


def set_password(session: Session, *, actor: Actor, user_id: str, password: str) -> None:
    """Set a password: the holder for themselves, or an administrator for anyone."""
    user = get_user(session, user_id)
    if actor.user_id != user.id:
        _require_administrator(actor, "set another person's password")
    _check_password(password, (user.username, user.display_name))
    if _matches(user.password_hash, password):
        # A one-time password handed over by an administrator must never stay in use.
        raise Refusal("people.password", "must differ from the current password", "password")
    user.password_hash = _hasher.hash(password)
    _audit(session, actor, user, "user.set_password", f"password of {user.username} changed")


def is_one_time(session: Session, user_id: str) -> bool:
    """Whether the account's password is still one an administrator issued, not yet
    replaced by its holder."""
    return session.get(OneTimePassword, user_id) is not None


def mark_one_time(session: Session, user_id: str) -> None:
    """The account's password was issued for one use: the next sign-in must replace it."""
    if not is_one_time(session, user_id):
        session.add(OneTimePassword(user_id=user_id, issued_at=utcnow()))


def create_one_time_account(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    rank: Rank,
    roles: Iterable[Role] = (),
    password: str | None = None,
) -> tuple[User, str]:
    """An account (`create_user`) whose first password, made here unless given, works for
    one sign-in, which must replace it; returns the account and that password."""
    initial = password or generate_password()
    user = create_user(
        session,
        actor=actor,
        username=username,
        display_name=display_name,
        rank=rank,
        password=initial,
        roles=roles,
    )
    mark_one_time(session, user.id)
    return user, initial


# --- the first administrator ----------------------------------------------------------------

BOOTSTRAP_USERNAME = "admin"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    username: str
    one_time_password: str


def ensure_administrator(db: SessionFactory) -> Bootstrap | None:
    """On an empty database, creates the administrator whose one-time password the caller
    prints; its first sign-in must replace the password and add a second factor."""
    with transaction(db) as session:
        hold_first_start_lock(session)  # instances started together: one creates it
        if session.scalar(select(func.count()).select_from(User)):
            return None
        password = generate_password()
        user = create_user(
            session,
            actor=console_actor(),
            username=BOOTSTRAP_USERNAME,
            display_name="Administrator",
            rank=Rank.STAFF,
            password=password,
            roles=[Role.ADMINISTRATOR],
        )
        mark_one_time(session, user.id)
    return Bootstrap(username=BOOTSTRAP_USERNAME, one_time_password=password)
