"""The walk-by benchmark's maths on hand-made passers and alerts, and its clip generator's
ground truth (a tiny clip)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from benchmarks.crowd import Identity
from benchmarks.walkby import (
    Alert,
    RuleRun,
    attribute,
    boxes_by_frame,
    rule_configs,
    table,
    tally,
)
from benchmarks.walkby_clips import Passer, WalkbySpec, choose_people, generate, placement

from lfr.vision.decision import Description, TrackPooling
from lfr.vision.pipeline import EngineConfig


def passer(
    pid: int, identity: str, *, mated: bool, sex: str, boxes: list[tuple[int, ...]]
) -> Passer:
    return Passer(
        passer_id=pid,
        identity=identity,
        image=f"{identity}_0002.jpg",
        mated=mated,
        sex=sex,
        lane=0,
        first_frame=0,
        blur_sigma=0.0,
        gain=1.0,
        gamma=1.0,
        drift=0.0,
        boxes=[tuple(b) for b in boxes],  # type: ignore[misc]
    )


PASSERS = [
    passer(0, "Ann", mated=True, sex="female", boxes=[(10, 0, 0, 100, 100)]),
    passer(1, "Bea", mated=True, sex="female", boxes=[(10, 200, 0, 300, 100)]),
    passer(2, "Carl", mated=True, sex="male", boxes=[(20, 0, 0, 100, 100)]),
    passer(3, "Dan", mated=False, sex="male", boxes=[(20, 200, 0, 300, 100)]),
    passer(4, "Eve", mated=False, sex="female", boxes=[(30, 0, 0, 100, 100)]),
    passer(5, "Fay", mated=True, sex="female", boxes=[(30, 200, 0, 300, 100)]),
]


def run_with(alerts: list[Alert], enrolled: set[str]) -> RuleRun:
    return RuleRun(
        rule="r",
        alerts=alerts,
        enrolled=frozenset(enrolled),
        refused=0,
        frames=100,
        seconds=4.0,
        descriptions=7,
    )


def test_an_alert_is_put_on_the_passer_holding_its_centre() -> None:
    by_frame = boxes_by_frame(PASSERS)
    assert attribute(Alert(10, "x", (20, 20, 60, 60)), by_frame) is PASSERS[0]
    assert attribute(Alert(10, "x", (220, 20, 260, 60)), by_frame) is PASSERS[1]
    assert attribute(Alert(10, "x", (120, 20, 160, 60)), by_frame) is None  # between them
    assert attribute(Alert(11, "x", (20, 20, 60, 60)), by_frame) is None  # nobody that frame


def test_where_faces_overlap_the_smaller_one_takes_the_alert() -> None:
    near = passer(0, "Near", mated=True, sex="male", boxes=[(5, 0, 0, 400, 400)])
    far = passer(1, "Far", mated=True, sex="male", boxes=[(5, 50, 50, 150, 150)])
    assert attribute(Alert(5, "x", (80, 80, 120, 120)), boxes_by_frame([near, far])) is far


def test_found_false_and_background_alerts_are_counted_per_group() -> None:
    alerts = [
        Alert(10, "Ann", (20, 20, 60, 60)),  # Ann found
        Alert(10, "Ann", (20, 20, 60, 60)),  # twice: still one passer found
        Alert(10, "Zed", (220, 20, 260, 60)),  # Bea alerted as someone else: false
        Alert(20, "Carl", (20, 20, 60, 60)),  # Carl found
        Alert(20, "Ann", (220, 20, 260, 60)),  # non-mated Dan: false
        Alert(20, "Bea", (220, 20, 260, 60)),  # Dan again: a second false alert
        Alert(30, "Ann", (500, 500, 540, 540)),  # on the background
    ]
    # Fay is mated but her enrolment was refused: she cannot be found and is left out.
    outcome = tally(run_with(alerts, {"Ann", "Bea", "Carl", "Zed"}), PASSERS)
    everyone, women, men = outcome.groups["all"], outcome.groups["female"], outcome.groups["male"]
    assert (everyone.found.count, everyone.found.total) == (2, 3)
    assert (women.found.count, women.found.total) == (1, 2)
    assert (men.found.count, men.found.total) == (1, 1)
    assert (everyone.falsely_alerted.count, everyone.falsely_alerted.total) == (1, 2)
    assert (women.falsely_alerted.count, women.falsely_alerted.total) == (0, 1)
    assert (men.falsely_alerted.count, men.falsely_alerted.total) == (1, 1)
    assert (everyone.false_alerts.count, everyone.false_alerts.total) == (3, 6)
    assert (women.false_alerts.count, women.false_alerts.total) == (1, 4)
    assert (men.false_alerts.count, men.false_alerts.total) == (2, 2)
    assert outcome.background_alerts == 1
    assert outcome.mated_not_enrolled == 1
    assert outcome.fps == pytest.approx(25.0)


def test_rates_carry_wilson_intervals_and_the_table_shows_them() -> None:
    outcome = tally(run_with([Alert(10, "Ann", (20, 20, 60, 60))], {"Ann", "Bea", "Carl"}), PASSERS)
    found = outcome.groups["all"].found
    assert found.rate == pytest.approx(1 / 3)
    low, high = found.interval
    # Wilson 95% for 1 of 3 (z = 1.95996): 0.0615 to 0.7923.
    assert low == pytest.approx(0.0615, abs=1e-4)
    assert high == pytest.approx(0.7923, abs=1e-4)
    none = outcome.groups["all"].falsely_alerted
    assert none.rate == 0
    assert none.interval[0] == 0
    assert none.interval[1] > 0.5
    printed = table([outcome])
    assert "| r | all | 33.3% [6.1, 79.2] (1/3) | 0.0 [0.0, " in printed
    assert "| r | female |" in printed
    assert "| r | male |" in printed


def test_the_watchlist_holds_every_mated_passer_and_no_other_passer() -> None:
    people = [Identity(f"M{i}", (Path("a.jpg"), Path("b.jpg"))) for i in range(10)]
    people += [Identity(f"S{i}", (Path("a.jpg"),)) for i in range(10)]
    sexes = {p.name: "female" if i % 2 else "male" for i, p in enumerate(people)}
    refused = {"M1", "M2", "S9"}
    spec = WalkbySpec(mated=4, non_mated=3, watchlist_size=12)
    mated, non_mated, watchlist = choose_people(
        people, sexes, spec, np.random.default_rng(1), lambda i: i.name not in refused
    )
    names = {i.name for i in watchlist}
    assert len(mated) == 4
    assert len(non_mated) == 3
    assert len(watchlist) == 12
    assert {i.name for i in mated} <= names
    assert not names & {i.name for i in non_mated}
    assert not names & refused
    assert all(len(i.images) == 1 for i in non_mated)


def test_a_passer_grows_from_far_to_a_close_up_within_the_frame() -> None:
    spec = WalkbySpec(height=360, lanes=2, rows=1, walk_frames=40)
    walker = passer(0, "Ann", mated=True, sex="female", boxes=[])
    sizes = []
    for frame in range(-1, 41):
        placed = placement(walker, frame, spec)
        if frame < 0 or frame >= 40:
            assert placed is None
            continue
        assert placed is not None
        left, top, side = placed
        assert left >= 0
        assert left + side <= spec.width // 2
        assert top + side <= spec.height
        sizes.append(side)
    assert sizes == sorted(sizes)
    assert sizes[0] == round(40 / 0.43)
    assert sizes[-1] == spec.width // 2


def test_lanes_in_rows_keep_each_passer_in_its_cell() -> None:
    spec = WalkbySpec(height=720, lanes=8, rows=2, walk_frames=32)
    for lane in range(8):
        walker = passer(0, "Ann", mated=True, sex="female", boxes=[])
        walker.lane, walker.drift = lane, 1.0 if lane % 2 else -1.0
        row, column = divmod(lane, 4)
        for frame in range(32):
            placed = placement(walker, frame, spec)
            assert placed is not None
            left, top, side = placed
            assert column * 320 <= left
            assert left + side <= (column + 1) * 320
            assert row * 360 <= top
            assert top + side <= (row + 1) * 360
        assert side == 320  # the close-up fills the cell's width


def test_a_tiny_clip_matches_its_ground_truth(lfw_dir: Path, tmp_path: Path) -> None:
    spec = WalkbySpec(
        mated=2,
        non_mated=2,
        watchlist_size=6,
        height=360,
        lanes=2,
        rows=1,
        walk_frames=8,
        gap_frames=2,
    )
    clip = generate(spec, lfw_dir, tmp_path, enrollable=lambda identity: True)
    capture = cv2.VideoCapture(str(clip.video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == spec.frames
    passers = clip.passers()
    assert len(passers) == 4
    assert sum(p.mated for p in passers) == 2
    enrolled = {p.name for p in clip.watchlist.iterdir()}
    assert len(enrolled) == 6
    for walker in passers:
        assert (walker.identity in enrolled) == walker.mated
        assert len(walker.boxes) == spec.walk_frames
        assert walker.sex in {"female", "male"}
    # Seeded: generated afresh elsewhere, the same passers walk the same way.
    again = generate(spec, lfw_dir, tmp_path / "again", enrollable=lambda identity: True)
    assert again.passers() == passers


def test_the_rules_name_the_default_and_the_rule_before_track_pooling() -> None:
    rules = rule_configs()
    assert rules["engine"] == EngineConfig()
    before = rules["before"]
    assert (before.description, before.fair_normalisation, before.alert_threshold) == (
        Description(),
        False,
        0.946,
    )
    assert before.track_pooling is TrackPooling.EACH
    assert before.tracker.min_describe_quality == 0.3
    assert rules["pooled"] == before.updated(track_pooling=TrackPooling.MEAN)
    assert rules["fair"] == before.updated(fair_normalisation=True)
