"""Operational metrics for Prometheus (`/metrics` on `lfr serve`, `--metrics-port` on a
node): what a control room running many vans watches, with the same figures the pages show.

Labels name deployments, cameras, nodes and routes, never a subject, an entry or an alert:
a metric is operational data that leaves the system, and nothing about a person may be in
it (REC-4, DP-2; a test reads every label). Counters count events as they happen; what the
runtime holds (camera health and its age, worker restarts) and what the record holds (halts
not yet delivered, node link state) is read at scrape time, so a scrape always says what
the deployment page says.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lfr.vision.types import STAGE_BUCKETS_S, StageTimes

REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics (not the library's global registry: tests build several apps)."""

ALERTS_RAISED = Counter(
    "lfr_alerts_raised",
    "Alerts stored from match events.",
    ["deployment", "camera"],
    registry=REGISTRY,
)
ALERTS_REFUSED = Counter(
    "lfr_alerts_refused",
    "Match events refused as alerts, by the rule that refused them.",
    ["deployment", "rule"],
    registry=REGISTRY,
)
BUS_REFUSED = Counter(
    "lfr_bus_messages_refused",
    "Messages from the bus refused because their sender is not proven (unsigned, an unknown "
    "or revoked signer, a signature that does not verify, a camera another runs); never "
    "stored.",
    ["topic", "why"],
    registry=REGISTRY,
)
FRAME_TO_ALERT = Histogram(
    "lfr_frame_to_alert_seconds",
    "From the capture of the probe's frame to the alert stored.",
    ["deployment"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "lfr_http_request_duration_seconds",
    "HTTP request duration by route template (never the concrete path).",
    ["method", "route", "status"],
    registry=REGISTRY,
)
ALERT_TO_SCREEN = Histogram(
    "lfr_alert_to_screen_seconds",
    "From an alert stored (or changed) to its event sent on an operator's open console "
    "stream; one observation per open screen.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter(
    "lfr_database_errors", "Requests or sinks that failed on the database.", registry=REGISTRY
)


class StageHistograms(Collector):
    """Time per stage of the camera workers (decode, detect, describe, match), summed from
    the histograms in their health figures: one Prometheus histogram per deployment,
    camera and stage, cumulative over worker restarts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], list[int]] = {}
        self._sums: dict[tuple[str, str, str], float] = {}

    def add(self, deployment: str, camera: str, stages: Mapping[str, StageTimes]) -> None:
        with self._lock:
            for stage, times in stages.items():
                key = (deployment, camera, stage)
                counts = self._counts.setdefault(key, [0] * len(times.counts))
                for index, count in enumerate(times.counts):
                    counts[index] += count
                self._sums[key] = self._sums.get(key, 0.0) + times.sum_s

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "lfr_stage_seconds",
            "Time per frame in each stage of the camera worker (decode, detect, describe, match).",
            labels=["deployment", "camera", "stage"],
        )
        with self._lock:
            for key, counts in sorted(self._counts.items()):
                bounds = [str(b) for b in STAGE_BUCKETS_S] + ["+Inf"]
                buckets = list(zip(bounds, itertools.accumulate(counts), strict=True))
                family.add_metric(list(key), buckets, self._sums[key])
        yield family


STAGES = StageHistograms()
REGISTRY.register(STAGES)


@dataclass(frozen=True, slots=True)
class CameraSample:
    """One camera as the runtime holds it (`lfr.runtime.central.CameraHealth`)."""

    deployment: str
    camera: str
    status: str
    age_s: float | None
    fps: float
    faces_per_s: float
    frames: int
    dropped_frames: int
    errors: int
    latency_p50_s: float
    latency_p95_s: float
    restarts: int
    descriptions: int = 0


@dataclass(frozen=True, slots=True)
class FleetSample:
    undelivered_halts: int
    nodes: list[tuple[str, bool, int | None]]
    """(node, link up, alerts waiting on its disk)."""


class StateCollector(Collector):
    """Reads the runtime's cameras and the record's fleet state at each scrape."""

    def __init__(
        self,
        cameras: Callable[[], list[CameraSample]],
        fleet: Callable[[], FleetSample] | None = None,
    ) -> None:
        self._cameras = cameras
        self._fleet = fleet

    def collect(self) -> Iterator[Metric]:
        yield from camera_metrics(self._cameras())
        if self._fleet is not None:
            yield from fleet_metrics(self._fleet())


def camera_metrics(samples: list[CameraSample]) -> Iterator[Metric]:
    labels = ["deployment", "camera"]
    gauges = {
        "up": GaugeMetricFamily(
            "lfr_camera_up", "1 when the camera's figures say up.", labels=labels
        ),
        "stale": GaugeMetricFamily(
            "lfr_camera_stale", "1 when the camera's figures stopped arriving.", labels=labels
        ),
        "age": GaugeMetricFamily(
            "lfr_camera_health_age_seconds", "Age of the camera's latest figures.", labels=labels
        ),
        "fps": GaugeMetricFamily("lfr_camera_fps", "Frames processed per second.", labels=labels),
        "faces": GaugeMetricFamily(
            "lfr_camera_faces_per_second", "Faces detected per second.", labels=labels
        ),
        "p50": GaugeMetricFamily(
            "lfr_camera_latency_p50_seconds", "Frame latency, median.", labels=labels
        ),
        "p95": GaugeMetricFamily(
            "lfr_camera_latency_p95_seconds", "Frame latency, 95th percentile.", labels=labels
        ),
    }
    counters = {
        "frames": CounterMetricFamily(
            "lfr_camera_frames", "Frames read by the worker.", labels=labels
        ),
        "dropped": CounterMetricFamily(
            "lfr_camera_dropped_frames", "Frames dropped to keep up.", labels=labels
        ),
        "descriptions": CounterMetricFamily(
            "lfr_camera_descriptions",
            "Faces described (detected faces chosen for it).",
            labels=labels,
        ),
        "errors": CounterMetricFamily(
            "lfr_camera_errors", "Source and engine errors.", labels=labels
        ),
        "restarts": CounterMetricFamily(
            "lfr_worker_restarts", "Worker process restarts.", labels=labels
        ),
    }
    for s in samples:
        key = [s.deployment, s.camera]
        gauges["up"].add_metric(key, 1.0 if s.status == "up" else 0.0)
        gauges["stale"].add_metric(key, 1.0 if s.status == "stale" else 0.0)
        if s.age_s is not None:
            gauges["age"].add_metric(key, s.age_s)
        gauges["fps"].add_metric(key, s.fps)
        gauges["faces"].add_metric(key, s.faces_per_s)
        gauges["p50"].add_metric(key, s.latency_p50_s)
        gauges["p95"].add_metric(key, s.latency_p95_s)
        counters["frames"].add_metric(key, s.frames)
        counters["dropped"].add_metric(key, s.dropped_frames)
        counters["errors"].add_metric(key, s.errors)
        counters["descriptions"].add_metric(key, s.descriptions)
        counters["restarts"].add_metric(key, s.restarts)
    yield from gauges.values()
    yield from counters.values()


def fleet_metrics(sample: FleetSample) -> Iterator[Metric]:
    undelivered = GaugeMetricFamily(
        "lfr_control_outbox_undelivered", "Halts not yet acknowledged by every node."
    )
    undelivered.add_metric([], sample.undelivered_halts)
    link = GaugeMetricFamily(
        "lfr_node_link_up", "1 when the node reported lately.", labels=["node"]
    )
    depth = GaugeMetricFamily(
        "lfr_node_outbox_depth", "Alerts waiting on the node's disk.", labels=["node"]
    )
    for node, up, waiting in sample.nodes:
        link.add_metric([node], 1.0 if up else 0.0)
        if waiting is not None:
            depth.add_metric([node], waiting)
    yield from (undelivered, link, depth)


def exposition() -> bytes:
    """The text format Prometheus scrapes."""
    return generate_latest(REGISTRY)


class Withheld(Collector):
    """The metrics of `sources` less every sample naming a deployment the public pages do
    not show yet (an announcement delayed, PUB-1): a scrape reveals no more than they do.
    ``shown`` is asked at each scrape."""

    def __init__(self, sources: Sequence[Collector], shown: Callable[[], Collection[str]]) -> None:
        self._sources = sources
        self._shown = shown

    def collect(self) -> Iterator[Metric]:
        visible = self._shown()
        for source in self._sources:
            for family in source.collect():
                kept = copy.copy(family)
                kept.samples = [
                    sample
                    for sample in family.samples
                    if sample.labels.get("deployment", "") in visible
                    or "deployment" not in sample.labels
                ]
                yield kept


def scrape(state: Collector, shown: Callable[[], Collection[str]]) -> CollectorRegistry:
    """What a scrape of the service reads: this process's metrics and the runtime's and the
    record's state (`state`), deployments not yet announced withheld."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Withheld([REGISTRY, state], shown))
    return registry


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods a request's label names; any other is labelled ``other`` (each unknown method
would be a new series: 40 requests made 720)."""


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


class Timer:
    """Seconds since it was made (for a histogram observation)."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self._start


