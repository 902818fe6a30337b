"""Fixtures shared by every test.

Test data lives in ``../shared/data`` beside the project (``LFR_TEST_DATA`` overrides it).
Under CI (``CI=true``) a test that needs the data and cannot find it fails instead of
skipping, so a missing data folder can never turn the suite green.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    override = os.environ.get("LFR_TEST_DATA")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"


def missing(message: str) -> NoReturn:
    """Something a test needs is not installed: it fails under CI, and is skipped on a
    developer's machine."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        missing(f"test data not found at {path} (set LFR_TEST_DATA)")
    return path


@pytest.fixture(scope="session")
def faces_dir(data_dir: Path) -> Path:
    return data_dir / "faces"


@pytest.fixture(scope="session")
def video_dir(data_dir: Path) -> Path:
    return data_dir / "video"


@pytest.fixture(scope="session")
def lfw_dir(data_dir: Path) -> Path:
    return data_dir / "lfw-dev"


pytest_plugins = ["tests.db_fixtures"]
