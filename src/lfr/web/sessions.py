"""Server-side sessions, CSRF tokens and the sign-in throttle store.

The cookie carries a random 256-bit token; the table keeps HMAC(session_secret, token), so
neither a copy of the table nor a log line can be turned back into a working cookie. Each
session has its own CSRF token: a token from another session, or from a session that has
ended (signed out, expired, replaced at sign-in), is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.web_sessions import SessionStage, SignInThrottle, WebSession
from lfr.setting_groups import WebSettings
from lfr.web.throttle import ThrottlePolicy, ThrottleState, after_failure, after_success, locked

COOKIE_NAME = "lfr_session"
ANONYMOUS_LIFETIME = timedelta(minutes=30)
"""An anonymous session only carries the sign-in form's CSRF token; it need not live long."""
TOUCH_INTERVAL = timedelta(seconds=30)
"""Idle time is measured to this precision; finer would write the session row on every request."""


@dataclass(frozen=True, slots=True)
class SessionView:
    """What a request knows about its session (a detached copy of the row)."""

    token_hash: str
    user_id: str | None
    stage: SessionStage
    csrf_token: str
    second_factor: bool = False
    """The browser passed the second-factor step in this session."""


class SessionStore:
    """Creates, finds, advances and ends sessions; one instance per app."""

    def __init__(self, secret: bytes, settings: WebSettings) -> None:
        self._secret = secret
        self._settings = settings

    def hash_token(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def create(
        self,
        db: Session,
        *,
        user_id: str | None,
        stage: SessionStage,
        second_factor: bool = False,
    ) -> tuple[str, SessionView]:
        """A fresh session (fresh token, fresh CSRF token); returns the cookie token."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        lifetime = (
            ANONYMOUS_LIFETIME
            if stage is SessionStage.ANONYMOUS
            else timedelta(hours=self._settings.session_absolute_hours)
        )
        row = WebSession(
            token_hash=self.hash_token(token),
            user_id=user_id,
            stage=stage,
            second_factor=second_factor,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
        db.add(row)
        return token, _view(row)

    def find(self, db: Session, token: str | None) -> SessionView | None:
        """The live session for a cookie token; an expired or idle one is ended here."""
        if not token or len(token) > 200:
            return None
        row = db.get(WebSession, self.hash_token(token))
        if row is None:
            return None
        now = utcnow()
        if self._expired(row, now):
            db.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now
        return _view(row)

    def advance(
        self,
        db: Session,
        view: SessionView,
        *,
        user_id: str,
        stage: SessionStage,
        second_factor: bool = False,
    ) -> tuple[str, SessionView]:
        """Moves a browser to the next sign-in stage under a NEW token (no session fixation)."""
        self.end(db, view)
        return self.create(db, user_id=user_id, stage=stage, second_factor=second_factor)

    def end(self, db: Session, view: SessionView) -> None:
        db.execute(delete(WebSession).where(WebSession.token_hash == view.token_hash))

    def end_all_for(self, db: Session, user_id: str) -> None:
        """Signs a user out everywhere (password changed, account disabled)."""
        end_sessions(db, user_id)

    def purge_expired(self, db: Session) -> None:
        """Deletes sessions past their absolute expiry (idle ones go when next presented)."""
        db.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))

    def _expired(self, row: WebSession, now: datetime) -> bool:
        idle = timedelta(minutes=self._settings.session_idle_minutes)
        return now >= row.expires_at or now - row.last_seen_at >= idle


def end_sessions(db: Session, user_id: str) -> None:
    """Ends every session of a user at once (their next request is signed out)."""
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))


def csrf_matches(view: SessionView | None, presented: str | None) -> bool:
    """True only for this session's own token (constant-time comparison)."""
    if view is None or not presented:
        return False
    return hmac.compare_digest(view.csrf_token.encode(), presented.encode())


def _view(row: WebSession) -> SessionView:
    return SessionView(
        token_hash=row.token_hash,
        user_id=row.user_id,
        stage=row.stage,
        csrf_token=row.csrf_token,
        second_factor=bool(row.second_factor),
    )


class ThrottleStore:
    """Loads and saves `ThrottleState` per key; the decisions are in `lfr.web.throttle`."""

    def __init__(self, settings: WebSettings) -> None:
        self._policy = ThrottlePolicy(
            max_failures=settings.max_failed_sign_ins,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )

    def locked_keys(self, db: Session, keys: list[str]) -> list[str]:
        now = utcnow()
        return [key for key in keys if locked(self._load(db, key), now)]

    def record_failure(self, db: Session, keys: list[str]) -> None:
        now = utcnow()
        for key in keys:
            self._save(db, key, after_failure(self._load(db, key), now, self._policy))

    def record_success(self, db: Session, key: str) -> None:
        self._save(db, key, after_success())

    def _load(self, db: Session, key: str) -> ThrottleState:
        row = db.get(SignInThrottle, key)
        if row is None:
            return ThrottleState()
        return ThrottleState(failures=row.failures, locked_until=row.locked_until)

    def _save(self, db: Session, key: str, state: ThrottleState) -> None:
        row = db.get(SignInThrottle, key)
        if row is None:
            row = SignInThrottle(key=key)
            db.add(row)
        row.failures = state.failures
        row.locked_until = state.locked_until
