"""Tracks: one person's pass in front of one camera, and the decision to alert (REC-3).

Describing a face is the costly step of the engine (5-15 ms a face with ONNX Runtime on
this class of CPU, about 100 ms with dlib-bin), and one frame of one face is weak
evidence. So the engine follows each face from frame to frame as a *track*, keeps a few of
the track's best-quality sightings, describes a bounded number of them, and confirms a
match only once enough descriptions rank the same subject first at or above the alert
threshold. A routine budget looks at every track now and then; a track whose best match
is at or near the threshold (its decision is open) is described on consecutive frames
from a second, small budget, so the budget goes where the decision is made. Each (track,
subject) pair alerts at most once: a person walking past yields one alert, not one per
frame.

Everything here is pure bookkeeping over boxes, times, quality scores and candidate
scores; the image data rides along as an opaque payload and is dropped with the sighting.
A sighting that never scores at or above the threshold is forgotten as soon as it has been
scored or outranked, and a track is forgotten entirely when it ends (REC-4).

Every setting below documents its trade-off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.decision import stands_out
from lfr.vision.types import Box, Candidate

P = TypeVar("P")


class TrackerConfig(BaseModel):
    """How faces are followed, which of them are described, and when a match is confirmed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_iou: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description=(
            "Overlap with a track's last box that links a face to it. Raising it splits a "
            "fast-moving or low-frame-rate pass into several tracks (more descriptions, a "
            "second alert for one pass); lowering it lets two people standing close share a "
            "track (their scores mix)."
        ),
    )
    max_centre_shift: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Largest move of the face centre between sightings, in face sizes, that still "
            "links a face that no longer overlaps. Raising it keeps fast movers (or frames "
            "dropped by a busy worker) on one track but can jump to a neighbour; lowering "
            "it splits passes."
        ),
    )
    max_size_ratio: float = Field(
        default=2.0,
        ge=1,
        description=(
            "Largest change of face size (side length) between linked sightings. Raising "
            "it tolerates detector jitter and quick approaches; lowering it stops a small "
            "face in the background from taking over a near face's track."
        ),
    )
    max_gap_s: float = Field(
        default=1.0,
        gt=0,
        description=(
            "A track ends after this long without a sighting. Raising it carries a pass "
            "across longer occlusions (fewer repeat alerts) but can hand a track to the "
            "next person at the same spot; lowering it ends tracks on short occlusions "
            "(one pass may alert twice)."
        ),
    )
    keep_best: int = Field(
        default=3,
        ge=1,
        le=32,
        description=(
            "Undescribed sightings a track keeps, best quality first, waiting for its next "
            "description. Raising it costs memory only; below 2 the choice of the best "
            "frame is lost."
        ),
    )
    max_descriptions: int = Field(
        default=6,
        ge=1,
        le=64,
        description=(
            "Routine descriptions per track at most (first sight, better frames, refreshes): "
            "the engine's main cost control in a crowd. Raising it gives a long pass more "
            "chances to match (fewer misses) but costs 5-15 ms of CPU per extra description "
            "(ONNX Runtime; about 100 ms with dlib-bin) and gives a stranger more chances of "
            "a lucky false match; lowering it speeds the engine up and misses people whose good "
            "frames came late."
        ),
    )
    max_open_descriptions: int = Field(
        default=10,
        ge=0,
        le=250,
        description=(
            "Further descriptions per track while its decision is open (see "
            "`near_threshold_margin`), beyond `max_descriptions`: 0.4 s of frames at 25 fps. "
            "Only people who score near a watchlist subject spend it, so it costs "
            "little CPU in a crowd of strangers; raising it gives a lookalike or a true "
            "match hovering at the threshold more chances to be confirmed (a lookalike: "
            "falsely); 0 confirms only within the routine budget."
        ),
    )
    describe_interval_s: float = Field(
        default=0.2,
        ge=0,
        description=(
            "Least time between two descriptions of one track. Raising it delays a "
            "confirmation; lowering it spends the budget on near-identical consecutive "
            "frames."
        ),
    )
    min_quality_gain: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "A track is described again as soon as a sighting beats the quality of its "
            "best described one by this much: the budget follows a person's best frames "
            "(walking towards the camera, turning to face it). Raising it saves "
            "descriptions but can skip the frame that would have matched; lowering it "
            "spends the budget on frames hardly better than the last."
        ),
    )
    near_interval_s: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Least time between descriptions of a track whose decision is open: its best "
            "match has reached the threshold and lacks confirmations, or scores within "
            "`near_threshold_margin` below it. 0 describes it again on the next frame that "
            "shows it usably. Raising it spaces those frames further apart (more independent "
            "evidence) but delays the alert and misses people who leave soon after; "
            "lowering it confirms on near-identical frames."
        ),
    )
    near_threshold_margin: float = Field(
        default=0.02,
        ge=0,
        description=(
            "A track whose best match scores within this margin below the threshold (in "
            "the threshold's units: cosine similarity, or cohort standard deviations with "
            "score normalisation) is described every `near_interval_s` instead of every "
            "`refresh_interval_s`: the budget goes where the decision is open. Raising it "
            "spends more descriptions on lookalikes (each a further chance of a false "
            "alert); 0 turns it off, and people whose scores hover at the threshold are "
            "described too seldom to be confirmed."
        ),
    )
    refresh_interval_s: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Without a better frame, a track is described again after this long (the face "
            "may look different at equal quality). Raising it saves CPU on people who "
            "stand still; lowering it gives a long, steady pass its budget sooner."
        ),
    )
    min_describe_quality: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Quality score (0–1) under which a sighting is never described; the live gate "
            "(EngineConfig.live_gate) still refuses faces too small, blurred, dark or "
            "turned. Raising it avoids the false matches that poor faces produce, and "
            "misses people only ever seen poorly; lowering it matches more of them and "
            "raises more false alerts at a given threshold. 0 (every face past the live "
            "gate) with the threshold at 0.955 found more people and alerted on fewer "
            "strangers on the walk-by clip than 0.3 with 0.946 (docs/evaluation.md)."
        ),
    )
    min_describe_face_px: int = Field(
        default=40,
        ge=1,
        description=(
            "Face height in pixels under which a sighting is never described (faces of "
            "about 20 px give false matches). Raising it misses distant people; lowering "
            "it raises false alerts."
        ),
    )
    max_describe_per_frame: int = Field(
        default=4,
        ge=1,
        description=(
            "Descriptions per processed frame across all tracks, fewest-described track "
            "first: bounds a frame's latency in a crowd. Raising it serves crowds sooner "
            "but a live source drops more frames meanwhile; lowering it delays alerts."
        ),
    )
    min_confirmations: int = Field(
        default=2,
        ge=1,
        le=64,
        description=(
            "Described sightings that must reach the alert threshold before a track "
            "alerts on a subject; the alert's score is the mean of that many best scores. "
            "Raising it removes one-frame flukes (fewer false alerts) and misses people "
            "seen well only briefly; 1 alerts on the first good frame, flukes included."
        ),
    )


