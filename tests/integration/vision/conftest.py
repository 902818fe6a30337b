"""Shared, expensive parts of the engine tests: one engine (the dlib models load once per
session) and watchlist folders built in a temporary directory from the shared data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lfr.vision.pipeline import Engine, EngineConfig

MIRANDA = "lin-manuel-miranda"
LACAMOIRE = "alex-lacamoire"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_config(EngineConfig())


def make_watchlist(root: Path, images: list[Path]) -> Path:
    """DIR/<subject>.<ext>: the one-image-per-subject layout."""
    root.mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copyfile(image, root / image.name)
    return root


@pytest.fixture(scope="session")
def examples_dir(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition-examples"


@pytest.fixture(scope="session")
def lfw_watchlist(tmp_path_factory: pytest.TempPathFactory, lfw_dir: Path) -> Path:
    """The first image of 30 lfw-dev identities spread over the alphabet (every 100th)."""
    people = sorted(p for p in (lfw_dir / "images").iterdir() if p.is_dir())[::100][:30]
    images = [sorted(person.glob("*.jpg"))[0] for person in people]
    return make_watchlist(tmp_path_factory.mktemp("lfw-watchlist"), images)
