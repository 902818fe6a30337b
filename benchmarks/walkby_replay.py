"""Decision rules replayed over the walk-by clip's descriptions: the engine's camera worker
runs the clip once (`benchmarks.walkby`'s clip, detection cache and watchlist), every
description it makes is recorded with each description setup (plain; flip and context),
and the alert decision of each rule is then replayed at every threshold of a grid.

A rule here is a score rule (raw cosine or fair normalisation, calibrated as the engine
calibrates it: `lfr.vision.decision.searched_gallery`) and a track rule:
- *each*: every description searched on its own, a subject confirmed when it is the top
  candidate of `min_confirmations` descriptions at or above the threshold (the engine
  before track fusion);
- *fused*: the track's descriptions pooled (`lfr.vision.decision.TrackTemplate`) and the
  pooled descriptor searched after each description; alert when its top candidate
  reaches the threshold once the track holds `min_descriptions` descriptions.

What is replayed is the recorded run's description schedule (which frames were described:
the tracker's urgency followed the engine's rule at the recorded threshold); the decision
is replayed, the schedule is not. The figures choose candidates for `benchmarks.walkby`,
which runs each candidate through the worker for the record.

    nice -n 10 python -m benchmarks.walkby_replay            # record (once), then replay
    nice -n 10 python -m benchmarks.walkby_replay --describe-quality 0.3 --record-threshold 0.946
    nice -n 10 python -m benchmarks.walkby_replay --describe-quality 0 --record-threshold 0.946 \
        --replay-qualities 0,0.1,0.2,0.3 --rules "each n2"
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks.walkby import (
    START,
    Alert,
    CachedDetector,
    DetectionCache,
    attribute,
    boxes_by_frame,
    detection_cache,
    enrolled,
    rule_configs,
)
from benchmarks.walkby_clips import QUICK_SPEC, Passer, WalkbyClip, WalkbySpec, generate
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.decision import DecisionRule, Description, searched_gallery
from lfr.vision.describers.base import l2_normalise
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import CameraWorker, Engine, EngineConfig, FaceInFrame
from lfr.vision.sources import FileSource
from lfr.vision.tracking import Sighting
from lfr.vision.types import Frame

DESCRIPTIONS = {
    "plain": Description(),
    "flip+context": Description(mirror=True, chip_paddings=(0.25, 0.3)),
}
"""What is recorded of each face with dlib. The fusion (`--describer fusion`: dlib and
faceres) records plain and flip only: context crops would triple two networks' passes."""
FUSION_DESCRIPTIONS = {"plain": Description(), "flip": Description(mirror=True)}


def descriptions_of(config: EngineConfig) -> dict[str, Description]:
    return FUSION_DESCRIPTIONS if config.describer.type == "fusion" else DESCRIPTIONS


@dataclass
class Recording:
    frames: NDArray[np.int64]
    tracks: NDArray[np.int64]
    boxes: NDArray[np.int64]
    qualities: NDArray[np.float64]
    descriptors: dict[str, NDArray[np.float32]]


class _RecordingWorker(CameraWorker):
    """The engine's worker, keeping each description it makes under every setup."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.setups = descriptions_of(self.config)
        self.rows: list[tuple[int, int, tuple[int, int, int, int], float]] = []
        self.described: dict[str, list[NDArray[np.float32]]] = defaultdict(list)

    def _describe_and_match(
        self, frame: Frame, chosen: list[tuple[int, Sighting[FaceInFrame]]]
    ) -> None:
        faces = [sighting.payload.face for _, sighting in chosen]
        for name, description in self.setups.items():
            self.described[name].append(description.describe(self.engine.describer, faces))
        for track_id, sighting in chosen:
            box = sighting.box
            self.rows.append(
                (
                    frame.index,
                    track_id,
                    (box.left, box.top, box.right, box.bottom),
                    sighting.quality,
                )
            )
        super()._describe_and_match(frame, chosen)


def _engine(clip: WalkbyClip, config: EngineConfig) -> tuple[Engine, DetectionCache]:
    """The engine of `config`'s describer with every description's crops cut, detecting
    through the clip's cache."""
    widest = EngineConfig(
        describer=config.describer, description=list(descriptions_of(config).values())[-1]
    )
    engine = Engine.from_config(widest)
    cache = detection_cache(clip, widest)
    detector = CachedDetector(engine.analyser.detector, cache)
    analyser = FaceAnalyser(
        detector, engine.analyser.locator, alignments=engine.analyser.alignments
    )
    return replace(engine, analyser=analyser), cache


