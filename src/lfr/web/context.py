"""Everything the web application needs from the rest of lfr, gathered in one object so that
`lfr serve`, the tests and the benchmark build the same app around their own database."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from lfr.audit.log import request_id_var
from lfr.bus.identity import service_signer
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.reports.recognition import RecognitionSettings
from lfr.reports.thresholds import EvaluatedModel
from lfr.runtime.central import CentralRuntime
from lfr.runtime.control import DeploymentControl
from lfr.runtime.preview import PreviewHub
from lfr.services import people
from lfr.services.policy import GovernancePolicy
from lfr.services.watchlists import Enroler, VisionEnroler
from lfr.setting_groups import WebSettings
from lfr.settings import Settings
from lfr.web import signin
from lfr.web.access import RequestIdentity
from lfr.web.live import LiveFeed
from lfr.web.sessions import SessionStore, ThrottleStore

_ENROLER_LOCK = threading.Lock()


class RunningSide(Protocol):
    """What the web application needs of the recognition side that the system container
    attaches (`lfr.system.attach_recognition`): started with the app and stopped with it
    (its lifespan), and the runtime whose health and live figures the pages show."""

    @property
    def runtime(self) -> CentralRuntime: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class WebContext:
    settings: Settings
    db: SessionFactory
    request_id_var: ContextVar[str | None]
    feed: LiveFeed = field(default_factory=LiveFeed)
    policy: GovernancePolicy = field(init=False)
    """The governance limits of these settings (AUTH-3, WL-2, DP-1), given to every service
    call that applies one."""
    control: DeploymentControl = field(init=False)
    recognition: RunningSide | None = field(default=None, init=False)
    """Set by `lfr.system.attach_recognition`; None: the web alone (no camera runs here)."""
    preview: PreviewHub | None = field(default=None, init=False)
    sessions: SessionStore = field(init=False)
    throttle: ThrottleStore = field(init=False)
    _enroler: Enroler | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        secret = self.settings.session_secret.get_secret_value().encode()
        self.sessions = SessionStore(secret, self.web_settings)
        self.throttle = ThrottleStore(self.web_settings)
        self.policy = GovernancePolicy.from_settings(self.settings)
        self.control = DeploymentControl(self.db, self.policy, service_key=self.service_key)

    @property
    def service_key(self) -> bytes:
        """The service's bus key, which its own camera workers' messages verify with."""
        return service_signer(self.settings.audit_signing_key_bytes()).public_signing()

    @property
    def evaluated_model(self) -> EvaluatedModel:
        """The model the cameras run, as these settings name it: its version and the
        force's calibration file (the floor, the forecast and every score's meaning)."""
        engine = self.settings.engine
        return EvaluatedModel(
            self.settings.evaluated_model_version, engine.calibration_path, engine.alert_threshold
        )

    @property
    def account_lock(self) -> people.AccountLock:
        """When an account locks after failed sign-ins, and for how long (``web``)."""
        web = self.settings.web
        return people.AccountLock(web.max_failed_sign_ins, timedelta(minutes=web.lockout_minutes))

    @property
    def recognition_settings(self) -> RecognitionSettings:
        """What a deployment's recognition is resolved from besides its authority (the
        engine and the evaluated model of these settings)."""
        return RecognitionSettings.from_settings(self.settings)

    @property
    def web_settings(self) -> WebSettings:
        """Sign-in, session and upload limits: the settings' ``web`` group."""
        return self.settings.web

    def use_enroler(self, enroler: Enroler) -> None:
        """Share an enrolment already built (its models loaded) instead of building one."""
        with _ENROLER_LOCK:
            self._enroler = enroler

    def enroler(self) -> Enroler:
        """The engine's enrolment (WL-5), built on first use (its models load lazily)."""
        with _ENROLER_LOCK:
            if self._enroler is None:
                self._enroler = VisionEnroler.for_engine(self.settings.engine)
            return self._enroler

    @property
    def runtime(self) -> CentralRuntime | None:
        return self.recognition.runtime if self.recognition is not None else None

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
            return RequestIdentity(session=view, actor=signin.session_actor(user, view))


def web_context(settings: Settings, db: SessionFactory) -> WebContext:
    """The web's context on an opened database, with the audit log's request ids."""
    return WebContext(settings=settings, db=db, request_id_var=request_id_var)
