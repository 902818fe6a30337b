"""The video benchmark at scale: walk-by clips through the live engine, per decision rule.

A generated walk-by clip (`benchmarks.walkby_clips`: lfw-dev people walking up to the
camera in the repository's real videos, 310 mated and 310 non-mated passers, 1,100
enrolled subjects by default) is run through the engine's own camera worker
(`lfr.vision.pipeline.CameraWorker`: detection and following, tracking, the live quality
gate, description, matching and confirmation, at `EngineConfig`'s settings) once per
rule. The watchlist is enrolled through the engine's enrolment (WL-5 gate) with the
rule's describer. Each alert is put on the passer whose pasted face holds the centre of
the alert's box in the frame it was seen; an alert that lands on no passer is on a person
of the background video (none is enrolled: it is false).

Per rule, overall and per sex (lfw-dev's verified labels), each with its 95% Wilson
interval:
- *found*: mated passers (enrolled) alerted as themselves;
- *falsely alerted per 1,000 non-mated passers*: non-mated passers with at least one
  alert; and false alerts of any kind (on a non-mated passer, on a mated passer as
  someone else, on the background) per 1,000 passers;
- *fps*: frames per second of the worker (detection time counted once per frame even
  where it came from the cache below).

Detection is the same for every rule (the detector sees the same frames), so its boxes
are cached per clip and detector (`.lfr-cache/walkby/<clip>/detections-<key>.json`, with
the time each took): the first rule pays for detection and the rest reuse it; the fps of
every rule still counts the detection time measured when it ran. Nothing else is cached:
descriptors live only inside the worker, as in the engine.

    nice -n 10 python -m benchmarks.walkby                   # the full run (about an hour here)
    python -m benchmarks.walkby --quick                      # 16 passers, CI-sized
    python -m benchmarks.walkby --rules engine,snorm --json out.json
    python -m benchmarks.walkby --rules before,pooled --threshold 0.956
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import CACHE_ROOT
from benchmarks.walkby_clips import QUICK_SPEC, Passer, WalkbyClip, WalkbySpec, generate
from lfr.evaluation.rates import wilson_interval
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.decision import Description, TrackPooling
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER
from lfr.vision.detection import Detection, Detector
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.matcher import Gallery
from lfr.vision.normalisation import CohortNormalisation
from lfr.vision.pipeline import CameraWorker, Emitted, Engine, EngineConfig
from lfr.vision.sources import FileSource
from lfr.vision.tracking import TrackerConfig
from lfr.vision.types import Box, MatchEvent, RGBImage

START = datetime(2026, 1, 1, tzinfo=UTC)
"""The clip's first frame's capture time (alerts are put back on frames by it)."""


# --- the rules -------------------------------------------------------------------------


FACERES_MODEL = CACHE_ROOT / "models" / "faceres.onnx"
"""Where `lfr model import-faceres` is asked to write faceres for the fusion rule."""


def rule_configs(fusion_threshold: float | None = None) -> dict[str, EngineConfig]:
    """Each rule the benchmark can run, as the engine configuration that runs it. The
    first is the engine's default; `before` the previous default (plain description, raw
    cosine, each description on its own, faces of quality under 0.3 never described,
    0.946), and the others are variants of it; `fusion` needs faceres imported (`FACERES_MODEL`) and
    runs at `fusion_threshold`, by default the fused model's evaluated default (its model
    card: the fused score of the dlib default's false-match rate)."""
    engine = EngineConfig()
    before = EngineConfig(
        description=Description(),
        fair_normalisation=False,
        track_pooling=TrackPooling.EACH,
        tracker=TrackerConfig(min_describe_quality=0.3),
        alert_threshold=0.946,
    )
    rules = {
        "engine": engine,
        "before": before,
        "pooled": before.updated(track_pooling=TrackPooling.MEAN),
        "flip+context+fair+pooled": before.updated(
            description={"mirror": True, "chip_paddings": [0.25, 0.3]},
            fair_normalisation=True,
            track_pooling=TrackPooling.MEAN,
        ),
        "snorm": before.updated(score_normalisation=CohortNormalisation().model_dump()),
        "fair": before.updated(fair_normalisation=True),
        "flip": before.updated(description={"mirror": True}),
        "flip+context+fair": before.updated(
            description={"mirror": True, "chip_paddings": [0.25, 0.3]}, fair_normalisation=True
        ),
    }
    if FACERES_MODEL.is_file():
        parts = [
            {"describer": {"type": "dlib", "mirror": False}, "weight": 0.85},
            {"describer": {"type": "faceres", "model_path": str(FACERES_MODEL)}, "weight": 0.15},
        ]
        fused = DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "fusion", "parts": parts})
        threshold = {} if fusion_threshold is None else {"alert_threshold": fusion_threshold}
        rules["fusion"] = EngineConfig(describer=fused, **threshold)
        rules["fusion+flip"] = rules["fusion"].updated(description={"mirror": True})
    return rules


