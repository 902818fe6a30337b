"""The alert rules and the dashboard in deploy/ speak of metrics lfr really exports."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from lfr import metrics
from lfr.vision.types import StageTimes

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def exported_names() -> set[str]:
    registry = CollectorRegistry(auto_describe=False)
    camera = metrics.CameraSample("d", "c", "up", 1.0, 10, 1, 100, 0, 0, 0.02, 0.04, 0)
    fleet = metrics.FleetSample(1, [("van-3", True, 2)])
    registry.register(metrics.StateCollector(lambda: [camera], lambda: fleet))
    registry.register(
        metrics.NodeCollector("van-3", lambda: [("c", True, 0)], lambda: True, lambda: 1)
    )
    metrics.ALERTS_RAISED.labels("d", "c")
    metrics.ALERTS_REFUSED.labels("d", "REC-2")
    metrics.FRAME_TO_ALERT.labels("d")
    metrics.HTTP_SECONDS.labels("GET", "/", "200")
    metrics.STAGES.add("d", "c", {"detect": StageTimes.of([0.01])})
    metrics.ALERT_TO_SCREEN.observe(0.05)
    text = (generate_latest(registry) + metrics.exposition()).decode()
    return set(re.findall(r"^(lfr_\w+?)(?:\{| )", text, flags=re.MULTILINE))


def test_every_metric_in_the_rules_and_dashboard_is_exported() -> None:
    used = set()
    for path in (
        DEPLOY / "prometheus" / "lfr-alerts.yml",
        DEPLOY / "grafana" / "lfr-dashboard.json",
    ):
        used |= set(re.findall(r"\blfr_[a-z0-9_]+", path.read_text()))
    assert used
    assert used - exported_names() == set()


def test_stage_histograms_add_up_what_the_workers_timed() -> None:
    """REC-5: each worker's per-interval stage counts are summed into one cumulative
    histogram per deployment, camera and stage (labels never name a subject)."""
    stages = metrics.StageHistograms()
    stages.add(
        "d-1", "north", {"detect": StageTimes.of([0.004, 0.02]), "decode": StageTimes.of([0.002])}
    )
    stages.add("d-1", "north", {"detect": StageTimes.of([0.3])})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(stages)
    text = generate_latest(registry).decode()
    where = 'camera="north",deployment="d-1"'
    detect = f'{where},stage="detect"'
    assert f'lfr_stage_seconds_bucket{{{where},le="0.005",stage="detect"}} 1.0' in text
    assert f'lfr_stage_seconds_bucket{{{where},le="0.025",stage="detect"}} 2.0' in text
    assert f'lfr_stage_seconds_bucket{{{where},le="+Inf",stage="detect"}} 3.0' in text
    assert f"lfr_stage_seconds_count{{{detect}}} 3.0" in text
    assert f"lfr_stage_seconds_sum{{{detect}}} 0.324" in text
    assert f'lfr_stage_seconds_count{{{where},stage="decode"}} 1.0' in text