def record(clip: WalkbyClip, config: EngineConfig) -> Recording:
    least = config.tracker.min_describe_quality
    describer = "" if config.describer.type == "dlib" else f"-{config.describer.type}"
    name = f"replay-descriptions{describer}-q{least:g}-t{config.alert_threshold:g}.npz"
    path = clip.folder / name
    if path.is_file():
        with np.load(path) as stored:
            return Recording(
                stored["frames"],
                stored["tracks"],
                stored["boxes"],
                stored["qualities"],
                {name: stored[f"d_{name}"] for name in descriptions_of(config)},
            )
    engine, cache = _engine(clip, config)
    gallery, _ = enrolled(clip, engine, config)
    worker = _RecordingWorker(
        FileSource(clip.video, "walkby", start=START), engine, gallery, config, lambda _: None
    )
    worker.run(threading.Event())
    cache.save()
    recording = Recording(
        np.array([r[0] for r in worker.rows]),
        np.array([r[1] for r in worker.rows]),
        np.array([r[2] for r in worker.rows]),
        np.array([r[3] for r in worker.rows]),
        {name: np.concatenate(parts) for name, parts in worker.described.items()},
    )
    np.savez(
        path,
        frames=recording.frames,
        tracks=recording.tracks,
        boxes=recording.boxes,
        qualities=recording.qualities,
        **{f"d_{name}": d for name, d in recording.descriptors.items()},
    )
    return recording


# --- replaying decisions ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One description of a track, as a rule sees it: the top candidate and its score."""

    index: int
    subject: str
    score: float
    second: float = -1.0
    """The second candidate's score (the margin rules: how far the best stands out)."""


TrackRule = Callable[[list[int], NDArray[np.float32], Gallery], list[Step]]


def each_steps(rows: list[int], descriptors: NDArray[np.float32], gallery: Gallery) -> list[Step]:
    ranked = gallery.search(descriptors[rows], k=2)
    return [
        Step(i, r[0].subject_id, r[0].score, r[1].score if len(r) > 1 else -1.0)
        for i, r in zip(rows, ranked, strict=True)
        if r
    ]


def with_margin(margin: float) -> TrackRule:
    """`each_steps` keeping only the descriptions whose best candidate stands `margin`
    above the second (a stranger's best look-alike seldom stands alone)."""

    def steps(rows: list[int], descriptors: NDArray[np.float32], gallery: Gallery) -> list[Step]:
        kept = each_steps(rows, descriptors, gallery)
        return [step for step in kept if step.score - step.second >= margin]

    return steps


def fused_steps(weighting: str) -> TrackRule:
    def steps(rows: list[int], descriptors: NDArray[np.float32], gallery: Gallery) -> list[Step]:
        chosen = descriptors[rows].astype(np.float64)
        weights = np.ones(len(rows))
        if weighting == "quality":
            weights = QUALITIES[rows]
        sums = np.cumsum(chosen * weights[:, None], axis=0)
        templates = l2_normalise(sums.astype(np.float32))
        ranked = gallery.search(templates, k=1)
        return [
            Step(i, r[0].subject_id, r[0].score) for i, r in zip(rows, ranked, strict=True) if r
        ]

    return steps


