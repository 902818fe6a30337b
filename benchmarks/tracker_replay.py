"""Replay the tracker on every face of a clip, each described once: how tracker settings
trade recall, false alerts and descriptions, in seconds per setting instead of a whole
engine run.

The tracker decides from each face's box, quality and capture time and from the
candidates its descriptions return, nothing else (`lfr.vision.tracking`). So every face
the engine's analyser finds is described once (as the naive loop does) and its top
candidates recorded; replaying the tracker over those records makes the decisions the
engine would make with the same detector, describer and gallery, for any
`TrackerConfig`. The records (boxes, qualities, subject ids and scores; no image and no
descriptor) are cached in `.lfr-cache/benchmarks/replay/`.

    PYTHONPATH=src python -m benchmarks.tracker_replay            # 250-frame crowds, Hamilton
    PYTHONPATH=src python -m benchmarks.tracker_replay --configs '{"max_open_descriptions": 25}'

Each row is a tracker setting (changes to the shipped defaults); each cell "found/expected
(false) [descriptions]". The "every face" row alerts on any face whose best candidate
reaches the threshold, as the naive loop does (here with the engine's detector).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import CACHE_ROOT, shared_data_dir
from benchmarks import crowd as crowd_clips
from benchmarks.common import enrolled_gallery, video_watchlist
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import Engine, EngineConfig, tracked_quality
from lfr.vision.sources import FileSource
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.tracking import Sighting, Tracker, TrackerConfig
from lfr.vision.types import Box, Candidate

REPLAY_CACHE = CACHE_ROOT / "benchmarks" / "replay"
HAMILTON_PEOPLE = {"lin-manuel-miranda", "alex-lacamoire"}
DEFAULT_SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("shipped defaults", {}),
    ("no open budget (routine cadence only)", {"max_open_descriptions": 0}),
    ("no near cadence (confirming only)", {"near_threshold_margin": 0.0}),
    ("near margin 0.01", {"near_threshold_margin": 0.01}),
    ("open budget 25", {"max_open_descriptions": 25}),
    ("open cadence every 0.2 s", {"near_interval_s": 0.2}),
    ("1 confirmation", {"min_confirmations": 1}),
]


@dataclass(frozen=True)
class FaceRecord:
    frame: int
    box: tuple[int, int, int, int]
    """left, top, right, bottom"""
    quality: float
    """As the tracker sees it (0 where the live gate refuses the face)."""
    candidates: list[tuple[str, float]]


@dataclass(frozen=True)
class ClipRecords:
    name: str
    frames: int
    fps: float
    faces: list[FaceRecord]
    expected: set[str]
    """Watchlisted people in the clip who are enrolled: any other alert is false."""


def record_faces(
    video: Path, gallery: Gallery, engine: Engine, config: EngineConfig
) -> dict[str, Any]:
    """Every face of the clip with its tracker quality and top candidates."""
    source = FileSource(video, "replay")
    faces: list[FaceRecord] = []
    frames = 0
    for frame in source:
        frames += 1
        observations = engine.analyser.analyse(frame.image)
        if not observations:
            continue
        descriptors = engine.describer.describe([o.chip for o in observations])
        for face, ranked in zip(
            observations, gallery.search(descriptors, k=config.top_k), strict=True
        ):
            box = (face.box.left, face.box.top, face.box.right, face.box.bottom)
            quality = tracked_quality(face.quality, config.live_gate)
            candidates = [(c.subject_id, c.score) for c in ranked]
            faces.append(FaceRecord(frame.index, box, quality, candidates))
    return {"frames": frames, "fps": source.fps, "faces": [asdict(f) for f in faces]}


def load_records(name: str, video: Path, watchlist: Path, expected: set[str]) -> ClipRecords:
    """The clip's face records, from the cache when the clip and watchlist are unchanged."""
    enrolled = enrolled_gallery(watchlist, "dlib")
    config = EngineConfig()
    key_text = json.dumps([str(video), video.stat().st_size, sorted(enrolled.gallery.subject_ids)])
    cached = REPLAY_CACHE / f"{name}-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.json"
    if not cached.is_file():
        data = record_faces(video, enrolled.gallery, Engine.from_config(config), config)
        REPLAY_CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(data))
    data = json.loads(cached.read_text())
    faces = [
        FaceRecord(
            f["frame"],
            (f["box"][0], f["box"][1], f["box"][2], f["box"][3]),
            f["quality"],
            [(subject, score) for subject, score in f["candidates"]],
        )
        for f in data["faces"]
    ]
    enrolled_expected = expected & set(enrolled.gallery.subject_ids)
    return ClipRecords(name, data["frames"], data["fps"], faces, enrolled_expected)


