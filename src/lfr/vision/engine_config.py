"""What shapes recognition on a camera (`EngineConfig`), apart from the engine that runs it.

Kept out of `lfr.vision.pipeline` so that the settings (`lfr.settings`) can hold the
engine's configuration without loading the matcher and its ONNX runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lfr.partial_tables import complete_partial_tables
from lfr.vision.decision import DecisionRule, Description, TrackPooling
from lfr.vision.decoding import DecodingConfig
from lfr.vision.describers import DescriberConfig, DlibDescriberConfig, check_describer_models
from lfr.vision.detection import DetectorConfig, HogDetectorConfig
from lfr.vision.following import FollowingConfig
from lfr.vision.normalisation import CohortNormalisation
from lfr.vision.quality import QualityGate
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD, DEFAULT_MARGIN, describers_defaults
from lfr.vision.tracking import TrackerConfig

DEFAULT_DETECT_WIDTH = 960
"""The engine's default `max_detect_width` (REC-2). Detection (dlib HOG) is the engine's
main cost once description is bounded by the tracker, and grows with the pixel count.
At 960 px wide HOG's smallest face (about 80 px in the shrunk frame, 0.39 of it between
the eyes) is about 107 px high with about 42 px between the eyes at 720p, 160 px / 62 px
at 1080p: at or above the 40 px between the eyes asked of a watchlist image. On the
generated crowds it lost 1–5% of the detections (the faces nearest that size) and no
alert, and made the engine 1.3–4× faster (measured in docs/evaluation.md).
Frames of 960 px or less (640×480, the Hamilton clip) are detected at full resolution.
720p detection costs about 0.56 of full resolution, 1080p about 0.25. A camera that must
find smaller faces raises it (or sets None, or `upsample`); one placed for large faces
lowers it."""


class EngineConfig(BaseModel):
    """Everything that shapes recognition on a camera; the alert threshold is an input
    that the authority sets (REC-2), never a hidden constant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decoding: DecodingConfig = Field(
        default_factory=DecodingConfig,
        description=(
            "How a camera's files and streams are decoded: OpenCV's FFmpeg on the CPU "
            "(default), or PyAV's FFmpeg, on the GPU's NVDEC with hardware 'cuda' "
            "(lfr.vision.decoding)."
        ),
    )
    detector: DetectorConfig = Field(
        default_factory=lambda: HogDetectorConfig(max_detect_width=DEFAULT_DETECT_WIDTH),
        description=(
            "Face detector backend and settings. The default detects on frames shrunk to "
            f"at most {DEFAULT_DETECT_WIDTH} px wide (see DEFAULT_DETECT_WIDTH); faces are "
            "still described from the full-resolution frame."
        ),
    )
    describer: DescriberConfig = Field(
        default_factory=lambda: DlibDescriberConfig(mirror=False),
        description=(
            "Face describer backend. Flip and context augmentation are the engine's "
            "`description`, not the describer's (its `mirror` stays off)."
        ),
    )
    description: Description = Field(
        default_factory=Description,
        description=(
            "How a face becomes one descriptor, for watchlist images and faces in the "
            "video alike (lfr.vision.decision.Description); default plain, one chip. "
            "Flip and context augmentation (mirror true, chip_paddings [0.25, 0.3]) costs "
            "four network passes a described face (a fifth more CPU a 720p frame) and, "
            "with fair_normalisation, halves the misses at FPIR 1% on lfw-dev; its "
            "same-group false-match differential (women's about 3 times men's up to "
            "0.965) puts the equitable floor at 0.97 "
            "(docs/evaluation.md): a force that turns it on stores its own equitability "
            "evaluation (lfr evaluate equitability measures the configured rule)."
        ),
    )
    fair_normalisation: bool = Field(
        default=False,
        description=(
            "Fair score normalisation (lfr.vision.fair) with the clusters shipped in the "
            "model's calibration, the same for any watchlist size; runs on raw cosine "
            "(not with score_normalisation). Where the calibration has no clusters for "
            "the description, raw cosine runs instead. See `description`."
        ),
    )
    track_pooling: TrackPooling = Field(
        default=TrackPooling.EACH,
        description=(
            "What the camera searches after each description of a followed face: 'each', "
            "the description alone; 'mean', the unit mean of the track's descriptions so "
            "far (held in memory while the track lives), so that a passer's frames "
            "average their noise out. The tracker confirms over the searches either way "
            "(tracker.min_confirmations). On the walk-by clip mean found no more people "
            "and alerted on as many strangers as each (docs/evaluation.md): each stays "
            "the default."
        ),
    )
    enrolment_gate: QualityGate = Field(
        default_factory=QualityGate.for_enrolment,
        description="Quality a watchlist image must meet to become a template (WL-5).",
    )
    live_gate: QualityGate = Field(
        default_factory=QualityGate,
        description=(
            "Quality a face in the video must meet to be described at all; a face that "
            "fails it is still tracked (so its pass stays one track) but never matched."
        ),
    )
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig, description="Tracking, description budget, confirmation."
    )
    following: FollowingConfig = Field(
        default_factory=FollowingConfig,
        description=(
            "How often the detector runs and how faces are followed between detections "
            "(lfr.vision.following)."
        ),
    )
    alert_threshold: float = Field(
        default=DEFAULT_ALERT_THRESHOLD,
        ge=-1,
        description=(
            "Fused calibrated score at or above which a track alerts on a subject: on the "
            "reference scale of lfr.vision.calibration (the raw cosine similarity with the "
            "same evaluated false-match rate), whichever rule runs. Raising it misses more "
            "watchlist subjects; lowering it stops more innocent passers-by. Default: the "
            "configured describer's evaluated default (its model card), each model having "
            "its own scale; dlib's 0.955 for a model without one."
        ),
    )
    alert_margin: float = Field(
        default=DEFAULT_MARGIN,
        ge=0,
        le=0.2,
        description=(
            "How far a described face's best subject must stand above the second-best, on "
            "the calibrated scale, for the description to count towards an alert: a "
            "stranger's best look-alike in a large watchlist is seldom alone, a person's "
            "own template usually is. Default: the configured describer's evaluated one "
            "(its model card): dlib's 0.01, which on the walk-by clip (1,100 enrolled) "
            "took the strangers alerted at the default threshold from 3-5 to 1-2 of 310 "
            "and on lfw-dev FNIR at FPIR 1% from 42.6% to 31.7%; the dlib + faceres "
            "fusion's 0 (docs/evaluation.md, 'The margin'). 0 turns it off. Needs top_k "
            "of 2 or more."
        ),
    )
    score_normalisation: CohortNormalisation | None = Field(
        default=None,
        description=(
            "Cohort normalisation of match scores (lfr.vision.normalisation), scores put "
            "back on the calibrated scale, so the threshold keeps its meaning. S-norm "
            "(`CohortNormalisation()`) lowered the miss rate at 1% false alerts on lfw-dev "
            "stills from 36% to 27%, but on the video clips it lowered recall (7/9 → 3/9, "
            "9/10 → 3/10, Hamilton 1/2 → 0/2; docs/evaluation.md): None, raw cosine "
            "similarities, stays the default until that is understood."
        ),
    )
    calibration_path: Path | None = Field(
        default=None,
        description=(
            "A force's own calibration (`lfr evaluate identification --calibration-out`); "
            "None: the one shipped for the describer's model. Without either, scores stay "
            "raw cosine similarities (no rule can run calibrated)."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _complete_partial_tables(cls, data: Any) -> Any:
        """``LFR_ENGINE__DETECTOR__UPSAMPLE=1`` changes the engine's detector, not the
        class's (`lfr.partial_tables`)."""
        return complete_partial_tables(cls, data)

    def enrolment_detector(self) -> DetectorConfig:
        """The detector at full resolution (no `detect_scale` / `max_detect_width`): a
        watchlist photograph is analysed once, so speed does not matter there, and a face
        the enrolment gate accepts must not be lost to shrinking (WL-5)."""
        return self.detector.model_copy(update={"detect_scale": 1.0, "max_detect_width": None})

    def updated(self, **changes: Any) -> EngineConfig:
        """A validated copy with `changes`; a table (``detector={"upsample": 1}``) changes
        those keys of the current value and keeps its others."""
        values = self.model_dump()
        for name, change in changes.items():
            current = values.get(name)
            if isinstance(change, dict) and isinstance(current, dict):
                change = {**current, **change}
            values[name] = change
        return type(self).model_validate(values)

    def decision_rule(self) -> DecisionRule:
        """The decision rule this engine runs (lfr.vision.decision): what `lfr evaluate`
        measures by default."""
        return DecisionRule(
            description=self.description,
            normalisation=self.score_normalisation,
            fair=self.fair_normalisation,
            track_pooling=self.track_pooling,
            margin=self.alert_margin,
        )

    @model_validator(mode="after")
    def _one_rule(self) -> EngineConfig:
        if isinstance(self.describer, DlibDescriberConfig) and self.describer.mirror:
            raise ValueError(
                "describer.mirror: the engine mirrors faces through description.mirror "
                "(the same flip for every describer); set that instead"
            )
        self.decision_rule()  # refuses fair normalisation with score_normalisation
        return self

    @model_validator(mode="before")
    @classmethod
    def _describers_defaults(cls, settings: Any) -> Any:
        return describers_defaults(settings)

    @model_validator(mode="after")
    def _describer_models_fit(self) -> EngineConfig:
        check_describer_models(self.describer)
        return self

    @model_validator(mode="after")
    def _margin_has_a_runner_up(self) -> EngineConfig:
        if self.alert_margin > 0 and self.top_k < 2:
            raise ValueError(
                f"alert_margin {self.alert_margin} compares the best candidate with the "
                "second: set top_k to 2 or more, or alert_margin to 0"
            )
        return self

    @model_validator(mode="after")
    def _threshold_is_calibrated(self) -> EngineConfig:
        if self.alert_threshold > 1:
            raise ValueError(
                f"alert_threshold {self.alert_threshold} is not a calibrated score (at most "
                "1): thresholds are on the reference scale whichever rule runs "
                "(lfr.vision.calibration)"
            )
        return self

    top_k: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Candidates per described face (shown to the operator, ADJ-1).",
    )
    probe_margin: float = Field(
        default=0.4,
        ge=0,
        le=2,
        description="Margin around the face box in the probe crop, as a fraction of its size.",
    )
    probe_jpeg_quality: int = Field(default=90, ge=50, le=100, description="Probe crop JPEG.")
    health_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between health figures (REC-5); one more is sent at the end.",
    )
    read_timeout_s: float = Field(
        default=0.5,
        gt=0,
        description="How long the worker waits for a frame before reporting health anyway.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "Threads this engine's ONNX Runtime runs and OpenCV may use (its share of the "
            "machine: `threads_per_worker`). 0 leaves both at one per core, right for one "
            "camera a machine; with several camera processes each using every core, their "
            "threads wait on one another's cores (8 workers on 2 cores: 16 threads)."
        ),
    )