@dataclass(frozen=True, slots=True)
class Sighting(Generic[P]):
    """One face in one frame, with whatever the caller needs to describe and report it."""

    box: Box
    quality: float
    at: datetime
    payload: P


@dataclass(frozen=True, slots=True)
class Confirmation(Generic[P]):
    """A track confirmed as a subject: what becomes one alert."""

    track_id: int
    subject_id: str
    score: float
    observations: int
    evidence: Sighting[P]
    candidates: tuple[Candidate, ...]
    first_seen: datetime


@dataclass(slots=True)
class _Evidence(Generic[P]):
    score: float
    sighting: Sighting[P]
    candidates: tuple[Candidate, ...]


class Urgency(IntEnum):
    """How soon a track should be described again, from its scores so far (lower is
    sooner; also the order in which due tracks are served)."""

    CONFIRMING = 0
    """Its best match reached the threshold and needs more confirmations."""
    NEAR = 1
    """Its best match scored within `near_threshold_margin` below the threshold."""
    SETTLED = 2
    """Nothing near the threshold yet, or everything it reached is already alerted."""


@dataclass(slots=True)
class Track(Generic[P]):
    """One pass; everything in it is forgotten when the track ends."""

    track_id: int
    box: Box
    first_seen: datetime
    last_seen: datetime
    pending: list[Sighting[P]] = field(default_factory=list)
    described: int = 0
    open_descriptions: int = 0
    """Of `described`, those made while the decision was open (`max_open_descriptions`)."""
    best_described_quality: float = 0.0
    last_described_at: datetime | None = None
    scores: dict[str, list[float]] = field(default_factory=dict)
    """Per subject, its scores in the descriptions that ranked it first, standing out."""
    contested: dict[str, float] = field(default_factory=dict)
    """Per subject, its best score in descriptions that ranked it first without standing
    out (evidence of nothing; it only keeps the track described while it is near)."""
    evidence: dict[str, _Evidence[P]] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)
    urgency: Urgency = Urgency.SETTLED


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    return overlap / (a.width * a.height + b.width * b.height - overlap)


def _side(box: Box) -> float:
    return math.sqrt(box.width * box.height)


def centre_shift(a: Box, b: Box) -> float:
    """Distance between the box centres in units of the boxes' mean side length."""
    dx = (a.left + a.right - b.left - b.right) / 2
    dy = (a.top + a.bottom - b.top - b.bottom) / 2
    return math.hypot(dx, dy) / ((_side(a) + _side(b)) / 2)


