"""Signing in: password (through the people service), then a TOTP second factor for the roles
that need one, then a forced password change where the password was issued for one use.

The password check, its argon2 hash and the per-account lockout belong to
`lfr.services.people`; this module adds what only the web needs: a per-client-address
throttle, the second factor (with replay refusal) and the session stages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pyotp
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.people import User
from lfr.db.web_sessions import OneTimePassword, SecondFactorStep, SessionStage
from lfr.domain.people import BIOMETRIC_ROLES, Actor, Role
from lfr.domain.refusal import Refusal
from lfr.services import people
from lfr.web.sessions import SessionStore, SessionView, ThrottleStore, end_sessions

SECOND_FACTOR_ROLES = BIOMETRIC_ROLES | {
    Role.AUTHORISING_OFFICER,
    Role.CHIEF_OFFICER,
    Role.ADMINISTRATOR,
}
"""Roles whose holders decide, command, administer or see faces: a stolen password alone
must not do."""

TOTP_VALID_WINDOW = 1
"""Codes one 30-second step either side are accepted (clock drift on a phone). 0 would
refuse a code typed as it changes; 2 widens the guessing window."""

FAILED = (
    "sign-in failed: check the account name and password (after repeated failures an "
    "account is locked for a while)"
)
"""The one message for a wrong password, an unknown account and a locked one, so the
answer never tells whether an account exists."""
LOCKED = "too many failed attempts: try again later or ask an administrator"
BAD_CODE = "that code is not right (or was already used): enter the current code"


class SignInRefusedError(Exception):
    """Shown to the person as it is: never says whether the account exists."""


@dataclass(frozen=True, slots=True)
class Advanced:
    """The browser's next session (new cookie token) after a successful step."""

    token: str
    session: SessionView


def needs_second_factor(actor: Actor) -> bool:
    return bool(actor.roles & SECOND_FACTOR_ROLES)


def session_actor(user: User, view: SessionView) -> Actor:
    """The person a request acts as: without the second-factor step in this session, none of
    the roles that need it, whatever the account holds now (a role approved after a
    password-only sign-in is not carried by that session)."""
    actor = people.to_actor(user)
    if view.second_factor:
        return actor
    return replace(actor, roles=actor.roles - SECOND_FACTOR_ROLES)


def client_key(address: str | None) -> str:
    return f"client:{address or 'unknown'}"


def next_stage(db: Session, user: User) -> SessionStage:
    """Where a browser goes after a right password (or code)."""
    if needs_second_factor(people.to_actor(user)):
        return SessionStage.SECOND_FACTOR
    return _after_second_factor(db, user)


def _after_second_factor(db: Session, user: User) -> SessionStage:
    if db.get(OneTimePassword, user.id) is not None:
        return SessionStage.PASSWORD_CHANGE
    return SessionStage.SIGNED_IN


def password_step(
    db: Session,
    sessions: SessionStore,
    throttle: ThrottleStore,
    view: SessionView,
    *,
    username: str,
    password: str,
    client: str | None,
    lock: people.AccountLock,
) -> Advanced:
    """Checks the password (the account locks as `lock` says); raises `SignInRefusedError`
    with a message safe to show."""
    key = client_key(client)
    if throttle.locked_keys(db, [key]):
        raise SignInRefusedError(LOCKED)
    result = people.authenticate(db, username.strip(), password, lock=lock)
    if result.user is None:
        throttle.record_failure(db, [key])
        raise SignInRefusedError(FAILED)
    # No reset of the address's count on success: a sprayer's own account must not clear
    # the failures it racks up on others' (the count restarts when a lock runs out).
    token, new_view = sessions.advance(
        db, view, user_id=result.user.id, stage=next_stage(db, result.user)
    )
    return Advanced(token, new_view)


def enrolment_secret(db: Session, user: User) -> str | None:
    """A user without a second factor gets a pending secret to add to their app (shown once
    per sign-in until confirmed); None when they already have one."""
    if user.totp_secret is not None:
        return None
    step = _step_row(db, user.id)
    if step.pending_secret is None:
        step.pending_secret = pyotp.random_base32().encode()
    return step.pending_secret.decode()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="lfr")


