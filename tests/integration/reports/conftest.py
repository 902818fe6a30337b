"""Fixtures for the reports tests: the governance tests' real world (SQLite, and PostgreSQL
when configured), and a deployment recorded through the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfr.db.session import SessionFactory
from tests.db_fixtures import Personas
from tests.integration.governance.conftest import enroler, planned_world, world
from tests.integration.governance.world import CachingEnroler
from tests.integration.reports.recorded import Recorded, record_deployment

__all__ = ["enroler", "planned_world", "world"]


@pytest.fixture
def recorded(
    session_factory: SessionFactory, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> Recorded:
    """A deployment that ran, alerted, was halted and ended: its review is open."""
    return record_deployment(session_factory, personas, enroler, faces_dir)
