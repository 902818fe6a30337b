"""One recognition configuration, resolved once (REC-2, AUTH-2), and calibration files read
safely (issue 23: size-limited, never blocking)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import pytest

from lfr.reports.recognition import (
    FORCE_CALIBRATION,
    SHIPPED_CALIBRATION,
    RecognitionSettings,
    calibration_for,
    engine_differences,
    resolve_recognition,
)
from lfr.vision.calibration import (
    MAX_CALIBRATION_BYTES,
    REFERENCE_RULE,
    CalibrationFileRefusedError,
    load_calibration,
    read_calibration_file,
    shipped_calibration_file,
)
from lfr.vision.engine_config import EngineConfig
from lfr.vision.normalisation import CohortNormalisation

MODEL = "dlib-resnet-v1"


def _shipped_text() -> str:
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    return shipped.text


def _own_calibration(tmp_path: Path) -> Path:
    """A force's calibration of the shipped model, stricter than the shipped one."""
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    reference = shipped.calibration.rules[REFERENCE_RULE].scores
    rules = {REFERENCE_RULE: {"scores": [score + 0.01 for score in reference]}}
    own = shipped.calibration.model_validate({**shipped.calibration.model_dump(), "rules": rules})
    path = tmp_path / "own.json"
    path.write_text(own.model_dump_json())
    return path


def test_a_fifo_is_refused_at_once_and_the_shipped_calibration_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A FIFO as `engine.calibration_path` would block a reader for ever: it is refused
    without waiting for a writer, named in the log, and the shipped calibration stands."""
    fifo = tmp_path / "calibration.fifo"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def read() -> None:
        try:
            read_calibration_file(fifo)
        except CalibrationFileRefusedError as refused:
            outcome.append(refused)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in str(outcome[0])
    with caplog.at_level(logging.WARNING, logger="lfr.reports.recognition"):
        in_use = calibration_for(fifo, MODEL)
    assert in_use is not None
    assert in_use.source == SHIPPED_CALIBRATION
    assert str(fifo) in caplog.text
    with pytest.raises(CalibrationFileRefusedError):  # the engine refuses to start on it
        load_calibration(fifo, MODEL)


def test_a_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:  # sparse: no disk used
        file.truncate(MAX_CALIBRATION_BYTES + 1)
    with pytest.raises(CalibrationFileRefusedError, match="more than the"):
        read_calibration_file(huge)
    with caplog.at_level(logging.WARNING, logger="lfr.reports.recognition"):
        in_use = calibration_for(huge, MODEL)
    assert in_use is not None
    assert in_use.source == SHIPPED_CALIBRATION
    assert "huge.json" in caplog.text


def test_the_digest_is_the_files_sha256_and_a_forces_file_replaces_the_shipped(
    tmp_path: Path,
) -> None:
    path = _own_calibration(tmp_path)
    in_use = calibration_for(path, MODEL)
    assert in_use is not None
    assert in_use.source == FORCE_CALIBRATION
    assert in_use.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    shipped = calibration_for(None, MODEL)
    assert shipped is not None
    assert shipped.sha256 == hashlib.sha256(_shipped_text().encode()).hexdigest()


def test_the_threshold_is_the_authoritys_else_the_engine_setting_with_its_rate() -> None:
    """REC-2, AUTH-2: one resolution for every reader: the authority's threshold when it
    set one (lower or higher than the configured one), else `engine.alert_threshold`;
    its false-match rate from the model's calibration."""
    settings = RecognitionSettings(EngineConfig(alert_threshold=0.97), MODEL)
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    for authority, threshold, source in ((0.93, 0.93, "authority"), (None, 0.97, "engine setting")):
        config = resolve_recognition(settings, authority).config
        assert (config.threshold, config.threshold_source) == (threshold, source)
        assert config.false_match_rate == shipped.calibration.false_match_rate(threshold)
        assert config.describers == (MODEL,)
        assert config.calibration is not None
        assert config.calibration.sha256 == shipped.sha256


def test_the_rule_follows_the_sealed_watchlists_size() -> None:
    """A cohort rule runs only for a watchlist large enough for its cohort (REC-2)."""
    snorm = CohortNormalisation()
    settings = RecognitionSettings(EngineConfig(score_normalisation=snorm), MODEL)
    assert resolve_recognition(settings, None, snorm.min_subjects).config.rule == snorm.rule
    assert resolve_recognition(settings, None, snorm.min_subjects - 1).config.rule == "cosine"


def test_an_engine_with_another_calibration_differs_from_the_recorded_one(
    tmp_path: Path,
) -> None:
    """The planner refuses to run a deployment on an engine whose calibration (or
    describer, or rule) is not the one recorded when it started."""
    recorded = resolve_recognition(RecognitionSettings(), None, 10).config
    assert engine_differences(recorded, EngineConfig(alert_threshold=0.99), 10) == []
    other = EngineConfig(calibration_path=_own_calibration(tmp_path))
    (difference,) = engine_differences(recorded, other, 10)
    assert difference.startswith("calibration")