def second_factor_step(
    db: Session,
    sessions: SessionStore,
    throttle: ThrottleStore,
    view: SessionView,
    user: User,
    code: str,
    now: datetime | None = None,
) -> Advanced:
    """Checks a TOTP code (enrolling the pending secret on its first right code)."""
    key = f"second-factor:{user.id}"
    if throttle.locked_keys(db, [key]):
        raise SignInRefusedError(LOCKED)
    step_row = _step_row(db, user.id)
    secret = user.totp_secret or step_row.pending_secret
    matched = _matching_step(secret, code.strip(), now or utcnow()) if secret else None
    if matched is None or matched <= step_row.last_step:
        throttle.record_failure(db, [key])
        raise SignInRefusedError(BAD_CODE)
    throttle.record_success(db, key)
    step_row.last_step = matched
    if user.totp_secret is None and step_row.pending_secret is not None:
        # The holder enrols their own factor with its first right code (audited).
        people.enrol_second_factor(db, people.to_actor(user), user, step_row.pending_secret)
        step_row.pending_secret = None
    token, new_view = sessions.advance(
        db, view, user_id=user.id, stage=_after_second_factor(db, user), second_factor=True
    )
    return Advanced(token, new_view)


def change_one_time_password(
    db: Session,
    sessions: SessionStore,
    view: SessionView,
    actor: Actor,
    new_password: str,
    repeat: str,
) -> Advanced:
    if new_password != repeat:
        raise Refusal("people.password", "the two passwords differ", "repeat")
    people.set_password(db, actor=actor, user_id=actor.user_id, password=new_password)
    one_time = db.get(OneTimePassword, actor.user_id)
    if one_time is not None:
        db.delete(one_time)
    sessions.end_all_for(db, actor.user_id)
    token, new_view = sessions.create(
        db, user_id=actor.user_id, stage=SessionStage.SIGNED_IN, second_factor=view.second_factor
    )
    return Advanced(token, new_view)


def _matching_step(secret: bytes, code: str, now: datetime) -> int | None:
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret.decode())
    current = totp.timecode(now)
    for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
        step = current + offset
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def _step_row(db: Session, user_id: str) -> SecondFactorStep:
    row = db.get(SecondFactorStep, user_id)
    if row is None:
        row = SecondFactorStep(user_id=user_id, last_step=0)
        db.add(row)
        db.flush()
    return row


# --- account administration: the service's change plus what only the web holds ------------


def disable_account(db: Session, actor: Actor, user_id: str, reason: str) -> None:
    """Disable an account and end every session it has, at once (one transaction)."""
    people.set_active(db, actor=actor, user_id=user_id, active=False, reason=reason)
    end_sessions(db, user_id)


def reset_sign_in(
    db: Session, actor: Actor, user_id: str, kind: people.ResetKind, reason: str
) -> people.ResetOutcome:
    """Reset a password or second factor (`lfr.services.people.reset_sign_in`): done now, or
    asked of a second administrator for a holder of a two-person role."""
    outcome = people.reset_sign_in(db, actor=actor, user_id=user_id, kind=kind, reason=reason)
    if outcome.password is not None:
        _after_reset(db, user_id)
    return outcome


def decide_reset(
    db: Session, actor: Actor, reset_id: str, *, approve: bool, reason: str = ""
) -> people.ResetOutcome:
    """A second administrator decides a reset request; an approved one is done now."""
    outcome = people.decide_reset(
        db, actor=actor, reset_id=reset_id, approve=approve, reason=reason
    )
    if outcome.password is not None and outcome.request is not None:
        _after_reset(db, outcome.request.user_id)
    return outcome


def decide_grant(
    db: Session, actor: Actor, grant_id: str, *, approve: bool, reason: str = ""
) -> people.GrantOutcome:
    """A second administrator decides a role grant; an approved one ends the holder's
    sessions, so the new roles start with a fresh sign-in (and its second factor). A new
    one-time password issued with it is handled as a reset's."""
    outcome = people.decide_grant(
        db, actor=actor, grant_id=grant_id, approve=approve, reason=reason
    )
    if outcome.password is not None:
        _after_reset(db, outcome.grant.user_id)
    elif approve:
        end_sessions(db, outcome.grant.user_id)
    return outcome


def _after_reset(db: Session, user_id: str) -> None:
    """A reset password is one-time and a removed second factor's pending secret goes with
    it (a stolen old password cannot enrol one); the holder's sessions end."""
    step = db.get(SecondFactorStep, user_id)
    if step is not None:
        step.pending_secret = None
    people.mark_one_time(db, user_id)
    end_sessions(db, user_id)
