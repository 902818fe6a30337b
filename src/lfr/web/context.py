"""Everything the web application needs from the rest of lfr, gathered in one object so that
`lfr serve`, the tests and the benchmark build the same app around their own database."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.services import people
from lfr.settings import Settings
from lfr.web.access import RequestIdentity
from lfr.web.config import WebSettings
from lfr.web.live import LiveFeed
from lfr.web.sessions import SessionStore, ThrottleStore


@dataclass
class WebContext:
    settings: Settings
    db: SessionFactory
    request_id_var: ContextVar[str | None]
    web_settings: WebSettings = field(default_factory=WebSettings)
    feed: LiveFeed = field(default_factory=LiveFeed)
    sessions: SessionStore = field(init=False)
    throttle: ThrottleStore = field(init=False)

    def __post_init__(self) -> None:
        secret = self.settings.session_secret.get_secret_value().encode()
        self.sessions = SessionStore(secret, self.web_settings)
        self.throttle = ThrottleStore(self.web_settings)

    def load_identity(self, cookie: str | None) -> RequestIdentity:
        """The session behind a cookie and, once fully signed in, the person behind it."""
        if not cookie:
            return RequestIdentity(session=None, actor=None)
        with transaction(self.db) as db:
            view = self.sessions.find(db, cookie)
            if view is None or view.user_id is None:
                return RequestIdentity(session=view, actor=None)
            user = db.get(User, view.user_id)
            if user is None or not user.active:  # account disabled or removed since sign-in
                self.sessions.end(db, view)
                return RequestIdentity(session=None, actor=None)
            return RequestIdentity(session=view, actor=people.to_actor(user))
