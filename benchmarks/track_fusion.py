"""Fusing a track's descriptions before matching, against matching each description on its
own: the tracker replayed over every face of the clips, each described once.

The live engine matches each description a track earns and confirms an alert when two of
them reach the threshold for the same person (score fusion over the track). Description
fusion instead matches the unit mean of all the track's descriptions so far, so that each
new look at a face refines one estimate of who it is, as the centroid of several
photographs does for a watchlist subject (docs/evaluation.md). Both are replayed with the
same tracker, detector, describer and watchlist; for each, the highest score a wrong
person reached through the tracker shows how close it came to a false alert. Nothing is
cached and no descriptor leaves memory: about 2 minutes on 2 cores.

    PYTHONPATH=src:. python -m benchmarks.track_fusion

Each cell is "found/expected (false alerts) [descriptions] max wrong score".
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks import crowd as crowd_clips
from benchmarks import shared_data_dir
from benchmarks.common import enrolled_gallery, video_watchlist
from benchmarks.tracker_replay import HAMILTON_PEOPLE, watchlisted
from lfr.vision.describers.base import l2_normalise
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import Engine, EngineConfig, tracked_quality
from lfr.vision.sources import FileSource
from lfr.vision.tracking import Sighting, Tracker, TrackerConfig
from lfr.vision.types import Box, Candidate, Descriptor


@dataclass(frozen=True)
class Face:
    frame: int
    box: Box
    quality: float
    descriptor: Descriptor


@dataclass(frozen=True)
class Clip:
    name: str
    frames: int
    fps: float
    faces: list[Face]
    expected: set[str]
    gallery: Gallery


def record(name: str, video: Path, watchlist: Path, expected: set[str]) -> Clip:
    """Every face of the clip with its descriptor (kept in memory for the replay only)."""
    config = EngineConfig()
    engine = Engine.from_config(config)
    gallery = enrolled_gallery(watchlist, "dlib").gallery
    faces: list[Face] = []
    source = FileSource(video, "fusion")
    frames = 0
    for frame in source:
        frames += 1
        observations = engine.analyser.analyse(frame.image)
        if not observations:
            continue
        descriptors = engine.describer.describe([o.chip for o in observations])
        for face, descriptor in zip(observations, descriptors, strict=True):
            quality = tracked_quality(face.quality, config.live_gate)
            faces.append(Face(frame.index, face.box, quality, descriptor))
    enrolled = expected & set(gallery.subject_ids)
    return Clip(name, frames, source.fps, faces, enrolled, gallery)


Matcher = Callable[[int, Face], Sequence[Candidate]]


def each_description(clip: Clip) -> Matcher:
    """What the engine does: each description matched on its own."""
    return lambda track_id, face: clip.gallery.search(face.descriptor[None, :], k=5)[0]


def fused_descriptions(clip: Clip) -> Matcher:
    """The unit mean of the track's descriptions so far, matched."""
    sums: dict[int, Descriptor] = {}

    def match(track_id: int, face: Face) -> Sequence[Candidate]:
        total = sums.get(track_id, np.zeros_like(face.descriptor)) + face.descriptor
        sums[track_id] = total
        return clip.gallery.search(l2_normalise(total), k=5)[0]

    return match


@dataclass(frozen=True)
class Outcome:
    found: int
    expected: int
    false_alerts: int
    descriptions: int
    max_wrong: float

    def cell(self) -> str:
        return (
            f"{self.found}/{self.expected} ({self.false_alerts}) [{self.descriptions}] "
            f"{self.max_wrong:.3f}"
        )


def replay(clip: Clip, matcher: Matcher, threshold: float) -> Outcome:
    """The tracker's calls as `CameraWorker` makes them, frame by frame."""
    by_frame: dict[int, list[Face]] = defaultdict(list)
    for face in clip.faces:
        by_frame[face.frame].append(face)
    tracker: Tracker[Face] = Tracker(TrackerConfig())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    alerts: list[str] = []
    descriptions = 0
    max_wrong = 0.0
    for index in range(clip.frames):
        at = start + timedelta(seconds=index / clip.fps)
        tracker.update([Sighting(f.box, f.quality, at, f) for f in by_frame.get(index, [])], at)
        for track_id, chosen in tracker.select_for_description(at):
            descriptions += 1
            candidates = matcher(track_id, chosen.payload)
            wrong = [c.score for c in candidates[:1] if c.subject_id not in clip.expected]
            max_wrong = max([max_wrong, *wrong])
            confirmed = tracker.record(track_id, chosen, candidates, threshold)
            alerts += [c.subject_id for c in confirmed]
    found = len(clip.expected & set(alerts))
    false_alerts = sum(1 for subject in alerts if subject not in clip.expected)
    return Outcome(found, len(clip.expected), false_alerts, descriptions, max_wrong)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=250, help="Frames per crowd clip.")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.94, 0.946, 0.95])
    args = parser.parse_args(argv)
    crowds = [
        crowd_clips.generate(crowd_clips.CrowdSpec(height=height, frames=args.frames))
        for height in (720, 1080)
    ]
    sources = [(c.folder.name, c.video, c.watchlist, watchlisted(c.truth())) for c in crowds]
    hamilton = shared_data_dir() / "video" / "short_hamilton_clip.mp4"
    sources.append(("hamilton", hamilton, video_watchlist(crowds[0].watchlist), HAMILTON_PEOPLE))
    clips = [record(*source) for source in sources]
    print("| threshold | matching | " + " | ".join(c.name for c in clips) + " |")
    print("|---|---|" + "---|" * len(clips))
    for threshold in args.thresholds:
        for label, matcher in (
            ("each description (engine)", each_description),
            ("fused descriptions", fused_descriptions),
        ):
            cells = [replay(clip, matcher(clip), threshold).cell() for clip in clips]
            print(f"| {threshold} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