# --- detection, computed once per clip ---------------------------------------------------


class DetectionCache:
    """Detections per frame (keyed by a digest of its pixels) with the seconds each took."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, tuple[list[tuple[int, int, int, int, float]], float]] = {}
        if path.is_file():
            stored = json.loads(path.read_text())
            self._entries = {k: ([tuple(d) for d in v[0]], v[1]) for k, v in stored.items()}
        self.changed = False

    def get(self, key: str) -> tuple[list[Detection], float] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        boxes, seconds = entry
        found = [
            Detection(
                Box(left=int(left), top=int(top), right=int(right), bottom=int(bottom)), float(c)
            )
            for left, top, right, bottom, c in boxes
        ]
        return found, seconds

    def put(self, key: str, detections: Sequence[Detection], seconds: float) -> None:
        boxes = [
            (d.box.left, d.box.top, d.box.right, d.box.bottom, d.confidence) for d in detections
        ]
        self._entries[key] = (boxes, seconds)
        self.changed = True

    def save(self) -> None:
        if self.changed:
            partial = self.path.with_suffix(".partial")
            partial.write_text(json.dumps(self._entries))
            partial.replace(self.path)
            self.changed = False


class CachedDetector:
    """The engine's detector, answering from the cache where it has seen the frame; keeps
    the detection seconds of every frame it answered (measured or cached)."""

    def __init__(self, inner: Detector, cache: DetectionCache) -> None:
        self._inner = inner
        self._cache = cache
        self.seconds = 0.0
        self.cached_seconds = 0.0

    def detect(self, image: RGBImage) -> list[Detection]:
        key = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self.seconds += hit[1]
            self.cached_seconds += hit[1]
            return hit[0]
        started = time.perf_counter()
        found = self._inner.detect(image)
        spent = time.perf_counter() - started
        self._cache.put(key, found, spent)
        self.seconds += spent
        return found


def detection_cache(clip: WalkbyClip, config: EngineConfig) -> DetectionCache:
    key = hashlib.sha256(config.detector.model_dump_json().encode()).hexdigest()[:12]
    return DetectionCache(clip.folder / f"detections-{key}.json")


# --- enrolment ------------------------------------------------------------------------


def enrolled(clip: WalkbyClip, engine: Engine, config: EngineConfig) -> tuple[Gallery, int]:
    """The clip's watchlist enrolled as the engine enrols it, with the rule's describer;
    cached per describer (the templates of lfw-dev's public photographs)."""
    key = hashlib.sha256(
        (
            config.describer.model_dump_json()
            + config.description.model_dump_json()
            + config.enrolment_detector().model_dump_json()
            + config.enrolment_gate.model_dump_json()
        ).encode()
    ).hexdigest()[:12]
    cached = clip.folder / f"gallery-{key}.npz"
    if cached.is_file():
        with np.load(cached) as stored:
            subjects = [str(s) for s in stored["subjects"]]
            gallery = Gallery.build(
                subjects, stored["descriptors"], model_id=engine.describer.model_id
            )
            return gallery, int(stored["refused"])
    gallery, refusals = load_watchlist_dir(
        clip.watchlist,
        engine.enrolment_analyser,
        engine.describer,
        config.enrolment_gate,
        description=config.description,
    )
    descriptors = gallery.similarities(np.eye(gallery.dimension, dtype=np.float32)).T
    # One image per subject: the identity matrix reads the templates back.
    np.savez(
        cached,
        subjects=np.array(gallery.subject_ids),
        descriptors=descriptors,
        refused=len(refusals),
    )
    return gallery, len(refusals)


# --- running one rule -------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    frame: int
    subject: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class RuleRun:
    rule: str
    alerts: list[Alert]
    enrolled: frozenset[str]
    refused: int
    frames: int
    seconds: float
    """Worker time, with the detection time of cached frames added back."""
    descriptions: int


def run_rule(name: str, config: EngineConfig, clip: WalkbyClip) -> RuleRun:
    """The clip through a `CameraWorker` built from `config`, as a camera runs it."""
    engine = Engine.from_config(config)
    gallery, refused = enrolled(clip, engine, config)
    cache = detection_cache(clip, config)
    detector = CachedDetector(engine.analyser.detector, cache)
    analyser = FaceAnalyser(
        detector, engine.analyser.locator, alignments=engine.analyser.alignments
    )
    engine = replace(engine, analyser=analyser)
    events: list[MatchEvent] = []

    def keep(emitted: Emitted) -> None:
        if isinstance(emitted, MatchEvent):
            events.append(emitted)

    source = FileSource(clip.video, "walkby", start=START)
    worker = CameraWorker(source, engine, gallery, config, keep)
    started = time.perf_counter()
    worker.run(threading.Event())
    wall = time.perf_counter() - started
    cache.save()
    alerts = [
        Alert(
            frame=round((event.captured_at - START).total_seconds() * source.fps),
            subject=event.subject_id,
            box=(event.box.left, event.box.top, event.box.right, event.box.bottom),
        )
        for event in events
    ]
    return RuleRun(
        rule=name,
        alerts=alerts,
        enrolled=frozenset(gallery.subject_ids),
        refused=refused,
        frames=clip.spec.frames,
        seconds=wall + detector.cached_seconds,
        descriptions=worker.descriptions,
    )


# --- the maths ---------------------------------------------------------------------------


def attribute(
    alert: Alert, passers_at: Mapping[int, Sequence[tuple[Passer, Box]]]
) -> Passer | None:
    """The passer whose pasted face holds the centre of the alert's box in its frame
    (the smallest, i.e. farthest, where faces overlap), or None: the background."""
    centre_x = (alert.box[0] + alert.box[2]) / 2
    centre_y = (alert.box[1] + alert.box[3]) / 2
    holding = [
        (box.width * box.height, passer)
        for passer, box in passers_at.get(alert.frame, ())
        if box.left <= centre_x < box.right and box.top <= centre_y < box.bottom
    ]
    return min(holding, key=lambda pair: pair[0])[1] if holding else None


def boxes_by_frame(passers: Iterable[Passer]) -> dict[int, list[tuple[Passer, Box]]]:
    by_frame: dict[int, list[tuple[Passer, Box]]] = defaultdict(list)
    for passer in passers:
        for frame, left, top, right, bottom in passer.boxes:
            by_frame[frame].append((passer, Box(left=left, top=top, right=right, bottom=bottom)))
    return by_frame


@dataclass(frozen=True)
class Proportion:
    count: int
    total: int

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.total)

    def percent(self) -> str:
        return self._shown(100, "%")

    def per_thousand(self) -> str:
        return self._shown(1000, "")

    def _shown(self, scale: int, unit: str) -> str:
        low, high = self.interval
        counts = f"({self.count}/{self.total})"
        return f"{scale * self.rate:.1f}{unit} [{scale * low:.1f}, {scale * high:.1f}] {counts}"


