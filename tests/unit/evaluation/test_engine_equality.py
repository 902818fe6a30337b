"""`lfr evaluate` measures what the engine runs (REC-2, EQ-1): for the same photograph and
watchlist, the camera worker's alert scores equal the evaluation's scores, for the
engine's default rule and for flip + context augmentation with fair normalisation, and
the two decide alike under the rule's margin.

Real detector, alignment, dlib describer, enrolment, camera worker and tracker; the
"camera" shows one lfw-dev photograph a few times.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lfr.evaluation.datasets import identity_images, split_identification
from lfr.evaluation.descriptors import build_evaluation_describer
from lfr.evaluation.protocols import IdentificationOptions, score_split
from lfr.services.watchlists import VisionEnroler
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.calibration import ModelCalibration, RuleCalibration, load_calibration
from lfr.vision.decision import Description, TrackPooling
from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.fair import FairCohort
from lfr.vision.following import FollowingConfig
from lfr.vision.imageio import load_image
from lfr.vision.matcher import Gallery
from lfr.vision.pipeline import CameraWorker, Engine, EngineConfig
from lfr.vision.quality import QualityGate
from lfr.vision.sources import DecodeTimes
from lfr.vision.tracking import TrackerConfig
from lfr.vision.types import CameraStatus, Frame, MatchEvent

PEOPLE = ("Aaron_Peirsol", "Abdoulaye_Wade", "Abel_Pacheco", "Akhmed_Zakayev")
LENIENT = QualityGate(
    min_inter_eye_px=1,
    min_sharpness=0,
    max_abs_yaw_deg=90,
    max_abs_roll_deg=90,
    min_brightness=0,
    max_brightness=255,
    min_contrast=0,
)


class _Photograph:
    """A camera that shows one photograph for a few frames, then ends."""

    spec = camera = "photo"

    def __init__(self, path: Path, frames: int = 6) -> None:
        self._image = load_image(path)
        self._left = frames
        self._at = datetime(2026, 1, 1, tzinfo=UTC)
        self.decode_times = DecodeTimes()
        self.dropped_frames = 0
        self.last_error: str | None = None

    @property
    def status(self) -> CameraStatus:
        return CameraStatus.UP if self._left else CameraStatus.ENDED

    def read(self, timeout: float) -> Frame | None:
        if not self._left:
            return None
        self._left -= 1
        self._at += timedelta(seconds=0.2)
        return Frame(self._image, 6 - self._left, self._at, self.camera)

    def close(self) -> None:
        return


def _config(
    description: Description,
    calibration: Path | None,
    fair: bool,
    track_pooling: TrackPooling = TrackPooling.EACH,
) -> EngineConfig:
    """The engine as the evaluation analyses LFW's small faces: HOG with one upsampling
    on every frame (no following), any face described, the first description alerts
    (a track of one description: pooled, it is its own)."""
    return EngineConfig(
        track_pooling=track_pooling,
        detector=HogDetectorConfig(upsample=1),
        following=FollowingConfig(detect_every=1),
        live_gate=LENIENT,
        tracker=TrackerConfig(min_confirmations=1, min_describe_quality=0),
        alert_threshold=-1,
        description=description,
        fair_normalisation=fair,
        calibration_path=calibration,
    )


def _engine_scores(config: EngineConfig, images: Path, probe: Path) -> dict[str, float]:
    """The candidates' scores of the alert the camera worker raises on `probe`."""
    events = _engine_alerts(config, images, probe)
    assert events, "the engine raised no alert on the photograph"
    return {c.subject_id: c.score for c in events[0].candidates}


def _engine_alerts(config: EngineConfig, images: Path, probe: Path) -> list[MatchEvent]:
    """The alerts the camera worker raises on `probe` against the first images of
    `PEOPLE`."""
    engine = Engine.from_config(config)
    enroler = VisionEnroler(
        FaceAnalyser(build_detector(config.enrolment_detector())),
        engine.describer,
        LENIENT,
        config.description,
    )
    templates = [
        enroler.enrol(first.read_bytes(), first.name).template
        for first in (sorted((images / name).iterdir())[0] for name in PEOPLE)
    ]
    gallery = Gallery.build(
        list(PEOPLE),
        np.stack([np.frombuffer(t, dtype="<f4") for t in templates]),
        model_id=engine.describer.model_id,
    )
    events: list[MatchEvent] = []
    worker = CameraWorker(
        _Photograph(probe),
        engine,
        gallery,
        config,
        lambda e: events.append(e) if isinstance(e, MatchEvent) else None,
    )
    worker.run(threading.Event())
    return events


