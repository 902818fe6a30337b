"""Cohort score normalisation (REC-2): hand-worked cases, and the gallery option."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lfr.vision.matcher import Fusion, Gallery
from lfr.vision.normalisation import (
    CohortNormalisation,
    CohortNormaliser,
    fit_subject_stats,
    tnorm,
    znorm,
)

AMONG = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]])


def rows_of(matrix: np.ndarray) -> Callable[[int, int], np.ndarray]:
    return lambda start, stop: matrix[start:stop]


def test_tnorm_measures_each_score_against_the_probes_runners_up() -> None:
    scores = np.array([[0.9, 0.5, 0.3, 0.1]])
    # Cohort of 2: the scores ranked 2 and 3 (0.5, 0.3): mean 0.4, std 0.1.
    assert tnorm(scores, cohort_size=2)[0].tolist() == pytest.approx([5.0, 1.0, -1.0, -3.0])


def test_subject_stats_leave_each_subject_out_of_its_own_cohort() -> None:
    mean, std = fit_subject_stats(3, rows_of(AMONG), cohort_size=2)
    assert mean.tolist() == pytest.approx([0.3, 0.4, 0.5])
    assert std.tolist() == pytest.approx([0.1, 0.2, 0.1])
    normalised = znorm(np.array([[0.5, 0.6, 0.7]]), mean, std)
    assert normalised[0].tolist() == pytest.approx([2.0, 1.0, 2.0])


def test_subject_stats_are_the_same_whatever_the_chunk_size() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.uniform(-1, 1, size=(7, 7))
    whole = fit_subject_stats(7, rows_of(matrix), 3, chunk=100)
    chunked = fit_subject_stats(7, rows_of(matrix), 3, chunk=2)
    assert np.allclose(whole[0], chunked[0])
    assert np.allclose(whole[1], chunked[1])


def test_snorm_is_the_mean_of_tnorm_and_znorm() -> None:
    matrix = np.array(
        [[1.0, 0.1, 0.3, 0.5], [0.1, 1.0, 0.2, 0.4], [0.3, 0.2, 1.0, 0.6], [0.5, 0.4, 0.6, 1.0]]
    )
    scores = np.array([[0.9, 0.2, 0.4, 0.3]])
    parts = {
        kind: CohortNormaliser(CohortNormalisation(type=kind, cohort_size=2), 4, rows_of(matrix))
        for kind in ("tnorm", "znorm", "snorm")
    }
    applied = {kind: normaliser.apply(scores) for kind, normaliser in parts.items()}
    assert np.allclose(applied["snorm"], (applied["tnorm"] + applied["znorm"]) / 2)


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_a_normalised_gallery_ranks_by_normalised_scores_and_keeps_raw_similarities() -> None:
    rng = np.random.default_rng(0)
    templates = _unit(rng.standard_normal((20, 8)).tolist())
    gallery = Gallery.build([f"s{i}" for i in range(20)], templates)
    normalised = gallery.with_normalisation(CohortNormalisation(type="snorm", cohort_size=5))
    probe = templates[3:4] + 0.1 * _unit(rng.standard_normal((1, 8)).tolist())
    (best,) = normalised.search(probe, k=1)
    assert best[0].subject_id == "s3"
    expected = normalised.scores(probe)[0, 3]
    assert best[0].score == pytest.approx(float(expected))
    assert best[0].score > 1.0  # in cohort standard deviations, not a cosine
    assert np.allclose(normalised.similarities(probe), gallery.similarities(probe))
    assert normalised.normalisation == CohortNormalisation(type="snorm", cohort_size=5)
    assert gallery.normalisation is None


def test_subject_rows_take_each_subjects_best_template() -> None:
    templates = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]])
    gallery = Gallery.build(["a", "a", "b", "c", "d"], templates, fusion=Fusion.BEST)
    rows = gallery._subject_rows(0, 4)
    assert rows.shape == (4, 4)
    # a's templates are x and y; d is (y+z)/√2: a's best against d is y·d.
    assert rows[0, 3] == pytest.approx(1 / np.sqrt(2))
    assert rows[0, 0] == pytest.approx(1.0)


def test_normalisation_needs_a_few_subjects() -> None:
    gallery = Gallery.build(["a", "b", "c"], _unit([[1, 0], [0, 1], [1, 1]]))
    with pytest.raises(ValueError, match="at least 4 subjects"):
        gallery.with_normalisation(CohortNormalisation())


def test_engine_config_keeps_the_rule_measured_on_video_and_one_calibrated_unit() -> None:
    """REC-2: the engine runs raw cosine on plain descriptors (S-norm with flip
    augmentation lowered recall on the video clips), and the threshold stays on the one
    calibrated scale (a number of cohort standard deviations is refused)."""
    from pydantic import ValidationError

    from lfr.vision.describers import DlibDescriberConfig
    from lfr.vision.pipeline import EngineConfig

    assert EngineConfig().score_normalisation is None
    assert EngineConfig().describer == DlibDescriberConfig(mirror=False)
    with pytest.raises(ValidationError, match="not a calibrated score"):
        EngineConfig(alert_threshold=5.0)


def test_a_camera_worker_normalises_its_gallery_as_configured(video_dir: Path) -> None:
    from lfr.vision.pipeline import CameraWorker, Engine, EngineConfig
    from lfr.vision.sources import open_source

    rng = np.random.default_rng(2)
    gallery = Gallery.build(
        [f"s{i}" for i in range(40)], _unit(rng.standard_normal((40, 8)).tolist())
    )
    config = EngineConfig(score_normalisation=CohortNormalisation(cohort_size=200))
    source = open_source(str(video_dir / "short_hamilton_clip.mp4"), "test")
    try:
        worker = CameraWorker(source, Engine.from_config(config), gallery, config, lambda _: None)
    finally:
        source.close()
    assert worker.gallery.normalisation == config.score_normalisation
    assert gallery.normalisation is None  # the caller's gallery is left as it was