@dataclass(frozen=True)
class GroupOutcome:
    found: Proportion
    """Enrolled mated passers alerted as themselves."""
    falsely_alerted: Proportion
    """Non-mated passers with at least one alert."""
    false_alerts: Proportion
    """False alerts on the group's passers (any subject other than the passer), over the
    group's passers (both kinds)."""


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    groups: dict[str, GroupOutcome]
    """"all", then each sex."""
    background_alerts: int
    mated_not_enrolled: int
    refused: int
    enrolled: int
    fps: float
    descriptions: int


def tally(run: RuleRun, passers: Sequence[Passer]) -> RuleOutcome:
    """Found, falsely alerted and false alerts per group, from the run's alerts."""
    by_frame = boxes_by_frame(passers)
    own: set[int] = set()
    wrong: dict[int, int] = defaultdict(int)
    background = 0
    for alert in run.alerts:
        passer = attribute(alert, by_frame)
        if passer is None:
            background += 1
        elif passer.mated and alert.subject == passer.identity:
            own.add(passer.passer_id)
        else:
            wrong[passer.passer_id] += 1
    mated = [p for p in passers if p.mated and p.identity in run.enrolled]
    groups: dict[str, GroupOutcome] = {}
    for group in ["all", *sorted({p.sex for p in passers})]:
        members = [p for p in passers if group in ("all", p.sex)]
        group_mated = [p for p in mated if p in members]
        non_mated = [p for p in members if not p.mated]
        groups[group] = GroupOutcome(
            found=Proportion(sum(p.passer_id in own for p in group_mated), len(group_mated)),
            falsely_alerted=Proportion(
                sum(wrong[p.passer_id] > 0 for p in non_mated), len(non_mated)
            ),
            false_alerts=Proportion(sum(wrong[p.passer_id] for p in members), len(members)),
        )
    return RuleOutcome(
        rule=run.rule,
        groups=groups,
        background_alerts=background,
        mated_not_enrolled=sum(1 for p in passers if p.mated and p.identity not in run.enrolled),
        refused=run.refused,
        enrolled=len(run.enrolled),
        fps=run.frames / run.seconds if run.seconds > 0 else 0.0,
        descriptions=run.descriptions,
    )


