"""Shared, session-scoped engine parts for the vision tests: the dlib models load once
and each example photograph is analysed once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.describers import Describer, DlibDescriberConfig, build_describer
from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.imageio import load_image
from lfr.vision.landmarks import LandmarkLocator
from lfr.vision.types import RGBImage


@pytest.fixture(scope="session")
def examples_dir(faces_dir: Path) -> Path:
    return faces_dir / "face_recognition-examples"


@pytest.fixture(scope="session")
def locator() -> LandmarkLocator:
    return LandmarkLocator()


@pytest.fixture(scope="session")
def analyser(locator: LandmarkLocator) -> FaceAnalyser:
    """HOG with one upsampling, as enrolment uses it (finds faces down to ~40 px)."""
    return FaceAnalyser(build_detector(HogDetectorConfig(upsample=1)), locator)


@pytest.fixture(scope="session")
def describer() -> Describer:
    """The engine's default describer (dlib's weights in ONNX Runtime, no flip averaging)."""
    from lfr.vision.pipeline import EngineConfig

    return build_describer(EngineConfig().describer)


@pytest.fixture(scope="session")
def dlib_runtime_describer() -> Describer:
    """The same weights run by dlib-bin itself: the reference the fast path must equal."""
    return build_describer(DlibDescriberConfig(runtime="dlib", mirror=False))


@pytest.fixture(scope="session")
def example_image(examples_dir: Path) -> Callable[[str], RGBImage]:
    cache: dict[str, RGBImage] = {}

    def get(name: str) -> RGBImage:
        if name not in cache:
            image = load_image(examples_dir / name)
            # Shared by every test of the session: read-only, so a test that drew on it
            # in place would fail at once instead of silently changing later tests' input.
            image.setflags(write=False)
            cache[name] = image
        return cache[name]

    return get


@pytest.fixture(scope="session")
def example_faces(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> Callable[[str], list[FaceObservation]]:
    cache: dict[str, list[FaceObservation]] = {}

    def get(name: str) -> list[FaceObservation]:
        if name not in cache:
            cache[name] = analyser.analyse(example_image(name))
        return cache[name]

    return get
