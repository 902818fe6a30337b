"""The values that flow through the recognition engine and out of it.

Inside the worker: `Frame`, `Box`, `QualityFactors`. Leaving the worker (over the bus, to
the services): `MatchEvent` and `HealthFigures` — and nothing else (REC-4). They are
pydantic models so that they validate on the way in and serialise to JSON for the bus;
`schema_version` lets a newer service read an older node's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID, uuid4

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

RGBImage = NDArray[np.uint8]
"""An H×W×3 RGB image, uint8, C-contiguous."""

Descriptor = NDArray[np.float32]
"""A face descriptor (one row) or a matrix of them (one row per face)."""


class Box(BaseModel):
    """A face box in pixel coordinates of the frame it came from (right/bottom exclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    left: int
    top: int
    right: int
    bottom: int

    @model_validator(mode="after")
    def _positive_size(self) -> Box:
        if self.right <= self.left or self.bottom <= self.top:
            raise ValueError(f"box has no area: {self.left},{self.top},{self.right},{self.bottom}")
        return self

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame with the time it was captured (UTC) and where."""

    image: RGBImage
    index: int
    captured_at: datetime
    camera: str


class QualityFactors(BaseModel):
    """What affects how far a face can be trusted (ADJ-1); travels with every alert.

    `score` folds the others into one 0–1 figure; the enrolment gate (WL-5) and the
    engine's choice of a track's best frames both use it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inter_eye_px: float = Field(ge=0, description="Distance between the eye centres, pixels.")
    face_height_px: float = Field(ge=0, description="Height of the detected face box, pixels.")
    sharpness: float = Field(ge=0, description="Variance of the Laplacian on the aligned face.")
    brightness: float = Field(ge=0, le=255, description="Mean luma of the aligned face, 0–255.")
    contrast: float = Field(ge=0, description="Standard deviation of luma on the aligned face.")
    yaw_deg: float = Field(description="Head turn estimated from the 5 landmarks, degrees.")
    roll_deg: float = Field(description="Head tilt in the image plane, degrees.")
    score: float = Field(ge=0, le=1, description="Overall quality, 0 (unusable) to 1 (ideal).")


class ListKind(StrEnum):
    """Which list a matched template belongs to (REC-6: blue-list alerts are tests)."""

    WATCHLIST = "watchlist"
    BLUE_LIST = "blue_list"


class Candidate(BaseModel):
    """One of the top-k watchlist candidates for a probe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_id: str
    score: float


class MatchEvent(BaseModel):
    """A confirmed match of one track against one listed subject: the only thing about a
    face that ever leaves the recognition worker (REC-2, REC-3, REC-4).

    Bytes travel as base64 in JSON: the probe JPEG is binary and is not valid UTF-8.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    schema_version: Literal[1] = 1
    event_id: UUID = Field(default_factory=uuid4)
    deployment_id: str | None = Field(default=None, description="Set by a deployment's worker.")
    camera: str
    track_id: int
    subject_id: str = Field(description="The watchlist (or blue list) entry that matched.")
    list_kind: ListKind = ListKind.WATCHLIST
    score: float = Field(description="Fused similarity of the track to the subject.")
    threshold: float = Field(description="The alert threshold in force when it was raised.")
    observations: int = Field(ge=1, description="How many described frames support it.")
    candidates: tuple[Candidate, ...] = Field(default=(), description="Top-k, best first.")
    box: Box
    probe_jpeg: bytes = Field(repr=False, description="The probe face crop, JPEG.")
    quality: QualityFactors
    first_seen: datetime
    captured_at: datetime = Field(description="Capture time of the frame the probe came from.")
    emitted_at: datetime


class CameraStatus(StrEnum):
    UP = "up"
    DOWN = "down"
    ENDED = "ended"


SILENT_AFTER_S = 15.0
"""A camera whose health reports stop for longer than this (three of a worker's 5 s
intervals) delivers no frames that anyone sees, whatever it last said: shown STALE live, and
counted as downtime in the review (a lost link, a hung or dead worker)."""


STAGE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds (seconds) of the stage-time histograms; a last bucket holds the rest."""

STAGES = ("decode", "detect", "describe", "match")
"""A frame's stages in the camera worker: decoding (in the source), detecting or following
its faces, describing the chosen ones, matching them against the watchlist (and the
tracker's decision)."""


class StageTimes(BaseModel):
    """How long one stage took over a health interval: a count per `STAGE_BUCKETS_S`
    bucket (the last for longer ones) and the total, for Prometheus histograms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counts: tuple[int, ...] = Field(
        min_length=len(STAGE_BUCKETS_S) + 1, max_length=len(STAGE_BUCKETS_S) + 1
    )
    sum_s: float = Field(ge=0)

    @classmethod
    def of(cls, seconds: list[float]) -> StageTimes:
        counts = [0] * (len(STAGE_BUCKETS_S) + 1)
        for value in seconds:
            counts[next((i for i, b in enumerate(STAGE_BUCKETS_S) if value <= b), -1)] += 1
        return cls(counts=tuple(counts), sum_s=float(sum(seconds)))


class HealthFigures(BaseModel):
    """Periodic health of one camera worker (REC-5). Counts only, never a face."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    deployment_id: str | None = None
    camera: str
    status: CameraStatus
    at: datetime
    fps: float = Field(ge=0)
    faces_per_s: float = Field(ge=0)
    latency_ms_p50: float = Field(ge=0)
    latency_ms_p95: float = Field(ge=0)
    frames: int = Field(ge=0)
    faces: int = Field(ge=0)
    descriptions: int = Field(
        default=0, ge=0, description="Faces described so far (of those detected, the chosen)."
    )
    dropped_frames: int = Field(ge=0)
    errors: int = Field(ge=0)
    last_error: str | None = None
    stages: dict[str, StageTimes] = Field(
        default_factory=dict,
        description="Time per stage over this interval (keys from `STAGES`).",
    )
