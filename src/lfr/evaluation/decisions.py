"""Decision rules on top of any model's scores, measured by `lfr evaluate identification`.

Each works on a matrix of cosine similarities (probes × enrolled subjects) and returns
one of the same shape, so that the identification figures are computed the same way
with and without it:

- cohort normalisation (T-norm, per probe): a probe's score for a subject is
  re-expressed as how far it stands above the probe's *cohort* — the next-best scores
  the same probe gets from the other enrolled subjects. A face that resembles
  everybody a little (poor quality, an "average" face) gets high raw scores everywhere
  and a low normalised one; a true mate stands out from its cohort;
- cohort normalisation per template (Z-norm): each enrolled subject's scores are
  re-expressed against how that subject scores with the rest of the watchlist (some
  templates attract high scores from everybody);
- S-norm: the mean of the two — the best of them on lfw-dev;
- quality gating: probes below a quality score are not searched at all (a gated
  mated probe is a miss, a gated non-mated probe raises no alert).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]

_EPSILON = 1e-6


def _top_cohort_stats(scores: Matrix, cohort_size: int, skip: int) -> tuple[Matrix, Matrix]:
    """Mean and std of each row's scores ranked skip+1 … skip+cohort_size (as columns)."""
    n_columns = scores.shape[1]
    take = min(skip + cohort_size, n_columns)
    if take - skip < 2:
        raise ValueError(f"a cohort needs at least 2 scores; only {n_columns} subjects enrolled")
    top = -np.sort(-np.partition(scores, n_columns - take, axis=1)[:, n_columns - take :], axis=1)
    cohort = top[:, skip:take]
    return cohort.mean(axis=1, keepdims=True), cohort.std(axis=1, keepdims=True)


def tnorm(scores: Matrix, cohort_size: int = 50) -> Matrix:
    """Per-probe cohort normalisation: ``(s - mean) / std`` of the probe's scores ranked
    2 … cohort_size+1 (the best is left out: it may be the mate)."""
    mean, std = _top_cohort_stats(scores, cohort_size, skip=1)
    return (scores - mean) / np.maximum(std, _EPSILON)


def subject_cohort_stats(
    subject_scores: Matrix, cohort_size: int = 50
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each enrolled subject's cohort statistics, from the (subjects × subjects) matrix of
    best-template similarities between enrolled subjects; the diagonal (a subject with
    itself) is left out."""
    off_diagonal = subject_scores.astype(np.float64, copy=True)
    np.fill_diagonal(off_diagonal, -np.inf)
    mean, std = _top_cohort_stats(off_diagonal, cohort_size, skip=0)
    return mean[:, 0], std[:, 0]


def znorm(
    scores: Matrix, subject_mean: NDArray[np.float64], subject_std: NDArray[np.float64]
) -> Matrix:
    """Per-subject cohort normalisation: ``(s - mean_j) / std_j`` for column j."""
    return (scores - subject_mean[None, :]) / np.maximum(subject_std[None, :], _EPSILON)


def snorm(
    scores: Matrix,
    subject_mean: NDArray[np.float64],
    subject_std: NDArray[np.float64],
    cohort_size: int = 50,
) -> Matrix:
    """Symmetric normalisation: the mean of T-norm (the probe's cohort) and Z-norm (the
    subject's cohort), so that a score must stand out from both to count."""
    return (tnorm(scores, cohort_size) + znorm(scores, subject_mean, subject_std)) / 2


def gate_by_quality(
    scores: Matrix, quality: NDArray[np.float64], minimum: float
) -> tuple[Matrix, NDArray[np.bool_]]:
    """Rows of probes whose quality is below `minimum` become -inf (never alert, never
    hit); returns the gated matrix and the mask of probes kept."""
    kept = quality >= minimum
    gated = scores.copy()
    gated[~kept] = -np.inf
    return gated, kept
