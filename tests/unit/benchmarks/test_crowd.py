"""The crowd clip generator's ground truth agrees with the clip it writes."""

from __future__ import annotations

from pathlib import Path

import cv2
from benchmarks.crowd import CrowdSpec, generate


def test_crowd_clip_ground_truth_matches_the_video(lfw_dir: Path, tmp_path: Path) -> None:
    spec = CrowdSpec(height=360, frames=6, watchlist_size=20)
    clip = generate(spec, lfw_dir / "images", tmp_path)
    truth = clip.truth()
    capture = cv2.VideoCapture(str(clip.video))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    assert len(frames) == spec.frames == truth["frames"]
    assert frames[0].shape == (360, 640, 3)

    walkers = truth["walkers"]
    assert walkers
    assert len({w["identity"] for w in walkers}) == len(walkers)  # nobody walks twice
    enrolled = {p.name for p in clip.watchlist.iterdir()}
    assert len(enrolled) == spec.watchlist_size
    for walker in walkers:
        folder = lfw_dir / "images" / walker["identity"]
        if walker["watchlisted"]:
            assert walker["identity"] in enrolled
            # The watchlist holds the first image; the walker shows another one.
            (photo,) = (clip.watchlist / walker["identity"]).iterdir()
            assert photo.name == sorted(folder.glob("*.jpg"))[0].name
            assert walker["image"] != photo.name
        else:
            assert walker["identity"] not in enrolled
            assert len(list(folder.glob("*.jpg"))) == 1
        for frame, left, top, right, bottom in walker["boxes"]:
            assert 0 <= left < right <= 640
            assert 0 <= top < bottom <= 360
            assert 0 <= frame < spec.frames


def test_a_generated_clip_is_reused(lfw_dir: Path, tmp_path: Path) -> None:
    spec = CrowdSpec(height=360, frames=3, watchlist_size=10)
    first = generate(spec, lfw_dir / "images", tmp_path)
    stamp = first.video.stat().st_mtime_ns
    again = generate(spec, lfw_dir / "images", tmp_path)
    assert again.folder == first.folder
    assert again.video.stat().st_mtime_ns == stamp
    assert again.truth() == first.truth()