def _evaluation_scores(
    config: EngineConfig, images: Path, probe: Path, calibration: ModelCalibration | None
) -> dict[str, float]:
    """The probe's scores against every subject as `lfr evaluate identification` has
    them (the same split: first image enrolled)."""
    scores, _ = _evaluated(config, images, probe, calibration)
    return scores


def _evaluated(
    config: EngineConfig, images: Path, probe: Path, calibration: ModelCalibration | None
) -> tuple[dict[str, float], float]:
    """The probe's scores, and its mate's score as the evaluation's figures count it
    (-inf: the rule would not alert on it at any threshold)."""
    split = split_identification({n: p for n, p in identity_images(images).items() if n in PEOPLE})
    describer, _ = build_evaluation_describer(
        HogDetectorConfig(upsample=1),
        config.describer,
        cache_root=None,
        description=config.description,
    )
    options = IdentificationOptions(rule=config.decision_rule(), calibration=calibration)
    scored = score_split(split, describer, options)
    row = [path for _, path in scored.probes].index(probe)
    scores = scored.searched.scores[row]
    mate_score = float(scored.searched.searches.mate_score[row])  # mated probes come first
    return dict(zip(scored.gallery.subject_ids, map(float, scores), strict=True)), mate_score


@pytest.fixture(scope="module")
def images(lfw_dir: Path) -> Path:
    return lfw_dir / "images"


def test_the_engine_default_rule_scores_as_the_evaluation_default(images: Path) -> None:
    default = EngineConfig()
    config = _config(default.description, None, default.fair_normalisation, default.track_pooling)
    probe = sorted((images / PEOPLE[0]).iterdir())[1]
    calibration = load_calibration(None, "dlib-resnet-v1")
    engine = _engine_scores(config, images, probe)
    evaluation = _evaluation_scores(config, images, probe, calibration)
    assert len(engine) == len(PEOPLE)
    for subject, score in engine.items():
        assert score == pytest.approx(evaluation[subject], abs=1e-5)
    assert max(engine, key=lambda s: engine[s]) == PEOPLE[0]


def test_flip_context_and_fair_normalisation_score_alike_in_engine_and_evaluation(
    images: Path, tmp_path: Path
) -> None:
    description = Description(mirror=True, chip_paddings=(0.25, 0.3))
    rng = np.random.default_rng(2)
    centroids = rng.normal(size=(3, 128))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    cohort = FairCohort(
        description=description.name,
        dataset="hand-made",
        identities=60,
        false_match_rate=1e-3,
        centroids=tuple(tuple(row) for row in centroids.tolist()),
        offsets=(0.03, -0.02, 0.01),
    )
    calibration = ModelCalibration(
        model_id="dlib-resnet-v1",
        dataset="hand-made",
        command="test",
        non_mated_comparisons=100,
        false_match_rates=(0.1, 0.01, 0.001),
        rules={
            "cosine": RuleCalibration(scores=(0.85, 0.9, 0.95)),
            f"{description.name}/cosine-fair": RuleCalibration(scores=(0.8, 0.88, 0.96)),
        },
        fair_cohorts={description.name: cohort},
    )
    path = tmp_path / "calibration.json"
    path.write_text(calibration.model_dump_json())
    config = _config(description, path, fair=True)
    probe = sorted((images / PEOPLE[2]).iterdir())[1]
    engine = _engine_scores(config, images, probe)
    evaluation = _evaluation_scores(config, images, probe, calibration)
    for subject, score in engine.items():
        assert score == pytest.approx(evaluation[subject], abs=1e-5)
    plain = _evaluation_scores(_config(Description(), None, False), images, probe, None)
    assert engine[PEOPLE[2]] != pytest.approx(plain[PEOPLE[2]], abs=1e-3)  # the rule ran


def test_the_margin_decides_alike_in_engine_and_evaluation(images: Path) -> None:
    """A margin above the gap between the probe's two best subjects: the camera raises
    no alert and the evaluation counts the mate missed; a margin below it: both find
    the person."""
    default = EngineConfig()
    config = _config(default.description, None, default.fair_normalisation)
    probe = sorted((images / PEOPLE[0]).iterdir())[1]
    calibration = load_calibration(None, "dlib-resnet-v1")
    scores = _evaluation_scores(config, images, probe, calibration)
    best, second = sorted(scores.values(), reverse=True)[:2]
    assert max(scores, key=lambda s: scores[s]) == PEOPLE[0]
    for margin, alerts in ((best - second + 0.01, False), ((best - second) / 2, True)):
        ruled = config.updated(alert_margin=margin)
        events = _engine_alerts(ruled, images, probe)
        _, mate_score = _evaluated(ruled, images, probe, calibration)
        assert [e.subject_id for e in events] == ([PEOPLE[0]] if alerts else [])
        assert bool(np.isfinite(mate_score)) is alerts