QUALITIES: NDArray[np.float64] = np.zeros(0)


def alerts(
    steps: list[Step], threshold: float, track_rule: str, needed: int
) -> list[tuple[int, str]]:
    """(description index, subject) of each alert a track raises."""
    raised: list[tuple[int, str]] = []
    counts: dict[str, int] = defaultdict(int)
    alerted: set[str] = set()
    for position, step in enumerate(steps):
        if step.score < threshold or step.subject in alerted:
            continue
        if track_rule == "each":
            counts[step.subject] += 1
            if counts[step.subject] >= needed:
                alerted.add(step.subject)
                raised.append((step.index, step.subject))
        elif position + 1 >= needed:
            alerted.add(step.subject)
            raised.append((step.index, step.subject))
    return raised


@dataclass(frozen=True)
class Outcome:
    threshold: float
    found: int
    mated: int
    non_mated_alerted: int
    non_mated: int
    wrong_on_mated: int
    background: int


def track_passers(recording: Recording, passers: Sequence[Passer]) -> dict[int, Passer | None]:
    """Each track's passer: the one most of its descriptions lie on (None: the
    background). A track is one pass; a description whose box centre slips off the
    pasted crop does not move the track's alert off its passer."""
    by_frame = boxes_by_frame(passers)
    votes: dict[int, list[Passer | None]] = defaultdict(list)
    for index, track in enumerate(recording.tracks):
        box = tuple(int(v) for v in recording.boxes[index])
        alert = Alert(int(recording.frames[index]), "", box)  # type: ignore[arg-type]
        votes[int(track)].append(attribute(alert, by_frame))
    owners: dict[int, Passer | None] = {}
    for track, voted in votes.items():
        known = [p for p in voted if p is not None]
        owners[track] = max(known, key=lambda p: sum(q is p for q in known)) if known else None
    return owners


def outcome(
    threshold: float,
    raised: list[tuple[int, str]],
    owners: dict[int, Passer | None],
    passers: Sequence[Passer],
    enrolled_ids: frozenset[str],
) -> Outcome:
    own: set[int] = set()
    wrong: dict[int, int] = defaultdict(int)
    background = 0
    for track, subject in raised:
        passer = owners[track]
        if passer is None:
            background += 1
        elif passer.mated and subject == passer.identity:
            own.add(passer.passer_id)
        else:
            wrong[passer.passer_id] += 1
    mated = [p for p in passers if p.mated and p.identity in enrolled_ids]
    non_mated = [p for p in passers if not p.mated]
    return Outcome(
        threshold,
        sum(p.passer_id in own for p in mated),
        len(mated),
        sum(wrong[p.passer_id] > 0 for p in non_mated),
        len(non_mated),
        sum(wrong[p.passer_id] for p in mated),
        background,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--thresholds", default="0.93:0.99:0.001")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--describe-quality",
        type=float,
        default=None,
        help="record with this tracker.min_describe_quality instead of the engine's",
    )
    parser.add_argument(
        "--record-threshold",
        type=float,
        default=None,
        help="record with this alert threshold (the tracker's urgency) instead of the engine's",
    )
    parser.add_argument(
        "--replay-qualities",
        default=None,
        help="comma-separated: replay only the descriptions of at least each quality",
    )
    parser.add_argument("--rules", default=None, help="replay only rules whose name has this")
    parser.add_argument(
        "--describer",
        choices=("dlib", "fusion"),
        default="dlib",
        help="fusion: dlib and faceres fused (needs faceres imported, benchmarks.walkby)",
    )
    args = parser.parse_args(argv)
    spec = QUICK_SPEC if args.quick else WalkbySpec()
    clip = generate(spec)
    passers = clip.passers()
    config = EngineConfig() if args.describer == "dlib" else rule_configs()["fusion"]
    if args.describe_quality is not None:
        config = config.updated(tracker={"min_describe_quality": args.describe_quality})
    if args.record_threshold is not None:
        config = config.updated(alert_threshold=args.record_threshold)
    recording = record(clip, config)
    global QUALITIES
    QUALITIES = recording.qualities
    engine, _ = _engine(clip, config)
    qualities = (
        [float(q) for q in args.replay_qualities.split(",")]
        if args.replay_qualities
        else [config.tracker.min_describe_quality]
    )
    for least in qualities:
        by_track: dict[int, list[int]] = defaultdict(list)
        for row, track in enumerate(recording.tracks):
            if recording.qualities[row] >= least:
                by_track[int(track)].append(row)
        print(f"-- descriptions of quality {least:g} or more")
        _replay(args, clip, passers, config, engine, recording, by_track)


