"""Flip and context augmentation on video: the tracker replayed over every face of the
clips, each face described twice — as the live engine does (one chip, padding 0.25) and
as `lfr evaluate`'s default does (chips at paddings 0.25 and 0.3, each also mirrored,
the unit descriptors averaged) — against watchlists enrolled the same two ways.

The two kinds of descriptor have different score scales, so each is replayed at
thresholds of equal false-match rate on lfw-dev: by default the engine's 0.94, 0.946 and
0.95 (1 in 8,500, 23,000 and 57,000 in the shipped calibration) against 0.943, 0.9488
and 0.9528 for the augmented descriptors (the same rates in the calibration of
`lfr evaluate identification ../shared/data/lfw-dev/images --fair-clusters 0`). Nothing
is cached: about 2 minutes on 2 cores.

    PYTHONPATH=src:. python -m benchmarks.augmentation_replay

Each cell is "found/expected (false alerts) [descriptions]" through the tracker.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import crowd as crowd_clips
from benchmarks import shared_data_dir
from benchmarks.common import naive_detector, video_watchlist
from benchmarks.tracker_replay import (
    HAMILTON_PEOPLE,
    ClipRecords,
    FaceRecord,
    replay,
    watchlisted,
)
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.describers import DlibDescriberConfig, build_describer
from lfr.vision.describers.base import l2_normalise
from lfr.vision.detection import build_detector
from lfr.vision.enrolment import watchlist_images
from lfr.vision.imageio import ImageError, load_image
from lfr.vision.landmarks import Landmarks, align
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import Engine, EngineConfig, tracked_quality
from lfr.vision.quality import EnrolmentRefused, QualityGate, check_enrolment_image
from lfr.vision.sources import FileSource
from lfr.vision.tracking import TrackerConfig
from lfr.vision.types import Descriptor, RGBImage

AUGMENTED_PADDINGS = (0.25, 0.3)


class TwoWays:
    """Describes faces plainly (the engine) and augmented (the evaluation default)."""

    def __init__(self) -> None:
        self.plain = build_describer(DlibDescriberConfig(mirror=False))
        self._mirrored = build_describer(DlibDescriberConfig(mirror=True))

    def augmented(self, image: RGBImage, faces: Sequence[Landmarks]) -> Descriptor:
        chips = [align(image, face, 150, p) for face in faces for p in AUGMENTED_PADDINGS]
        described = self._mirrored.describe(chips).reshape(len(faces), len(AUGMENTED_PADDINGS), -1)
        return l2_normalise(described.sum(axis=1))


def galleries(watchlist: Path, describe: TwoWays) -> tuple[Gallery, Gallery]:
    """The watchlist enrolled plainly and augmented (WL-5 gate, one face per image)."""
    analyser = FaceAnalyser(build_detector(naive_detector()))
    subjects: list[str] = []
    plain: list[Descriptor] = []
    augmented: list[Descriptor] = []
    for subject, path in watchlist_images(watchlist):
        try:
            image = load_image(path)
            face = check_enrolment_image(image, analyser, QualityGate.for_enrolment())
        except (ImageError, EnrolmentRefused):
            continue
        subjects.append(subject)
        plain.append(describe.plain.describe([face.chip])[0])
        augmented.append(describe.augmented(image, [face.landmarks])[0])
    return Gallery.build(subjects, np.stack(plain)), Gallery.build(subjects, np.stack(augmented))


def record(
    name: str, video: Path, watchlist: Path, expected: set[str], describe: TwoWays
) -> tuple[ClipRecords, ClipRecords]:
    """Every face of the clip, with its candidates under each way of describing."""
    config = EngineConfig()
    engine = Engine.from_config(config)
    plain_gallery, augmented_gallery = galleries(watchlist, describe)
    plain: list[FaceRecord] = []
    augmented: list[FaceRecord] = []
    source = FileSource(video, "replay")
    frames = 0
    for frame in source:
        frames += 1
        faces = engine.analyser.analyse(frame.image)
        if not faces:
            continue
        ranked_plain = plain_gallery.search(
            describe.plain.describe([f.chip for f in faces]), k=config.top_k
        )
        ranked_augmented = augmented_gallery.search(
            describe.augmented(frame.image, [f.landmarks for f in faces]), k=config.top_k
        )
        for face, one, other in zip(faces, ranked_plain, ranked_augmented, strict=True):
            box = (face.box.left, face.box.top, face.box.right, face.box.bottom)
            quality = tracked_quality(face.quality, config.live_gate)
            plain.append(
                FaceRecord(frame.index, box, quality, [(c.subject_id, c.score) for c in one])
            )
            augmented.append(
                FaceRecord(frame.index, box, quality, [(c.subject_id, c.score) for c in other])
            )
    enrolled = expected & set(plain_gallery.subject_ids)
    return (
        ClipRecords(name, frames, source.fps, plain, enrolled),
        ClipRecords(name, frames, source.fps, augmented, enrolled),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=250, help="Frames per crowd clip.")
    parser.add_argument("--plain", type=float, nargs="+", default=[0.94, 0.946, 0.95])
    parser.add_argument("--augmented", type=float, nargs="+", default=[0.943, 0.9488, 0.9528])
    args = parser.parse_args(argv)
    if len(args.plain) != len(args.augmented):
        parser.error("--plain and --augmented need one threshold each per row")
    crowds = [
        crowd_clips.generate(crowd_clips.CrowdSpec(height=height, frames=args.frames))
        for height in (720, 1080)
    ]
    clips = [(c.folder.name, c.video, c.watchlist, watchlisted(c.truth())) for c in crowds]
    hamilton = shared_data_dir() / "video" / "short_hamilton_clip.mp4"
    clips.append(("hamilton", hamilton, video_watchlist(crowds[0].watchlist), HAMILTON_PEOPLE))
    describe = TwoWays()
    recorded = [record(*clip, describe) for clip in clips]
    print(
        "| thresholds (plain / augmented) | descriptors | " + " | ".join(c[0] for c in clips) + " |"
    )
    print("|---|---|" + "---|" * len(clips))
    for plain_threshold, augmented_threshold in zip(args.plain, args.augmented, strict=True):
        for label, index, threshold in (
            ("plain (engine)", 0, plain_threshold),
            ("flip + context", 1, augmented_threshold),
        ):
            cells = [replay(pair[index], TrackerConfig(), threshold).cell() for pair in recorded]
            row = f"{plain_threshold} / {augmented_threshold}"
            print(f"| {row} | {label} ({threshold}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