def affinity(track_box: Box, face_box: Box, config: TrackerConfig) -> float | None:
    """How well a face continues a track (higher is better), or None if it cannot."""
    sides = sorted((_side(track_box), _side(face_box)))
    if sides[1] / sides[0] > config.max_size_ratio:
        return None
    overlap = iou(track_box, face_box)
    shift = centre_shift(track_box, face_box)
    if overlap < config.min_iou and shift > config.max_centre_shift:
        return None
    return overlap + max(0.0, 1.0 - shift / config.max_centre_shift)


def associate(
    track_boxes: Sequence[Box], face_boxes: Sequence[Box], config: TrackerConfig
) -> list[tuple[int, int]]:
    """Pairs (track index, face index), greedily best affinity first; each used once.

    Greedy is enough here: a camera sees a handful of faces, and the best pair rarely
    competes with a second-best one once boxes must overlap or lie within a face size.
    """
    scored = [
        (score, t, f)
        for t, track_box in enumerate(track_boxes)
        for f, face_box in enumerate(face_boxes)
        if (score := affinity(track_box, face_box, config)) is not None
    ]
    used_tracks: set[int] = set()
    used_faces: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, t, f in sorted(scored, key=lambda item: -item[0]):
        if t not in used_tracks and f not in used_faces:
            used_tracks.add(t)
            used_faces.add(f)
            pairs.append((t, f))
    return pairs


def fused_score(scores: Sequence[float], count: int) -> float:
    """Mean of the `count` best scores (of all of them if there are fewer)."""
    best = sorted(scores, reverse=True)[:count]
    return sum(best) / len(best) if best else 0.0


def is_confirmed(scores: Sequence[float], threshold: float, min_confirmations: int) -> bool:
    """Enough described sightings at or above the threshold (REC-2)."""
    return sum(1 for score in scores if score >= threshold) >= min_confirmations


def describable(sighting: Sighting[P], config: TrackerConfig) -> bool:
    """Worth describing: quality above 0 (0 marks a face the live gate refused: followed,
    never matched) and at least `min_describe_quality`, and not too small."""
    return (
        sighting.quality > 0.0
        and sighting.quality >= config.min_describe_quality
        and sighting.box.height >= config.min_describe_face_px
    )


