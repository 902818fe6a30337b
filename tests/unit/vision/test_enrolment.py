"""Watchlist enrolment: the WL-5 gate's refusals and loading a watchlist folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.describers import Describer
from lfr.vision.enrolment import load_watchlist_dir
from lfr.vision.imageio import load_image
from lfr.vision.quality import EnrolmentRefused, QualityGate, check_enrolment_image
from lfr.vision.types import ListKind, RGBImage

GATE = QualityGate.for_enrolment()


def test_a_good_portrait_is_accepted(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    face = check_enrolment_image(example_image("biden.jpg"), analyser, GATE)
    assert face.chip.shape == (150, 150, 3)
    assert face.quality.score > 0.5


def test_no_face_is_refused(analyser: FaceAnalyser, faces_dir: Path) -> None:
    dogs = load_image(faces_dir / "dlib-examples" / "dogs.jpg")
    with pytest.raises(EnrolmentRefused, match=r"^no face found$"):
        check_enrolment_image(dogs, analyser, GATE)


def test_two_faces_are_refused(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    with pytest.raises(EnrolmentRefused, match=r"^2 faces found: ") as caught:
        check_enrolment_image(example_image("two_people.jpg"), analyser, GATE)
    assert "one person" in caught.value.reason


def test_a_tiny_face_is_refused(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    tiny = cv2.resize(
        example_image("obama.jpg"), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA
    )
    with pytest.raises(EnrolmentRefused, match=r"^face too small: eyes 2[0-9] px apart"):
        check_enrolment_image(tiny, analyser, GATE)


def test_a_blurred_face_is_refused(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    half = cv2.resize(
        example_image("obama.jpg"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
    )
    blurred = cv2.GaussianBlur(half, (0, 0), 3)
    with pytest.raises(EnrolmentRefused, match=r"^blurred: sharpness"):
        check_enrolment_image(blurred, analyser, GATE)


def test_a_dark_face_is_refused(
    analyser: FaceAnalyser, example_image: Callable[[str], RGBImage]
) -> None:
    half = cv2.resize(
        example_image("obama.jpg"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
    )
    dark = (half * 0.25).astype(np.uint8)
    with pytest.raises(EnrolmentRefused, match=r"^too dark: brightness"):
        check_enrolment_image(dark, analyser, GATE)


def _link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def test_load_watchlist_dir_both_layouts(
    tmp_path: Path,
    examples_dir: Path,
    faces_dir: Path,
    analyser: FaceAnalyser,
    describer: Describer,
    example_faces: Callable[[str], list[FaceObservation]],
) -> None:
    watchlist = tmp_path / "watchlist"
    # One folder per subject, several images:
    _link(watchlist / "obama" / "a.jpg", examples_dir / "obama.jpg")
    _link(watchlist / "obama" / "b.jpg", examples_dir / "obama2.jpg")
    _link(watchlist / "obama" / "group.jpg", examples_dir / "two_people.jpg")
    # One image per subject:
    _link(watchlist / "biden.jpg", examples_dir / "biden.jpg")
    _link(watchlist / "rex.jpg", faces_dir / "dlib-examples" / "dogs.jpg")
    (watchlist / "empty.png").write_bytes(b"")
    (watchlist / "notes.txt").write_text("not an image, not enrolled, not refused")

    gallery, refusals = load_watchlist_dir(watchlist, analyser, describer, GATE)

    assert gallery.subject_ids == ("biden", "obama")
    assert gallery.template_count == 2  # obama's two photographs fused into one (REC-2)
    assert gallery.model_id == describer.model_id
    assert gallery.list_kind("obama") is ListKind.WATCHLIST
    reasons = {r.path.name: r.reason for r in refusals}
    assert set(reasons) == {"group.jpg", "rex.jpg", "empty.png"}
    assert reasons["group.jpg"].startswith("2 faces found")
    assert reasons["rex.jpg"] == "no face found"
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert str(refusals[0]).startswith(str(refusals[0].path) + ": ")

    probe = describer.describe([example_faces("obama3.jpg")[0].chip])
    [candidates] = gallery.search(probe, k=2)
    assert [c.subject_id for c in candidates] == ["obama", "biden"]


def test_missing_watchlist_folder_is_named(
    tmp_path: Path, analyser: FaceAnalyser, describer: Describer
) -> None:
    with pytest.raises(NotADirectoryError, match="nowhere"):
        load_watchlist_dir(tmp_path / "nowhere", analyser, describer, GATE)
