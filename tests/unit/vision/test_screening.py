"""Screened search of large galleries gives the exact search's results (REC-2).

The screen's size threshold is lowered so that a 50k-template gallery is screened; the
same gallery searched exactly is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from lfr.vision.matcher import Fusion, Gallery
from lfr.vision.normalisation import CohortNormalisation
from lfr.vision.screening import ScreenIndex, Screening

DIMENSION = 128
SCREENED = Screening(min_templates=1_000, candidates=64)
EXACT = Screening(min_templates=10_000_000)


def _unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _random_unit(count: int, rng: np.random.Generator) -> NDArray[np.float32]:
    return _unit(rng.standard_normal((count, DIMENSION), dtype=np.float32))


@pytest.fixture(scope="module")
def planted() -> tuple[list[str], NDArray[np.float32], NDArray[np.float32]]:
    """50k random templates, and 40 probes each with a near-duplicate planted among them
    (cosine about 0.9), plus 20 probes with no mate."""
    rng = np.random.default_rng(11)
    templates = _random_unit(50_000, rng)
    probes = _random_unit(60, rng)
    mates = rng.choice(len(templates), size=40, replace=False)
    templates[mates] = _unit(probes[:40] + 0.25 * _random_unit(40, rng))
    return [f"s{i}" for i in range(len(templates))], templates, probes


def _same_results(screened: Gallery, exact: Gallery, probes: NDArray[np.float32], k: int) -> None:
    for got, want in zip(screened.search(probes, k=k), exact.search(probes, k=k), strict=True):
        assert [c.subject_id for c in got] == [c.subject_id for c in want]
        assert [c.score for c in got] == pytest.approx([c.score for c in want], rel=1e-5, abs=1e-6)


def test_screened_search_returns_the_exact_top_matches_and_scores(
    planted: tuple[list[str], NDArray[np.float32], NDArray[np.float32]],
) -> None:
    subjects, templates, probes = planted
    screened = Gallery.build(subjects, templates, screening=SCREENED)
    exact = Gallery.build(subjects, templates, screening=EXACT)
    assert screened.screened
    assert not exact.screened
    _same_results(screened, exact, probes, k=5)
    # Each planted near-duplicate is found first, with its exact cosine.
    for probe, [best, *_] in zip(probes[:40], screened.search(probes[:40], k=5), strict=True):
        row = subjects.index(best.subject_id)
        assert best.score == pytest.approx(float(templates[row] @ probe), abs=1e-6)
        assert best.score > 0.8


def test_the_default_keeps_small_galleries_exact() -> None:
    rng = np.random.default_rng(3)
    gallery = Gallery.build(["a", "b", "c"], _random_unit(3, rng))
    assert not gallery.screened
    assert Gallery.build(["a"], _random_unit(1, rng), screening=SCREENED).screened is False


def test_k_beyond_the_candidates_widens_the_candidate_set(
    planted: tuple[list[str], NDArray[np.float32], NDArray[np.float32]],
) -> None:
    subjects, templates, probes = planted
    exact = Gallery.build(subjects, templates, screening=EXACT)
    few = exact.with_screening(Screening(min_templates=1_000, candidates=3))
    assert few.screened
    cosines = probes[:40] @ templates.T
    for row, (got, want) in enumerate(
        zip(few.search(probes[:40], k=10), exact.search(probes[:40], k=10), strict=True)
    ):
        # k subjects come back although k exceeds the candidates, each with its exact
        # score; with a candidate set only k wide the order of the random runners-up may
        # differ from exact search, but the planted best match is found.
        assert len({c.subject_id for c in got}) == 10
        assert got[0].subject_id == want[0].subject_id
        for candidate in got:
            column = subjects.index(candidate.subject_id)
            assert candidate.score == pytest.approx(float(cosines[row, column]), abs=1e-6)


def test_subjects_with_several_templates_score_by_their_best_one() -> None:
    rng = np.random.default_rng(5)
    templates = _random_unit(3_000, rng)
    owners = [f"s{i % 700}" for i in range(len(templates))]  # 4–5 templates per subject
    probes = _random_unit(10, rng)
    # Subject s42's *weakest-looking* template is a near-duplicate of probe 0: the exact
    # re-scoring must look at all of a candidate's templates.
    templates[42] = _unit(probes[:1] + 0.1 * _random_unit(1, rng))[0]
    screened = Gallery.build(owners, templates, screening=SCREENED, fusion=Fusion.BEST)
    exact = Gallery.build(owners, templates, screening=EXACT, fusion=Fusion.BEST)
    _same_results(screened, exact, probes, k=5)
    assert screened.search(probes[:1], k=1)[0][0].subject_id == "s42"
    # Every subject asked for: the candidates are all subjects.
    _same_results(screened, exact, probes[:2], k=700)


def test_screened_search_composes_with_cohort_normalisation() -> None:
    rng = np.random.default_rng(9)
    templates = _random_unit(4_000, rng)
    probes = _random_unit(20, rng)
    templates[:10] = _unit(probes[:10] + 0.3 * _random_unit(10, rng))
    subjects = [f"s{i}" for i in range(len(templates))]
    for kind in ("tnorm", "znorm", "snorm"):
        config = CohortNormalisation(type=kind, cohort_size=50)
        exact = Gallery.build(subjects, templates, screening=EXACT).with_normalisation(config)
        screened = exact.with_screening(SCREENED)
        assert screened.screened
        assert screened.normalisation == config
        _same_results(screened, exact, probes, k=5)


def test_screen_scores_are_close_to_the_cosines() -> None:
    rng = np.random.default_rng(1)
    templates = _random_unit(2_000, rng)
    probes = _random_unit(5, rng)
    screen = ScreenIndex(templates)
    error = np.abs(screen.scores(probes) - probes @ templates.T)
    assert screen.components == DIMENSION  # isotropic data: nothing to drop
    assert float(error.max()) < 0.02


def test_the_screen_drops_dimensions_the_templates_do_not_use() -> None:
    rng = np.random.default_rng(2)
    # Templates spanning only 40 of 128 dimensions (real descriptors span a subspace too).
    basis = np.linalg.qr(rng.standard_normal((DIMENSION, 40)))[0].astype(np.float32)
    templates = _unit(rng.standard_normal((2_000, 40), dtype=np.float32) @ basis.T)
    screen = ScreenIndex(templates)
    assert screen.components <= 41
    probes = _random_unit(5, rng)
    assert float(np.abs(screen.scores(probes) - probes @ templates.T).max()) < 0.02


def test_screening_settings_are_bounded() -> None:
    with pytest.raises(ValueError, match="candidates"):
        Screening(candidates=0)
    with pytest.raises(ValueError, match="extra"):
        Screening.model_validate({"candidate": 5})
