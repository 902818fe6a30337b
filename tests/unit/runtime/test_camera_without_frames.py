"""A camera that stopped delivering frames is flagged, not shown live (REC-5): its health
says so whatever the cause, and its frozen last frame is no longer served."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from lfr.runtime.central import CameraHealth
from lfr.runtime.preview import PreviewHub
from lfr.vision.types import CameraStatus, HealthFigures


def figures(status: CameraStatus, fps: float) -> HealthFigures:
    return HealthFigures(
        camera="cam",
        status=status,
        at=datetime.now(UTC),
        fps=fps,
        faces_per_s=0,
        latency_ms_p50=0,
        latency_ms_p95=0,
        frames=10,
        faces=0,
        dropped_frames=0,
        errors=0,
    )


@pytest.mark.parametrize(
    ("status", "fps", "age_s", "shown", "flagged"),
    [
        (CameraStatus.UP, 12.0, 2.0, "up", False),
        (CameraStatus.UP, 0.0, 2.0, "stalled", True),  # connected, no frame in the window
        (CameraStatus.UP, 12.0, 60.0, "stale", True),  # reports stopped: a dead worker
        (CameraStatus.ENDED, 0.0, 2.0, "ended", True),  # the clip ended
        (CameraStatus.DOWN, 0.0, 2.0, "down", True),
    ],
)
def test_a_camera_without_frames_is_flagged_whatever_the_cause(
    status: CameraStatus, fps: float, age_s: float, shown: str, flagged: bool
) -> None:
    health = CameraHealth("cam", figures(status, fps), None, age_s=age_s, settled=True)
    assert health.status == shown
    assert health.without_frames is flagged


def test_a_frozen_frame_is_no_longer_served() -> None:
    hub = PreviewHub()
    hub.keep("dep", "cam", b"frame")
    assert hub.latest("dep", "cam", max_age_s=60) == b"frame"
    time.sleep(0.05)
    assert hub.latest("dep", "cam", max_age_s=0.01) is None