# --- the table ---------------------------------------------------------------------------


def table(outcomes: Sequence[RuleOutcome]) -> str:
    groups = list(outcomes[0].groups) if outcomes else []
    lines = [
        "| rule | group | found (FNIR = 1 − found) | non-mated passers alerted per 1,000 "
        "| false alerts per 1,000 passers | background alerts | descriptions | fps |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for outcome in outcomes:
        for group in groups:
            result = outcome.groups[group]
            lines.append(
                f"| {outcome.rule} | {group} | {result.found.percent()} "
                f"| {result.falsely_alerted.per_thousand()} | {result.false_alerts.per_thousand()} "
                + (
                    f"| {outcome.background_alerts} | {outcome.descriptions} | {outcome.fps:.1f} |"
                    if group == "all"
                    else "| | | |"
                )
            )
    return "\n".join(lines)


def run(
    spec: WalkbySpec,
    rules: Sequence[str],
    *,
    fusion_threshold: float | None = None,
    threshold: float | None = None,
    progress: Callable[[str], None] = print,
) -> list[RuleOutcome]:
    """Each rule through the clip; `threshold`, when given, replaces every rule's alert
    threshold (the rule is then named `rule@threshold`)."""
    configs = rule_configs(fusion_threshold)
    unknown = [r for r in rules if r not in configs]
    if unknown:
        raise ValueError(f"unknown rules {unknown}: choose from {', '.join(configs)}")
    if threshold is not None:
        configs = {
            f"{name}@{threshold:g}": configs[name].updated(alert_threshold=threshold)
            for name in rules
        }
        rules = [f"{name}@{threshold:g}" for name in rules]
    clip = generate(spec)
    passers = clip.passers()
    progress(f"{clip.folder.name}: {spec.frames} frames, {len(passers)} passers")
    outcomes = []
    for name in rules:
        outcome = tally(run_rule(name, configs[name], clip), passers)
        progress(
            f"{name}: found {outcome.groups['all'].found.percent()}, "
            f"{outcome.fps:.1f} fps, enrolled {outcome.enrolled} (refused {outcome.refused})"
        )
        outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI-sized clip (16 passers)")
    parser.add_argument("--rules", default="engine,snorm", help="comma-separated rule names")
    parser.add_argument("--mated", type=int, default=WalkbySpec.mated)
    parser.add_argument("--non-mated", type=int, default=WalkbySpec.non_mated)
    parser.add_argument("--watchlist", type=int, default=WalkbySpec.watchlist_size)
    parser.add_argument("--seed", type=int, default=WalkbySpec.seed)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="run every chosen rule at this alert threshold instead of its own",
    )
    parser.add_argument(
        "--fusion-threshold",
        type=float,
        default=None,
        help="the fusion rule's threshold (default: the fused model's evaluated default)",
    )
    args = parser.parse_args(argv)
    spec = (
        QUICK_SPEC
        if args.quick
        else WalkbySpec(
            mated=args.mated,
            non_mated=args.non_mated,
            watchlist_size=args.watchlist,
            seed=args.seed,
        )
    )
    chosen = [r.strip() for r in args.rules.split(",") if r.strip()]
    outcomes = run(spec, chosen, fusion_threshold=args.fusion_threshold, threshold=args.threshold)
    print(table(outcomes))
    if args.json is not None:
        args.json.write_text(json.dumps([_as_json(o) for o in outcomes], indent=2))


def _as_json(outcome: RuleOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    for group, result in outcome.groups.items():
        for name in ("found", "falsely_alerted", "false_alerts"):
            proportion: Proportion = getattr(result, name)
            data["groups"][group][name].update(
                rate=proportion.rate, interval=list(proportion.interval)
            )
    return data


if __name__ == "__main__":
    main()
