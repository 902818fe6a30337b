"""One recognition configuration per deployment, resolved once (REC-2, AUTH-2, EQ-1).

What a deployment recognises with is decided in one place, from three inputs:

- the **authority**: its alert threshold condition, when the authorising officer set one;
- the **settings**: the engine's configured threshold (`engine.alert_threshold`, never
  below the evaluated default) when the authority set none, its describer, its decision
  rule (`engine.score_normalisation`) and the force's calibration file
  (`engine.calibration_path`), and the model whose equitability evaluation sets the floor;
- the **model's own calibration**: the force's file when it is readable and calibrates the
  describer's model, else the one shipped with the model. It gives the threshold its
  false-match rate ("a stranger scores this high about 1 in N") and says which rule can
  run calibrated.

`resolve_recognition` makes a `RecognitionConfig` from them; the deployment service
stores it when the deployment is planned and again, final, when it starts (the watchlist
is sealed then, so the rule that runs for its size is known). From then on every reader
reads the stored value: the reconciler's planner (the workers' threshold, refusing an
engine whose describer or calibration is not the one recorded), the nodes' releases, the
check on each alert and its "1 in N", the WAD page and PDF, the commanders' dashboard,
the review and the JSON API. The settings changing later changes no running deployment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from lfr.db.governance import DeploymentRow
from lfr.domain.refusal import Refusal
from lfr.vision.calibration import (
    CalibrationFile,
    CalibrationFileRefusedError,
    ModelCalibration,
    one_in,
    read_calibration_file,
    shipped_calibration_file,
)
from lfr.vision.decision import rule_in_effect
from lfr.vision.describers import describer_model_id
from lfr.vision.engine_config import EngineConfig

if TYPE_CHECKING:
    from pathlib import Path

    from lfr.settings import Settings

logger = logging.getLogger(__name__)

SHIPPED_CALIBRATION = "shipped calibration"
FORCE_CALIBRATION = "force's calibration"

THRESHOLD_OF_AUTHORITY = "authority"
THRESHOLD_OF_SETTINGS = "engine setting"
ThresholdSource = Literal["authority", "engine setting"]

DEFAULT_MODEL_VERSION = "dlib-resnet-v1"


def stranger_phrase(one_in: str) -> str:
    """What a calibrated score means, in one wording for every page that shows one (an
    alert's score, the typed threshold, an authority's threshold): ``a stranger scores
    this high about 1 in 23,000 comparisons``."""
    return f"a stranger scores this high about {one_in} comparisons"


def threshold_words(threshold: float, false_match_rate: float | None) -> str:
    """``0.946: a stranger scores this high about 1 in 23,000 comparisons`` (the number
    alone without a calibration)."""
    if false_match_rate is None:
        return f"{threshold:g}"
    return f"{threshold:g}: {stranger_phrase(one_in(false_match_rate))}"


@dataclass(frozen=True, slots=True)
class RecognitionSettings:
    """What the settings say about recognition: the engine the cameras run and the model
    version whose equitability evaluation sets the floor (`evaluated_model_version`)."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    model_version: str = DEFAULT_MODEL_VERSION

    @classmethod
    def from_settings(cls, settings: Settings) -> RecognitionSettings:
        return cls(settings.engine, settings.evaluated_model_version)


@dataclass(frozen=True, slots=True)
class CalibrationInUse:
    calibration: ModelCalibration
    source: str
    """`FORCE_CALIBRATION` (the engine's `calibration_path`) or `SHIPPED_CALIBRATION`."""
    file: CalibrationFile | None = None
    """The bytes it was read from (their SHA-256 is recorded with deployments and alerts)."""

    @property
    def sha256(self) -> str | None:
        return self.file.sha256 if self.file is not None else None


def calibration_for(path: Path | None, model_id: str) -> CalibrationInUse | None:
    """The calibration the engine maps its scores with: the force's own file (`path`,
    from `lfr evaluate identification --calibration-out`) when it is readable and
    calibrates `model_id`, else the one shipped with the model (None without either).
    A file refused (not a regular file, too large, not a calibration, another model's) is
    named in the log and the shipped calibration stands in; the engine itself refuses to
    start on it (`lfr.vision.calibration.load_calibration`)."""
    if path is not None:
        try:
            own = read_calibration_file(path)
        except CalibrationFileRefusedError as refused:
            logger.warning(
                "engine.calibration_path refused (%s): the shipped calibration is used", refused
            )
        else:
            if own.calibration.model_id == model_id:
                return CalibrationInUse(own.calibration, FORCE_CALIBRATION, own)
            logger.warning(
                "engine.calibration_path %s calibrates %s, not %s: the shipped calibration is used",
                path,
                own.calibration.model_id,
                model_id,
            )
    shipped = shipped_calibration_file(model_id)
    if shipped is None:
        return None
    return CalibrationInUse(shipped.calibration, SHIPPED_CALIBRATION, shipped)


