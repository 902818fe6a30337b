"""The web application's own tables (Alembic revision 0003): sessions, the sign-in throttle
and the last second-factor step used. Accounts, passwords, TOTP secrets and account lockout
are the people service's (`lfr.services.people`).

Nothing here is biometric and nothing here is about a member of the public: these rows
describe force staff signing in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lfr.crypto import EncryptedBytes
from lfr.db.base import Base, StrEnumText, UTCDateTime


class SessionStage(StrEnum):
    """How far a browser has got through signing in.

    ANONYMOUS sessions exist only to carry the CSRF token of the sign-in form; the other
    stages belong to one account. Only SIGNED_IN reaches pages other than sign-in ones.
    """

    ANONYMOUS = "anonymous"
    SECOND_FACTOR = "second_factor"
    PASSWORD_CHANGE = "password_change"
    SIGNED_IN = "signed_in"


class WebSession(Base):
    """One browser session. The cookie holds a random token; only its keyed hash is stored,
    so a copy of the table cannot be replayed as cookies."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    stage: Mapped[SessionStage] = mapped_column(StrEnumText(SessionStage))
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    """The browser passed the second-factor step: without it the session carries none of
    the roles that need one, whatever the account holds now (checked on every request)."""
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SignInThrottle(Base):
    """Consecutive sign-in failures per key: "client:<address>" (many accounts tried from one
    place) and "second-factor:<user id>" (codes guessed after a right password)."""

    __tablename__ = "web_sign_in_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecondFactorStep(Base):
    """The last TOTP time step each account used: a code is accepted once, never replayed."""

    __tablename__ = "web_second_factor_steps"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    pending_secret: Mapped[bytes | None] = mapped_column(
        EncryptedBytes("web_second_factor_steps.pending_secret")
    )


class OneTimePassword(Base):
    """An account whose current password was issued to be used once (the bootstrap
    administrator's, or one an administrator set): the next sign-in must replace it."""

    __tablename__ = "web_one_time_passwords"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
