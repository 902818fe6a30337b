"""The tracker's decisions, table-tested without images (REC-3: one alert per pass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lfr.vision.tracking import (
    Sighting,
    Tracker,
    TrackerConfig,
    Urgency,
    affinity,
    associate,
    centre_shift,
    fused_score,
    iou,
    is_confirmed,
)
from lfr.vision.types import Box, Candidate

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = TrackerConfig()
EVERY_INTERVAL = CONFIG.model_copy(update={"refresh_interval_s": 0.0})
"""Describes a track again at every `describe_interval_s`, better frame or not."""
THRESHOLD = 0.9


def box(left: int, top: int, size: int = 100) -> Box:
    return Box(left=left, top=top, right=left + size, bottom=top + size)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sighting(left: int, seconds: float, quality: float = 0.8, size: int = 100) -> Sighting[str]:
    return Sighting(box(left, 0, size), quality, at(seconds), payload=f"x{left}@{seconds}")


def scores(**by_subject: float) -> list[Candidate]:
    ranked = sorted(by_subject.items(), key=lambda item: -item[1])
    return [Candidate(subject_id=s, score=v) for s, v in ranked]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (box(0, 0), box(0, 0), 1.0),
        (box(0, 0), box(200, 0), 0.0),
        (box(0, 0), box(50, 0), 50 / 150),
        (box(0, 0, 100), box(0, 0, 50), 0.25),
    ],
)
def test_iou(a: Box, b: Box, expected: float) -> None:
    assert iou(a, b) == pytest.approx(expected)


def test_centre_shift_is_in_face_sizes() -> None:
    assert centre_shift(box(0, 0), box(150, 0)) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("track_box", "face_box", "links"),
    [
        (box(0, 0), box(10, 5), True),  # small move: overlaps
        (box(0, 0), box(90, 0), True),  # little overlap, within one face size
        (box(0, 0), box(250, 0), False),  # too far for one step
        (box(0, 0, 100), box(20, 20, 40), False),  # a far smaller face: someone behind
        (box(0, 0, 100), box(0, 0, 180), True),  # approaching the camera
    ],
)
def test_affinity_links_plausible_continuations_only(
    track_box: Box, face_box: Box, links: bool
) -> None:
    assert (affinity(track_box, face_box, CONFIG) is not None) is links


def test_association_prefers_the_best_pair_and_uses_each_once() -> None:
    tracks = [box(0, 0), box(300, 0)]
    faces = [box(310, 0), box(5, 0), box(900, 0)]
    assert sorted(associate(tracks, faces, CONFIG)) == [(0, 1), (1, 0)]


@pytest.mark.parametrize(
    ("values", "count", "expected"),
    [([0.5, 0.95, 0.93], 2, 0.94), ([0.7], 2, 0.7), ([], 2, 0.0), ([0.9, 0.8, 0.7], 3, 0.8)],
)
def test_fused_score_is_the_mean_of_the_best(
    values: list[float], count: int, expected: float
) -> None:
    assert fused_score(values, count) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("values", "needed", "confirmed"),
    [
        ([0.95], 2, False),
        ([0.95, 0.89], 2, False),
        ([0.95, 0.9], 2, True),  # at the threshold counts (REC-2: "at or above")
        ([0.95], 1, True),
        ([0.2, 0.3, 0.99, 0.91], 2, True),
    ],
)
def test_confirmation_needs_enough_scores_at_or_above_threshold(
    values: list[float], needed: int, confirmed: bool
) -> None:
    assert is_confirmed(values, THRESHOLD, needed) is confirmed


def test_a_face_moving_across_frames_keeps_one_track() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    ids = [
        tracker.update([sighting(x, i * 0.04)], at(i * 0.04))[0]
        for i, x in enumerate(range(0, 200, 20))
    ]
    assert set(ids) == {1}


def test_a_track_ends_after_the_gap_and_a_return_is_a_new_pass() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    first = tracker.update([sighting(0, 0)], at(0))
    same = tracker.update([sighting(0, 0.9)], at(0.9))
    again = tracker.update([sighting(0, 2.0)], at(2.0))
    assert first == same == [1]
    assert again == [2]
    assert [t.track_id for t in tracker.tracks] == [2]


def test_two_people_side_by_side_get_two_tracks() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    assert tracker.update([sighting(0, 0), sighting(400, 0)], at(0)) == [1, 2]
    assert tracker.update([sighting(410, 0.04), sighting(5, 0.04)], at(0.04)) == [2, 1]


def test_the_best_waiting_sighting_is_described_and_the_rest_dropped() -> None:
    tracker: Tracker[str] = Tracker(CONFIG.model_copy(update={"describe_interval_s": 1.0}))
    tracker.update([sighting(0, 0, quality=0.5)], at(0))
    assert [s.payload for _, s in tracker.select_for_description(at(0))] == ["x0@0"]
    for i, quality in enumerate([0.6, 0.9, 0.7], start=1):
        tracker.update([sighting(i, i * 0.1, quality)], at(i * 0.1))
        assert tracker.select_for_description(at(i * 0.1)) == []  # interval not over
    chosen = tracker.select_for_description(at(1.0))
    assert [s.payload for _, s in chosen] == ["x2@0.2"]
    assert tracker.tracks[0].pending == []


@pytest.mark.parametrize(
    ("first", "later", "seconds", "described_again"),
    [
        (0.5, 0.56, 0.3, True),  # a better frame: described as soon as the interval is over
        (0.5, 0.9, 0.1, False),  # ... but not before
        (0.5, 0.52, 0.3, False),  # hardly better: wait
        (0.5, 0.52, 1.0, True),  # ... until the refresh interval
        (0.9, 0.5, 1.0, True),  # a worse frame too, after the refresh interval
    ],
)
def test_a_track_is_described_again_for_a_better_frame_or_after_a_while(
    first: float, later: float, seconds: float, described_again: bool
) -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    tracker.update([sighting(0, 0, first)], at(0))
    assert len(tracker.select_for_description(at(0))) == 1
    tracker.update([sighting(0, seconds, later)], at(seconds))
    assert bool(tracker.select_for_description(at(seconds))) is described_again


@pytest.mark.parametrize(
    ("floor", "quality", "size", "described"),
    [
        (0.0, 0.8, 100, True),
        (0.0, 0.1, 100, True),  # the default: every face the live gate lets through
        (0.0, 0.0, 100, False),  # quality 0: the live gate refused it
        (0.0, 0.8, 20, False),
        (0.3, 0.1, 100, False),
    ],
)
def test_poor_or_tiny_faces_are_never_described(
    floor: float, quality: float, size: int, described: bool
) -> None:
    tracker: Tracker[str] = Tracker(CONFIG.model_copy(update={"min_describe_quality": floor}))
    tracker.update([sighting(0, 0, quality, size)], at(0))
    assert bool(tracker.select_for_description(at(0))) is described


def test_descriptions_per_track_are_bounded() -> None:
    tracker: Tracker[str] = Tracker(EVERY_INTERVAL.model_copy(update={"describe_interval_s": 0.0}))
    described = 0
    for i in range(30):
        tracker.update([sighting(i, i * 0.04)], at(i * 0.04))
        described += len(tracker.select_for_description(at(i * 0.04)))
    assert described == CONFIG.max_descriptions


def test_descriptions_per_frame_are_bounded_fewest_described_first() -> None:
    config = EVERY_INTERVAL.model_copy(
        update={"max_describe_per_frame": 2, "describe_interval_s": 0.0}
    )
    tracker: Tracker[str] = Tracker(config)
    people = [sighting(x, 0) for x in (0, 300, 600)]
    tracker.update(people, at(0))
    assert [t for t, _ in tracker.select_for_description(at(0))] == [1, 2]
    tracker.update([sighting(x, 0.04) for x in (0, 300, 600)], at(0.04))
    assert [t for t, _ in tracker.select_for_description(at(0.04))] == [3, 1]


def _describe_pass(
    tracker: Tracker[str], per_frame: list[dict[str, float]], margin: float = 0.0
) -> list[str]:
    alerts: list[str] = []
    for i, subject_scores in enumerate(per_frame):
        now = at(i * 0.3)
        tracker.update([sighting(i, i * 0.3)], now)
        for track_id, chosen in tracker.select_for_description(now):
            candidates = scores(**subject_scores)
            confirmed = tracker.record(track_id, chosen, candidates, THRESHOLD, margin)
            alerts += [f"{c.track_id}:{c.subject_id}" for c in confirmed]
    return alerts


@pytest.mark.parametrize(
    ("per_frame", "alerts"),
    [
        # the best stands 0.05 above the second every time: confirmed as without a margin
        ([{"a": 0.95, "b": 0.90}, {"a": 0.96, "b": 0.91}], ["1:a"]),
        # a look-alike among look-alikes (0.005 apart): no description counts, no alert
        ([{"a": 0.95, "b": 0.945}, {"a": 0.96, "b": 0.955}, {"a": 0.95, "b": 0.946}], []),
        # one contested description, then two that stand out: confirmed on those two
        ([{"a": 0.95, "b": 0.945}, {"a": 0.95, "b": 0.90}, {"a": 0.93, "b": 0.5}], ["1:a"]),
        # a watchlist of one has no second subject: nothing competes
        ([{"a": 0.95}, {"a": 0.95}], ["1:a"]),
    ],
)
def test_a_description_counts_only_where_its_best_subject_stands_out(
    per_frame: list[dict[str, float]], alerts: list[str]
) -> None:
    """REC-2: with a margin of 0.01, a description is evidence for its best subject only
    when that subject's score stands 0.01 or more above the second's."""
    assert _describe_pass(Tracker(EVERY_INTERVAL), per_frame, margin=0.01) == alerts


def test_a_contested_description_at_the_threshold_keeps_the_track_described_urgently() -> None:
    """No evidence, but the decision is open: the track is described again at once."""
    tracker: Tracker[str] = Tracker(CONFIG)
    tracker.update([sighting(0, 0)], at(0))
    ((track_id, chosen),) = tracker.select_for_description(at(0))
    assert tracker.record(track_id, chosen, scores(a=0.95, b=0.945), THRESHOLD, 0.01) == []
    track = tracker.tracks[0]
    assert track.scores == {}
    assert track.urgency is Urgency.CONFIRMING


@pytest.mark.parametrize(
    ("per_frame", "alerts"),
    [
        # one fluke frame: no alert
        ([{"a": 0.95}, {"a": 0.5}, {"a": 0.6}, {"a": 0.4}], []),
        # two frames at the threshold: one alert, never repeated
        ([{"a": 0.92}, {"a": 0.5}, {"a": 0.93}, {"a": 0.96}, {"a": 0.97}], ["1:a"]),
        # a lookalike ranked below the person's own best match never alerts, even at
        # the threshold: a face is one person
        ([{"a": 0.92, "b": 0.91}, {"a": 0.95, "b": 0.93}], ["1:a"]),
        # ... but a track ranked first on two subjects in turn (two people sharing it)
        # alerts on each once confirmed
        ([{"a": 0.92}, {"a": 0.95}, {"b": 0.93, "a": 0.5}, {"b": 0.96, "a": 0.5}], ["1:a", "1:b"]),
        # a stranger who scores near but below: nothing
        ([{"a": 0.89}] * 6, []),
    ],
)
def test_one_alert_per_track_and_subject_after_enough_confirmations(
    per_frame: list[dict[str, float]], alerts: list[str]
) -> None:
    assert _describe_pass(Tracker(EVERY_INTERVAL), per_frame) == alerts


def test_confirmation_carries_the_best_evidence_and_the_fused_score() -> None:
    tracker: Tracker[str] = Tracker(EVERY_INTERVAL)
    confirmations = []
    for i, score in enumerate([0.91, 0.97, 0.5]):
        now = at(i * 0.3)
        tracker.update([sighting(i * 5, i * 0.3)], now)
        for track_id, chosen in tracker.select_for_description(now):
            confirmations += tracker.record(track_id, chosen, scores(a=score), THRESHOLD)
    (confirmation,) = confirmations
    assert confirmation.score == pytest.approx(0.94)
    assert confirmation.observations == 2
    assert confirmation.evidence.payload == "x5@0.3"
    assert confirmation.first_seen == T0
    assert tracker.tracks[0].evidence == {}


def test_sightings_below_threshold_are_not_held_as_evidence() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    tracker.update([sighting(0, 0)], at(0))
    ((track_id, chosen),) = tracker.select_for_description(at(0))
    tracker.record(track_id, chosen, scores(a=0.5, b=0.3), THRESHOLD)
    assert tracker.tracks[0].evidence == {}
    assert tracker.tracks[0].pending == []


def test_finish_forgets_every_track() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    tracker.update([sighting(0, 0), sighting(400, 0)], at(0))
    tracker.finish()
    assert tracker.tracks == []


def tracker_start(tracker: Tracker[str]) -> list[tuple[int, Sighting[str]]]:
    """One face at time 0, described at once (a first sight)."""
    tracker.update([sighting(0, 0)], at(0))
    return tracker.select_for_description(at(0))


def _described_at(tracker: Tracker[str], seconds: float) -> list[int]:
    """Shows the single face again at `seconds`; the tracks described then."""
    tracker.update([sighting(0, seconds)], at(seconds))
    return [track_id for track_id, _ in tracker.select_for_description(at(seconds))]


@pytest.mark.parametrize(
    ("first_score", "described_next_frame"),
    [
        (0.95, True),  # reached the threshold, needs its second confirmation: at once
        (0.89, True),  # within near_threshold_margin (0.02) below it: the decision is open
        (0.85, False),  # far below: waits for a better frame or the refresh interval
    ],
)
def test_a_track_whose_decision_is_open_is_described_on_the_next_frame(
    first_score: float, described_next_frame: bool
) -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    ((track_id, chosen),) = tracker_start(tracker)
    tracker.record(track_id, chosen, scores(a=first_score), THRESHOLD)
    assert bool(_described_at(tracker, 0.04)) is described_next_frame
    assert _described_at(tracker, CONFIG.refresh_interval_s) == [track_id]


def test_a_confirmed_track_goes_back_to_the_refresh_interval() -> None:
    tracker: Tracker[str] = Tracker(CONFIG)
    ((track_id, chosen),) = tracker_start(tracker)
    assert tracker.record(track_id, chosen, scores(a=0.95), THRESHOLD) == []
    tracker.update([sighting(0, 0.04)], at(0.04))
    ((_, again),) = tracker.select_for_description(at(0.04))
    (confirmed,) = tracker.record(track_id, again, scores(a=0.96), THRESHOLD)
    assert confirmed.subject_id == "a"
    assert _described_at(tracker, 0.08) == []


def test_near_threshold_margin_zero_turns_the_near_cadence_off() -> None:
    tracker: Tracker[str] = Tracker(CONFIG.model_copy(update={"near_threshold_margin": 0.0}))
    ((track_id, chosen),) = tracker_start(tracker)
    tracker.record(track_id, chosen, scores(a=0.899), THRESHOLD)
    assert _described_at(tracker, 0.04) == []


def test_open_decisions_are_served_first_when_a_frame_is_full() -> None:
    config = CONFIG.model_copy(update={"max_describe_per_frame": 1, "describe_interval_s": 0.0})
    tracker: Tracker[str] = Tracker(config)
    tracker.update([sighting(0, 0), sighting(400, 0)], at(0))
    ((first, chosen),) = tracker.select_for_description(at(0))
    tracker.record(first, chosen, scores(a=0.95), THRESHOLD)
    # The other track has never been described, but the first awaits its confirmation.
    tracker.update([sighting(0, 0.04), sighting(400, 0.04)], at(0.04))
    assert [t for t, _ in tracker.select_for_description(at(0.04))] == [first]


def _hovering_pass(config: TrackerConfig, frames: int, score: float) -> int:
    """A face shown on `frames` consecutive frames that always scores `score` for "a";
    returns how many of its sightings were described."""
    tracker: Tracker[str] = Tracker(config)
    described = 0
    for i in range(frames):
        now = at(i * 0.04)
        tracker.update([sighting(i, i * 0.04)], now)
        for track_id, chosen in tracker.select_for_description(now):
            described += 1
            tracker.record(track_id, chosen, scores(a=score), THRESHOLD)
    return described


def test_the_open_budget_bounds_a_lookalike_hovering_below_the_threshold() -> None:
    # 0.89: near (within 0.02 of 0.9) for its whole 2 s pass, never confirmed. It gets
    # its first sight, then the open budget on consecutive frames, then routine looks.
    described = _hovering_pass(CONFIG, frames=50, score=0.89)
    routine_after = 1  # the refresh interval (1 s) passes once more within 2 s
    assert described == 1 + CONFIG.max_open_descriptions + routine_after
    far_below = _hovering_pass(CONFIG, frames=50, score=0.5)
    assert far_below == 2  # first sight and one refresh: strangers never spend it


def test_without_an_open_budget_open_decisions_wait_for_the_routine_cadence() -> None:
    config = CONFIG.model_copy(update={"max_open_descriptions": 0})
    assert _hovering_pass(config, frames=50, score=0.89) == 2