class NodeCollector(Collector):
    """A node's own figures at each scrape (`lfr node --metrics-port`)."""

    def __init__(
        self,
        node: str,
        workers: Callable[[], list[tuple[str, bool, int]]],
        link_up: Callable[[], bool],
        outbox_depth: Callable[[], int | None],
    ) -> None:
        self._node = node
        self._workers = workers
        self._link_up = link_up
        self._outbox_depth = outbox_depth

    def collect(self) -> Iterator[Metric]:
        link = GaugeMetricFamily(
            "lfr_node_link_up", "1 when reports reach the bus.", labels=["node"]
        )
        link.add_metric([self._node], 1.0 if self._link_up() else 0.0)
        yield link
        depth = self._outbox_depth()
        if depth is not None:
            waiting = GaugeMetricFamily(
                "lfr_node_outbox_depth", "Alerts waiting on the node's disk.", labels=["node"]
            )
            waiting.add_metric([self._node], depth)
            yield waiting
        alive = GaugeMetricFamily(
            "lfr_worker_alive", "1 while the camera's worker process runs.", labels=["camera"]
        )
        restarts = CounterMetricFamily(
            "lfr_worker_restarts", "Worker process restarts.", labels=["camera"]
        )
        for camera, running, crashes in self._workers():
            alive.add_metric([camera], 1.0 if running else 0.0)
            restarts.add_metric([camera], crashes)
        yield from (alive, restarts)