def _replay(
    args: argparse.Namespace,
    clip: WalkbyClip,
    passers: Sequence[Passer],
    config: EngineConfig,
    engine: Engine,
    recording: Recording,
    by_track: dict[int, list[int]],
) -> None:
    low, high, step = (float(v) for v in args.thresholds.split(":"))
    grid = np.round(np.arange(low, high + 1e-9, step), 4)
    print(f"{sum(map(len, by_track.values()))} descriptions, {len(by_track)} tracks")
    owners = track_passers(recording, passers)
    shown_at = {round(config.alert_threshold, 3), 0.942, 0.946, 0.95, 0.955, 0.96}
    results: dict[str, list[dict[str, float]]] = {}
    for description_name, description in descriptions_of(config).items():
        rule_config = config.updated(description=description.model_dump())
        gallery, _ = enrolled(clip, engine, rule_config)
        enrolled_ids = frozenset(gallery.subject_ids)
        for fair in (False, True):
            rule = DecisionRule(description=description, fair=fair)
            searched = searched_gallery(gallery, rule, engine.calibration)
            descriptors = recording.descriptors[description_name]
            for label, track_rule, steps_of, needed in [
                ("each n2", "each", each_steps, 2),
                ("each n3", "each", each_steps, 3),
                ("each n2 margin0.01", "each", with_margin(0.01), 2),
                ("each n2 margin0.02", "each", with_margin(0.02), 2),
                ("each n2 margin0.03", "each", with_margin(0.03), 2),
                ("fused-confirm n2", "each", fused_steps("equal"), 2),
                ("fused n2", "fused", fused_steps("equal"), 2),
                ("fused n3", "fused", fused_steps("equal"), 3),
                ("fused-quality n2", "fused", fused_steps("quality"), 2),
            ]:
                name = f"{rule.name} {label}"
                if args.rules and args.rules not in name:
                    continue
                track_steps = {
                    t: steps_of(rows, descriptors, searched) for t, rows in by_track.items()
                }
                lines = []
                zero_at = None
                for threshold in grid:
                    raised = [
                        (track, subject)
                        for track, s in track_steps.items()
                        for _, subject in alerts(s, float(threshold), track_rule, needed)
                    ]
                    o = outcome(float(threshold), raised, owners, passers, enrolled_ids)
                    lines.append(o)
                    if zero_at is None and o.non_mated_alerted == 0:
                        zero_at = o
                results[name] = [asdict(o) for o in lines]
                for o in lines:
                    if round(o.threshold, 3) in shown_at:
                        print(
                            f"{name:45s} at {o.threshold:.3f}: found {o.found}/{o.mated}, "
                            f"non-mated {o.non_mated_alerted}, wrong-mated {o.wrong_on_mated}, "
                            f"bg {o.background}"
                        )
                if zero_at is not None:
                    print(
                        f"{name:45s} no non-mated alerted from {zero_at.threshold:.3f}: found "
                        f"{zero_at.found}/{zero_at.mated} "
                        f"({100 * zero_at.found / max(zero_at.mated, 1):.1f}%)"
                        f" wrong-mated {zero_at.wrong_on_mated} bg {zero_at.background}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
