"""Web fixtures: the real app on a real migrated database (SQLite, and PostgreSQL when
configured), persona accounts, and clients signed in as each persona."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lfr.db.session import SessionFactory, transaction
from lfr.db.web_sessions import SessionStage
from lfr.demo import Rehearsal
from lfr.domain.people import Actor
from lfr.services.watchlists import VisionEnroler
from lfr.settings import Settings
from lfr.system import System, build
from lfr.web.context import WebContext
from lfr.web.sessions import COOKIE_NAME
from tests.db_fixtures import Personas
from tests.web.rehearsal import running_rehearsal

ClientFor = Callable[[Actor], TestClient]


@pytest.fixture
def system_settings(migrated_url: str, tmp_path: Path) -> Settings:
    """The settings the system is built with (a test module overrides this fixture to
    build it with others)."""
    return Settings(environment="test", data_dir=tmp_path, database_url=migrated_url)


@pytest.fixture
def system(session_factory: SessionFactory, system_settings: Settings) -> System:
    """The system as `lfr serve` builds it (`lfr.system.build(settings)`), without camera
    workers, on the test database."""
    return build(system_settings, session_factory)


@pytest.fixture
def web_context(system: System) -> WebContext:
    return system.context


@pytest.fixture
def app_client(system: System) -> Iterator[TestClient]:
    with TestClient(system.app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def client_for(system: System) -> Iterator[ClientFor]:
    """A client already signed in as `actor` (the sign-in steps are tested on their own)."""
    web_context, app = system.context, system.app
    clients: list[TestClient] = []

    def make(actor: Actor) -> TestClient:
        with transaction(web_context.db) as db:
            token, view = web_context.sessions.create(
                db, user_id=actor.user_id, stage=SessionStage.SIGNED_IN, second_factor=True
            )
        client = TestClient(app, base_url="http://testserver")
        client.cookies.set(COOKIE_NAME, token)
        client.headers["X-CSRF-Token"] = view.csrf_token
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def enroler() -> VisionEnroler:
    """The engine's real enrolment (dlib models load once per run)."""
    return VisionEnroler.default()


@pytest.fixture
def subject_image(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png"


@pytest.fixture
def rehearsal(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
) -> Rehearsal:
    """`lfr demo`'s rehearsal deployment, staffed with the personas and running."""
    return running_rehearsal(
        web_context.db, personas, subject_image, video_dir / "short_hamilton_clip.mp4", enroler
    )
