"""REC-5: every health figure has an age; figures that stopped arriving show STALE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lfr.runtime.central import STALE_AFTER_S, CameraHealth
from lfr.vision.types import CameraStatus, HealthFigures


def figures(status: CameraStatus) -> HealthFigures:
    return HealthFigures(
        deployment_id="d-1",
        camera="cam-1",
        status=status,
        at=datetime.now(UTC),
        fps=10.0,
        faces_per_s=1.0,
        latency_ms_p50=20,
        latency_ms_p95=40,
        frames=100,
        faces=10,
        dropped_frames=0,
        errors=0,
    )


@pytest.mark.parametrize(
    ("status", "age_s", "shown"),
    [
        (CameraStatus.UP, 1.0, "up"),
        (CameraStatus.UP, STALE_AFTER_S + 1, "stale"),
        (CameraStatus.DOWN, 1.0, "down"),
        (CameraStatus.DOWN, STALE_AFTER_S + 1, "down"),
        (CameraStatus.ENDED, STALE_AFTER_S + 60, "ended"),
    ],
)
def test_up_figures_older_than_a_few_intervals_show_stale(
    status: CameraStatus, age_s: float, shown: str
) -> None:
    assert CameraHealth("cam-1", figures(status), None, age_s=age_s).status == shown


def test_a_camera_never_heard_from_is_waiting_not_up() -> None:
    health = CameraHealth("cam-1", None, None)
    assert (health.status, health.stale) == ("waiting", True)


def test_a_node_s_metrics_name_cameras_and_the_node_only() -> None:
    """REC-4: a node's scrape carries its link, its disk outbox and its workers."""
    from prometheus_client import CollectorRegistry, generate_latest

    from lfr.metrics import NodeCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        NodeCollector("van-3", lambda: [("north", True, 2)], lambda: False, lambda: 4)
    )
    text = generate_latest(registry).decode()
    assert 'lfr_node_link_up{node="van-3"} 0.0' in text
    assert 'lfr_node_outbox_depth{node="van-3"} 4.0' in text
    assert 'lfr_worker_alive{camera="north"} 1.0' in text
    assert 'lfr_worker_restarts_total{camera="north"} 2.0' in text


def test_a_restarted_worker_s_figures_keep_the_last_error_until_the_camera_is_up() -> None:
    """REC-5: the supervisor reports a crash (down, with why); the restarted worker's first
    figures know nothing of it, so the page keeps the error and its time until the camera
    reports up again."""
    import asyncio

    from lfr.bus.messages import wrap
    from lfr.runtime.central import CentralRuntime
    from lfr.runtime.worker import down_figures

    runtime = CentralRuntime(lambda *_: None, alert_sink=lambda *_: None)
    crash = down_figures("d-1", "cam-1", 1, "worker exited with code 1")
    restarting = figures(CameraStatus.DOWN).model_copy(update={"errors": 1})
    for message in (crash, restarting):
        asyncio.run(runtime._on_health(wrap(message), None))  # type: ignore[arg-type]
    (shown,) = runtime.cameras("d-1")
    assert shown.last_error is not None
    assert (shown.last_error.reason, shown.last_error.at) == (crash.last_error, crash.at)

    asyncio.run(runtime._on_health(wrap(figures(CameraStatus.UP)), None))  # type: ignore[arg-type]
    (shown,) = runtime.cameras("d-1")
    assert shown.last_error is None
