"""Fixtures for the governance service tests (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfr.db.session import SessionFactory
from lfr.services.watchlists import VisionEnroler
from tests.db_fixtures import Personas
from tests.integration.governance.world import CachingEnroler, World, build_world


@pytest.fixture(scope="session")
def enroler() -> CachingEnroler:
    """The real enrolment (dlib HOG, quality gate, dlib ResNet), shared by the session."""
    return CachingEnroler(VisionEnroler.default())


@pytest.fixture
def world(
    session_factory: SessionFactory, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> World:
    """A running deployment with its sealed watchlist."""
    return build_world(session_factory, personas, enroler, faces_dir)


@pytest.fixture
def planned_world(
    session_factory: SessionFactory, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> World:
    """The same deployment, staffed and ready, not yet started."""
    return build_world(session_factory, personas, enroler, faces_dir, start=False)