class CalibrationRecord(BaseModel):
    """Which calibration a deployment's scores are read with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(description="SHA-256 of the calibration file's bytes (as sha256sum).")
    source: str = Field(description="'shipped calibration' or \"force's calibration\".")
    model_id: str
    dataset: str = Field(description="What it was measured on.")


class RecognitionConfig(BaseModel):
    """How a deployment recognises, resolved once (`resolve_recognition`) and stored with
    it: every page, the workers and the alert check read this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(
        description="Calibrated score at or above which a track alerts (the reference scale)."
    )
    threshold_source: ThresholdSource = Field(
        description="'authority' (its condition) or 'engine setting' (engine.alert_threshold)."
    )
    false_match_rate: float | None = Field(
        description="Evaluated false-match rate of one comparison at the threshold (None "
        "without a calibration)."
    )
    rule: str = Field(description="The decision rule the cameras run ('cosine', 'snorm-200').")
    describers: tuple[str, ...] = Field(description="Model id of each describer.")
    model_version: str = Field(
        description="The model whose equitability evaluation sets the threshold floor."
    )
    calibration: CalibrationRecord | None = Field(
        description="The calibration behind the false-match rates (None: none for the model)."
    )

    @property
    def one_in(self) -> str | None:
        """The threshold's false-match rate as people read it ("1 in 23,000")."""
        rate = self.false_match_rate
        return one_in(rate) if rate is not None else None

    @property
    def calibration_sha256(self) -> str | None:
        return self.calibration.sha256 if self.calibration is not None else None


@dataclass(frozen=True, slots=True)
class ResolvedRecognition:
    config: RecognitionConfig
    calibration: CalibrationInUse | None

    @property
    def calibration_text(self) -> str | None:
        """The calibration file's text, stored beside the configuration so that each
        alert's "1 in N" is read with the calibration the deployment ran."""
        in_use = self.calibration
        return in_use.file.text if in_use is not None and in_use.file is not None else None


def resolved_threshold(authority_threshold: float | None, engine_threshold: float) -> float:
    """The threshold a deployment runs at: the authority's condition, else the engine's
    configured threshold (`engine.alert_threshold`, never below the evaluated default)."""
    return engine_threshold if authority_threshold is None else authority_threshold


def resolve_recognition(
    settings: RecognitionSettings,
    authority_threshold: float | None,
    watchlist_size: int | None = None,
) -> ResolvedRecognition:
    """The one resolution of a deployment's recognition: the authority's threshold, else
    the engine's configured one; the describer's model and its calibration; the rule the
    engine runs for a watchlist of `watchlist_size` (None: not sealed yet, the configured
    rule where the calibration covers it)."""
    engine = settings.engine
    model_id = describer_model_id(engine.describer)
    in_use = calibration_for(engine.calibration_path, model_id)
    calibration = in_use.calibration if in_use is not None else None
    threshold = resolved_threshold(authority_threshold, engine.alert_threshold)
    rule = rule_in_effect(engine.decision_rule(), watchlist_size, calibration)
    config = RecognitionConfig(
        threshold=threshold,
        threshold_source=THRESHOLD_OF_SETTINGS
        if authority_threshold is None
        else THRESHOLD_OF_AUTHORITY,
        false_match_rate=calibration.false_match_rate(threshold) if calibration else None,
        rule=rule,
        describers=(model_id,),
        model_version=settings.model_version,
        calibration=_record(in_use),
    )
    return ResolvedRecognition(config, in_use)


def _record(in_use: CalibrationInUse | None) -> CalibrationRecord | None:
    if in_use is None or in_use.sha256 is None:
        return None
    calibration = in_use.calibration
    return CalibrationRecord(
        sha256=in_use.sha256,
        source=in_use.source,
        model_id=calibration.model_id,
        dataset=calibration.dataset,
    )


def stored_recognition(text: str | None) -> RecognitionConfig | None:
    """A stored configuration read back (None for none)."""
    return RecognitionConfig.model_validate_json(text) if text else None


def recognition_of(row: DeploymentRow) -> RecognitionConfig:
    """The deployment's stored recognition configuration (REC-2): what its workers, its
    alerts and every page read."""
    stored = stored_recognition(row.recognition)
    if stored is None:  # every row has one since migration 0009
        raise Refusal("REC-2", "the deployment has no recognition configuration", "recognition")
    return stored


def engine_differences(
    recognition: RecognitionConfig, engine: EngineConfig, watchlist_size: int
) -> list[str]:
    """What an engine would run differently from a deployment's recorded configuration
    (the threshold aside, which the engine is given): its describer's model, its rule for
    this watchlist, its calibration. Empty when it runs what was recorded."""
    here = resolve_recognition(
        RecognitionSettings(engine, recognition.model_version),
        recognition.threshold,
        watchlist_size,
    ).config
    differences = []
    if here.describers != recognition.describers:
        differences.append(f"describer {here.describers} (recorded {recognition.describers})")
    if here.rule != recognition.rule:
        differences.append(f"rule {here.rule} (recorded {recognition.rule})")
    if here.calibration_sha256 != recognition.calibration_sha256:
        differences.append(
            f"calibration {_short(here.calibration_sha256)} "
            f"(recorded {_short(recognition.calibration_sha256)})"
        )
    return differences


def _short(sha256: str | None) -> str:
    return f"{sha256[:12]}…" if sha256 else "none"


@lru_cache(maxsize=32)
def _calibration_of_text(text: str) -> ModelCalibration:
    return ModelCalibration.model_validate_json(text)


def stored_calibration(row: DeploymentRow) -> ModelCalibration | None:
    """The calibration the deployment's configuration names (its stored text)."""
    return _calibration_of_text(row.calibration) if row.calibration else None