class Tracker(Generic[P]):
    """Follows the faces of one camera and decides what to describe and when to alert."""

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self._tracks: dict[int, Track[P]] = {}
        self._next_id = 1

    @property
    def tracks(self) -> list[Track[P]]:
        return list(self._tracks.values())

    def has_alerted(self, track_id: int) -> bool:
        track = self._tracks.get(track_id)
        return track is not None and bool(track.alerted)

    def update(self, sightings: Sequence[Sighting[P]], now: datetime) -> list[int]:
        """Ends stale tracks, then links each sighting to a track (a new one if none
        fits). Returns the track id of each sighting, in order."""
        self._end_tracks_unseen_since(now)
        tracks = list(self._tracks.values())
        pairs = associate([t.box for t in tracks], [s.box for s in sightings], self.config)
        track_ids = [0] * len(sightings)
        for t, f in pairs:
            self._extend(tracks[t], sightings[f])
            track_ids[f] = tracks[t].track_id
        for f, sighting in enumerate(sightings):
            if track_ids[f] == 0:
                track_ids[f] = self._start(sighting).track_id
        return track_ids

    def select_for_description(self, now: datetime) -> list[tuple[int, Sighting[P]]]:
        """The sightings to describe now: each due track's best waiting sighting, tracks
        with the fewest descriptions first. The other waiting sightings are dropped."""
        due = [t for t in self._tracks.values() if self._due(t, now)]
        due.sort(key=lambda t: (t.urgency, t.described, -t.pending[0].quality))
        chosen: list[tuple[int, Sighting[P]]] = []
        for track in due[: self.config.max_describe_per_frame]:
            chosen.append((track.track_id, track.pending[0]))
            track.pending.clear()
            track.open_descriptions += self._open(track)
            track.described += 1
            track.best_described_quality = max(track.best_described_quality, chosen[-1][1].quality)
            track.last_described_at = now
        return chosen

    def record(
        self,
        track_id: int,
        sighting: Sighting[P],
        candidates: Sequence[Candidate],
        threshold: float,
        margin: float = 0.0,
    ) -> list[Confirmation[P]]:
        """Adds one described sighting's candidate scores to its track; returns the
        subjects this confirms for the first time (at most one alert per track and
        subject, REC-3). A description whose best candidate does not stand `margin` above
        the second (`lfr.vision.decision.stands_out`) is no evidence for it, though it
        keeps the track described as urgently as its score asks."""
        track = self._tracks.get(track_id)
        if track is None or not candidates:
            return []
        # Only the best candidate of a description counts towards a confirmation: a face
        # is one person, so a lookalike ranked below the person's own best match is not
        # evidence of the lookalike (it stays on the alert as a candidate, ADJ-1).
        best = candidates[0]
        runner_up = candidates[1].score if len(candidates) > 1 else None
        if not stands_out(best.score, runner_up, margin):
            contested = track.contested.get(best.subject_id, best.score)
            track.contested[best.subject_id] = max(contested, best.score)
            track.urgency = self._urgency(track, threshold)
            return []
        track.scores.setdefault(best.subject_id, []).append(best.score)
        self._keep_if_best_evidence(track, best, sighting, tuple(candidates), threshold)
        confirmation = self._confirm(track, best.subject_id, threshold)
        track.urgency = self._urgency(track, threshold)
        return [confirmation] if confirmation else []

    def finish(self) -> None:
        """The source ended: forget every track."""
        self._tracks.clear()

    def _due(self, track: Track[P], now: datetime) -> bool:
        if not track.pending or self._budget_spent(track):
            return False
        if track.last_described_at is None:
            return True  # first sight: describe at once, an alert should not wait
        since = (now - track.last_described_at).total_seconds()
        if self._open(track):
            return since >= self.config.near_interval_s
        if since < self.config.describe_interval_s:
            return False
        better = track.pending[0].quality >= (
            track.best_described_quality + self.config.min_quality_gain
        )
        return better or since >= self.config.refresh_interval_s

    def _open(self, track: Track[P]) -> bool:
        """Described at the open-decision cadence: near or confirming, budget left."""
        open_left = track.open_descriptions < self.config.max_open_descriptions
        return track.urgency is not Urgency.SETTLED and open_left

    def _budget_spent(self, track: Track[P]) -> bool:
        routine = track.described - track.open_descriptions
        return not self._open(track) and routine >= self.config.max_descriptions

    def _urgency(self, track: Track[P], threshold: float) -> Urgency:
        open_best = [max(s) for subject, s in track.scores.items() if subject not in track.alerted]
        open_best += [s for subject, s in track.contested.items() if subject not in track.alerted]
        if any(best >= threshold for best in open_best):
            return Urgency.CONFIRMING
        near = threshold - self.config.near_threshold_margin
        if any(best >= near for best in open_best):
            return Urgency.NEAR
        return Urgency.SETTLED

    def _start(self, sighting: Sighting[P]) -> Track[P]:
        track = Track[P](self._next_id, sighting.box, sighting.at, sighting.at)
        self._next_id += 1
        self._tracks[track.track_id] = track
        self._offer(track, sighting)
        return track

    def _extend(self, track: Track[P], sighting: Sighting[P]) -> None:
        track.box = sighting.box
        track.last_seen = sighting.at
        self._offer(track, sighting)

    def _offer(self, track: Track[P], sighting: Sighting[P]) -> None:
        if self._budget_spent(track) or not describable(sighting, self.config):
            return
        track.pending.append(sighting)
        track.pending.sort(key=lambda s: -s.quality)
        del track.pending[self.config.keep_best :]

    def _end_tracks_unseen_since(self, now: datetime) -> None:
        stale = [
            track_id
            for track_id, track in self._tracks.items()
            if (now - track.last_seen).total_seconds() > self.config.max_gap_s
        ]
        for track_id in stale:
            del self._tracks[track_id]

    def _keep_if_best_evidence(
        self,
        track: Track[P],
        candidate: Candidate,
        sighting: Sighting[P],
        candidates: tuple[Candidate, ...],
        threshold: float,
    ) -> None:
        # Only a sighting that reaches the threshold is kept, and only the best per
        # subject: the crop of a face that matches nobody is never held beyond this call.
        if candidate.score < threshold or candidate.subject_id in track.alerted:
            return
        held = track.evidence.get(candidate.subject_id)
        if held is None or candidate.score > held.score:
            track.evidence[candidate.subject_id] = _Evidence(candidate.score, sighting, candidates)

    def _confirm(
        self, track: Track[P], subject_id: str, threshold: float
    ) -> Confirmation[P] | None:
        scores = track.scores[subject_id]
        needed = self.config.min_confirmations
        if subject_id in track.alerted or not is_confirmed(scores, threshold, needed):
            return None
        track.alerted.add(subject_id)
        evidence = track.evidence.pop(subject_id)
        return Confirmation(
            track_id=track.track_id,
            subject_id=subject_id,
            score=fused_score(scores, needed),
            observations=sum(1 for score in scores if score >= threshold),
            evidence=evidence.sighting,
            candidates=evidence.candidates,
            first_seen=track.first_seen,
        )
