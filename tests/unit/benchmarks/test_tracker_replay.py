"""The tracker replay makes the camera worker's decisions from recorded faces."""

from __future__ import annotations

from benchmarks.tracker_replay import ClipRecords, FaceRecord, every_face, replay

from lfr.vision.tracking import TrackerConfig

THRESHOLD = 0.9


def walker(score: float, frames: range, left: int = 0) -> list[FaceRecord]:
    """One face moving slowly right, scoring `score` for "wanted" on every frame."""
    return [
        FaceRecord(i, (left + i, 0, left + i + 100, 100), 0.8, [("wanted", score), ("other", 0.5)])
        for i in frames
    ]


def clip(*faces: list[FaceRecord], frames: int = 20) -> ClipRecords:
    return ClipRecords("test", frames, 25.0, [f for face in faces for f in face], {"wanted"})


def test_a_person_at_the_threshold_on_two_frames_alerts_once() -> None:
    result = replay(clip(walker(0.95, range(20))), TrackerConfig(), THRESHOLD)
    assert (result.found, result.false_alerts) == (1, 0)
    # first sight, then the confirming frame at once: two descriptions, not twenty
    assert result.descriptions == 2


def test_a_stranger_far_below_is_described_only_at_the_routine_cadence() -> None:
    stranger = [FaceRecord(i, (400 + i, 0, 500 + i, 100), 0.8, [("other", 0.3)]) for i in range(50)]
    result = replay(clip(stranger, frames=50), TrackerConfig(), THRESHOLD)
    assert (result.found, result.false_alerts) == (0, 0)
    assert result.descriptions == 2  # first sight, one refresh after 1 s; no open budget


def test_the_naive_rule_alerts_on_every_face_at_the_threshold() -> None:
    lookalike = [FaceRecord(3, (400, 0, 500, 100), 0.8, [("other", 0.91)])]
    result = every_face(clip(walker(0.95, range(4)), lookalike), THRESHOLD)
    assert (result.found, result.false_alerts, result.descriptions) == (1, 1, 5)