@dataclass(frozen=True)
class Outcome:
    found: int
    expected: int
    false_alerts: int
    descriptions: int

    def cell(self) -> str:
        return f"{self.found}/{self.expected} ({self.false_alerts}) [{self.descriptions}]"


def outcome(alerts: Sequence[str], expected: set[str], descriptions: int) -> Outcome:
    found = len(expected & set(alerts))
    false_alerts = sum(1 for subject in alerts if subject not in expected)
    return Outcome(found, len(expected), false_alerts, descriptions)


def replay(clip: ClipRecords, tracker_config: TrackerConfig, threshold: float) -> Outcome:
    """The tracker's calls exactly as `CameraWorker` makes them, frame by frame."""
    by_frame: dict[int, list[FaceRecord]] = defaultdict(list)
    for face in clip.faces:
        by_frame[face.frame].append(face)
    tracker: Tracker[FaceRecord] = Tracker(tracker_config)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    alerts: list[str] = []
    descriptions = 0
    for index in range(clip.frames):
        at = start + timedelta(seconds=index / clip.fps)
        sightings = [
            Sighting(
                Box(left=f.box[0], top=f.box[1], right=f.box[2], bottom=f.box[3]), f.quality, at, f
            )
            for f in by_frame.get(index, [])
        ]
        tracker.update(sightings, at)
        for track_id, chosen in tracker.select_for_description(at):
            descriptions += 1
            candidates = [Candidate(subject_id=s, score=v) for s, v in chosen.payload.candidates]
            alerts += [
                c.subject_id for c in tracker.record(track_id, chosen, candidates, threshold)
            ]
    return outcome(alerts, clip.expected, descriptions)


def every_face(clip: ClipRecords, threshold: float) -> Outcome:
    """The naive rule: any face whose best candidate reaches the threshold alerts."""
    alerts = [
        f.candidates[0][0] for f in clip.faces if f.candidates and f.candidates[0][1] >= threshold
    ]
    return outcome(alerts, clip.expected, len(clip.faces))


def watchlisted(truth: dict[str, Any]) -> set[str]:
    walkers: list[dict[str, Any]] = truth["walkers"]
    return {w["identity"] for w in walkers if w["watchlisted"]}


def clips(frames: int) -> list[ClipRecords]:
    """The two generated crowds and the Hamilton clip (the crowd watchlist plus the two
    people of the Hamilton clip, as the clips benchmark uses)."""
    crowds = [
        crowd_clips.generate(crowd_clips.CrowdSpec(height=height, frames=frames))
        for height in (720, 1080)
    ]
    records = [
        load_records(c.folder.name, c.video, c.watchlist, watchlisted(c.truth())) for c in crowds
    ]
    hamilton = shared_data_dir() / "video" / "short_hamilton_clip.mp4"
    watchlist = video_watchlist(crowds[0].watchlist)
    return [*records, load_records("hamilton", hamilton, watchlist, HAMILTON_PEOPLE)]


def table(rows: Sequence[tuple[str, Sequence[Outcome]]], names: Sequence[str]) -> str:
    lines = ["| tracker setting | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [
        f"| {label} | " + " | ".join(o.cell() for o in outcomes) + " |" for label, outcomes in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=250, help="Frames per crowd clip.")
    parser.add_argument("--threshold", type=float, default=DEFAULT_ALERT_THRESHOLD)
    parser.add_argument(
        "--configs",
        nargs="+",
        type=json.loads,
        metavar="JSON",
        help="Tracker settings to replay (changes to the defaults); the default set when omitted.",
    )
    args = parser.parse_args(argv)
    settings = [(json.dumps(c), c) for c in args.configs] if args.configs else DEFAULT_SETTINGS
    records = clips(args.frames)
    rows = [("every face (naive rule)", [every_face(c, args.threshold) for c in records])]
    rows += [
        (label, [replay(c, TrackerConfig(**changes), args.threshold) for c in records])
        for label, changes in settings
    ]
    print(f"# tracker replay at threshold {args.threshold}")
    print("found/expected (false alerts) [descriptions]\n")
    print(table(rows, [c.name for c in records]))


if __name__ == "__main__":
    main()
