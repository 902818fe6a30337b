"""Cohort score normalisation for 1:N search (REC-2): how far a score stands out.

A raw cosine similarity says how alike two faces are, but not how *unusually* alike: some
probes (small, blurred, an "average" face) score high against everybody, and some
watchlist photographs attract high scores from everybody. Cohort normalisation
re-expresses each score against the scores around it:

- T-norm (per probe): ``(s - mean) / std`` of the probe's runner-up scores — its scores
  ranked 2 … cohort_size+1 over the watchlist (the best is left out: it may be the mate);
- Z-norm (per subject): ``(s - mean_j) / std_j`` of subject j's scores against its
  cohort_size most similar *other* watchlist subjects (computed once, at enrolment);
- S-norm: the mean of the two.

Measured on lfw-dev with `lfr evaluate identification` (1,000 enrolled, 4,875 mated and
2,416 non-mated probes, dlib ResNet): S-norm with a cohort of 200 lowers FNIR at FPIR 1%
from 42.8% to 30.0% and at FPIR 0.1% from 67.1% to 54.5%, at the same rank-1 (94.3% →
94.5%); see docs/evaluation.md. It is an option of the engine
(`EngineConfig.score_normalisation`), not its default: on the video clips it lowered
recall, and on lfw-dev it misses women far more often than men. The cohort is the
watchlist itself, so nothing beyond the watchlist is stored. A normalised score is in
units of cohort standard deviations; the engine puts it back on the calibrated reference
scale (`lfr.vision.calibration`), so the alert threshold keeps one meaning whichever rule
runs. A watchlist of fewer than `min_subjects` subjects has too small a cohort: it is
searched with raw cosine similarities (the reference scale itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

Matrix = NDArray[np.float64]

_EPSILON = 1e-6


class CohortNormalisation(BaseModel):
    """How scores are normalised against their cohort (see the module's text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["tnorm", "znorm", "snorm"] = Field(
        default="snorm",
        description=(
            "tnorm: against the probe's runner-up scores; znorm: against each subject's "
            "scores with the rest of the watchlist; snorm: the mean of both (best measured)."
        ),
    )
    cohort_size: int = Field(
        default=200,
        ge=2,
        le=10_000,
        description=(
            "Scores in each cohort. Measured on lfw-dev (1,000 subjects): 100–300 are "
            "equally good; 20 is noisy (worse than none at FPIR 0.1%), and the whole "
            "watchlist is far worse (the bulk of low scores says nothing about the top). "
            "A watchlist smaller than cohort_size + 2 uses all other subjects."
        ),
    )
    min_subjects: int = Field(
        default=30,
        ge=4,
        description=(
            "Fewest watchlist subjects for which the rule runs; a smaller watchlist is "
            "searched with raw cosine similarities (on lfw-dev a cohort of 20 was already "
            "noisier than 50, and a handful of subjects is no cohort at all)."
        ),
    )

    @property
    def rule(self) -> str:
        """The rule's name in a calibration (`lfr.vision.calibration`): type and cohort."""
        return f"{self.type}-{self.cohort_size}"

    def applies_to(self, n_subjects: int) -> bool:
        return n_subjects >= self.min_subjects


def top_cohort_stats(scores: Matrix, cohort_size: int, skip: int) -> tuple[Matrix, Matrix]:
    """Mean and std (as columns) of each row's scores ranked skip+1 … skip+cohort_size."""
    n_columns = scores.shape[1]
    take = min(skip + cohort_size, n_columns)
    if take - skip < 2:
        raise ValueError(f"a cohort needs at least 2 scores; only {n_columns} subjects enrolled")
    top = -np.sort(-np.partition(scores, n_columns - take, axis=1)[:, n_columns - take :], axis=1)
    cohort = top[:, skip:take]
    return cohort.mean(axis=1, keepdims=True), cohort.std(axis=1, keepdims=True)


def tnorm(scores: Matrix, cohort_size: int) -> Matrix:
    """Per-probe cohort normalisation of a (probes × subjects) score matrix (or of a set
    of columns holding each probe's best cohort_size + 1 subjects)."""
    mean, std = top_cohort_stats(scores, cohort_size, skip=1)
    return (scores - mean) / np.maximum(std, _EPSILON)


def znorm(
    scores: Matrix, subject_mean: NDArray[np.float64], subject_std: NDArray[np.float64]
) -> Matrix:
    """Per-subject cohort normalisation: ``(s - mean_j) / std_j`` for column j (the
    statistics' shape broadcasts against `scores`)."""
    return (scores - subject_mean) / np.maximum(subject_std, _EPSILON)


SubjectRows = Callable[[int, int], Matrix]
"""rows(a, b): the (b - a) × subjects similarities of subjects a … b-1 to every subject."""


def fit_subject_stats(
    n_subjects: int, rows: SubjectRows, cohort_size: int, chunk: int = 1024
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each subject's cohort statistics, computed `chunk` subjects at a time, so that a
    large watchlist never holds its whole subjects × subjects matrix (10k subjects would
    be 800 MB)."""
    means, stds = [], []
    for start in range(0, n_subjects, chunk):
        stop = min(start + chunk, n_subjects)
        block = rows(start, stop).astype(np.float64, copy=True)
        block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not with itself
        mean, std = top_cohort_stats(block, cohort_size, skip=0)
        means.append(mean[:, 0])
        stds.append(std[:, 0])
    return np.concatenate(means), np.concatenate(stds)


class CohortNormaliser:
    """A normalisation fitted to one watchlist: holds each subject's cohort statistics."""

    def __init__(self, config: CohortNormalisation, n_subjects: int, rows: SubjectRows) -> None:
        if n_subjects < 4:
            raise ValueError(f"cohort normalisation needs at least 4 subjects, got {n_subjects}")
        self.config = config
        self._cohort_size = min(config.cohort_size, n_subjects - 2)
        self._mean, self._std = fit_subject_stats(n_subjects, rows, self._cohort_size)

    @property
    def cohort_size(self) -> int:
        """The cohort actually used (the configured one, or all other subjects)."""
        return self._cohort_size

    def apply(self, scores: Matrix) -> Matrix:
        """Normalise a (probes × subjects) matrix of raw similarities."""
        return self.apply_to_columns(scores, None)

    def apply_to_columns(self, scores: Matrix, columns: NDArray[np.intp] | None) -> Matrix:
        """Normalise raw similarities where `scores[i, j]` is probe i's score with subject
        `columns[i, j]` (None: subject j). Each row must hold the probe's best
        cohort_size + 1 subjects (its T-norm cohort): a screened search re-scores at
        least those."""
        kind = self.config.type
        if kind == "tnorm":
            return tnorm(scores, self._cohort_size)
        if columns is None:
            mean, std = self._mean[None, :], self._std[None, :]
        else:
            mean, std = self._mean[columns], self._std[columns]
        z = znorm(scores, mean, std)
        if kind == "znorm":
            return z
        return (tnorm(scores, self._cohort_size) + z) / 2
