"""Everything the web application needs from the rest of lfr, gathered in one object so that
`lfr serve`, the tests and the benchmark build the same app around their own database."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field

from lfr.bus.nats_bus import NatsSettings
from lfr.crypto import BiometricCipher
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.runtime.supervisor import SupervisorSettings
from lfr.runtime.worker import WorkerTarget
from lfr.services import people
from lfr.services.watchlists import Enroler, VisionEnroler
from lfr.settings import Settings
from lfr.web.access import RequestIdentity
from lfr.web.config import WebSettings
from lfr.web.control import DeploymentControl
from lfr.web.live import LiveFeed
from lfr.web.preview import PreviewHub
from lfr.web.runtime import DeploymentRuntime
from lfr.web.sessions import SessionStore, ThrottleStore

_ENROLER_LOCK = threading.Lock()


@dataclass
class WebContext:
    settings: Settings
    db: SessionFactory
    request_id_var: ContextVar[str | None]
    web_settings: WebSettings = field(default_factory=WebSettings)
    feed: LiveFeed = field(default_factory=LiveFeed)
    control: DeploymentControl = field(init=False)
    sessions: SessionStore = field(init=False)
    throttle: ThrottleStore = field(init=False)
    _enroler: Enroler | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        secret = self.settings.session_secret.get_secret_value().encode()
        self.sessions = SessionStore(secret, self.web_settings)
        self.throttle = ThrottleStore(self.web_settings)
        self.control = DeploymentControl(self.db, None)

    def attach_runtime(
        self,
        target: WorkerTarget,
        *,
        realtime: bool = True,
        supervisor: SupervisorSettings | None = None,
        preview: PreviewHub | None = None,
    ) -> DeploymentRuntime:
        """Camera workers for this app: started with the app, stopped with it. With a
        `preview` hub, each job carries the hub's preview sink."""
        # Templates go on the bus only where nodes can read them: NATS, with a node key.
        node_key = self.settings.node_key_bytes() if self.settings.nats_url else None
        self.control = DeploymentControl(
            self.db,
            None,
            realtime=realtime,
            preview=preview,
            node_cipher=BiometricCipher(node_key) if node_key else None,
        )
        runtime = DeploymentRuntime(
            self.feed,
            self.control.record_alert,
            target,
            nats=self.nats_settings(),
            settings=supervisor,
            health_sink=self.control.record_health,
        )
        self.control.runtime = runtime
        return runtime

    def nats_settings(self) -> NatsSettings | None:
        """The bus of scale-out when `nats_url` is set; None: the bus runs in memory."""
        if self.settings.nats_url is None:
            return None
        return NatsSettings(
            url=self.settings.nats_url,
            prefix=self.settings.nats_prefix,
            credentials_file=self.settings.nats_credentials_file,
        )

    def use_enroler(self, enroler: Enroler) -> None:
        """Share an enrolment already built (its models loaded) instead of building one."""
        with _ENROLER_LOCK:
            self._enroler = enroler

    def enroler(self) -> Enroler:
        """The engine's enrolment (WL-5), built on first use (its models load lazily)."""
        with _ENROLER_LOCK:
            if self._enroler is None:
                self._enroler = VisionEnroler.default()
            return self._enroler

    @property
    def runtime(self) -> DeploymentRuntime | None:
        return self.control.runtime

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
