"""Accuracy figures of a face recognition algorithm: exact, pure maths on score arrays.

Nothing here knows about images or models: the evaluation protocols (`lfr evaluate`)
and the equitability report (EQ-1: the same figures per demographic group) feed it
similarity scores (higher = more alike) and read back figures together with the counts
they rest on, so that a reader can always tell how many trials stand behind a rate.

Conventions, shared by every function:
- a comparison *accepts* (verification) or *alerts* (identification) when
  ``score >= threshold``;
- a threshold for a target false rate is chosen on the negatives alone and is the
  lowest one whose false count does not exceed ``floor(rate * n_negatives)``; ties at
  the boundary are rejected together, so the achieved rate is never above the target;
- a rate is *resolvable* when there are at least ``1 / rate`` negatives: below that,
  the threshold only says "above every negative seen" and the figure is reported but
  flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Scores = NDArray[np.float64]
Mask = NDArray[np.bool_]

DEFAULT_FAR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
DEFAULT_FPIR_TARGETS: tuple[float, ...] = (1e-1, 1e-2, 1e-3)


def _as_scores(values: Sequence[float] | NDArray[np.floating]) -> Scores:
    return np.asarray(values, dtype=np.float64).reshape(-1)


# --- thresholds for a target false rate ---------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold chosen for a target false rate and what it achieves on the negatives."""

    target_rate: float
    threshold: float
    false_count: int
    n_negatives: int
    resolvable: bool

    @property
    def achieved_rate(self) -> float:
        return self.false_count / self.n_negatives if self.n_negatives else math.nan


def threshold_for_false_rate(negatives: Scores, target_rate: float) -> OperatingPoint:
    """The lowest threshold at which at most ``floor(target_rate * n)`` negatives pass.

    `negatives` are the scores that must *not* pass (impostor comparisons, top scores of
    non-mated searches). With ``k`` allowed false passes the threshold sits just above
    the ``(k+1)``-th highest negative score, so every negative tied with it is rejected.
    """
    if not 0 < target_rate <= 1:
        raise ValueError(f"target rate must be in (0, 1], got {target_rate}")
    n = int(negatives.size)
    if n == 0:
        raise ValueError("no negative scores to set a threshold on")
    allowed = math.floor(target_rate * n + 1e-9)
    if allowed >= n:
        threshold = -math.inf
    else:
        descending = np.sort(negatives)[::-1]
        threshold = float(np.nextafter(descending[allowed], np.inf))
    false_count = int(np.count_nonzero(negatives >= threshold))
    return OperatingPoint(
        target_rate=target_rate,
        threshold=threshold,
        false_count=false_count,
        n_negatives=n,
        resolvable=n * target_rate >= 1 - 1e-9,
    )


# --- verification (1:1) --------------------------------------------------------------


@dataclass(frozen=True)
class FoldAccuracy:
    """One fold of a k-fold verification test: threshold chosen on the other folds."""

    fold: int
    threshold: float
    correct: int
    n_pairs: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n_pairs


@dataclass(frozen=True)
class KFoldAccuracy:
    folds: tuple[FoldAccuracy, ...]

    @property
    def mean(self) -> float:
        return float(np.mean([f.accuracy for f in self.folds]))

    @property
    def std(self) -> float:
        return float(np.std([f.accuracy for f in self.folds]))

    @property
    def correct(self) -> int:
        return sum(f.correct for f in self.folds)

    @property
    def n_pairs(self) -> int:
        return sum(f.n_pairs for f in self.folds)


def stratified_folds(is_same: Mask, n_folds: int = 10) -> NDArray[np.int64]:
    """Fold index per pair: the same-person pairs, in file order, cut into `n_folds`
    contiguous runs, and the different-person pairs likewise.

    LFW's pairs file lists its ten sets one after the other; a subset that keeps the
    file order but groups same-person pairs before different ones (as lfw-dev does) gets
    its original sets back approximately this way, and every fold holds both kinds.
    """
    folds = np.empty(is_same.size, dtype=np.int64)
    for kind in (True, False):
        positions = np.flatnonzero(is_same == kind)
        folds[positions] = np.arange(positions.size) * n_folds // max(positions.size, 1)
    return folds


def best_accuracy_threshold(scores: Scores, is_same: Mask) -> float:
    """The threshold that classifies most pairs correctly (same-person iff score >= t).

    Candidates are the midpoints between consecutive distinct scores plus one below the
    lowest and one above the highest; among equally good ones the lowest wins.
    """
    distinct = np.unique(scores)
    candidates = np.concatenate(
        ([distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1.0])
    )
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_same = scores[order], is_same[order]
    # For a candidate t, pairs below t are called "different": those are correct when
    # they are different pairs; pairs at/above t are correct when they are same pairs.
    below = np.searchsorted(sorted_scores, candidates, side="left")
    different_below = np.concatenate(([0], np.cumsum(~sorted_same)))[below]
    same_total = int(np.count_nonzero(is_same))
    same_above = same_total - np.concatenate(([0], np.cumsum(sorted_same)))[below]
    correct = different_below + same_above
    return float(candidates[int(np.argmax(correct))])


def kfold_accuracy(scores: Scores, is_same: Mask, folds: NDArray[np.int64]) -> KFoldAccuracy:
    """LFW's protocol: for each fold, choose the threshold on the others, test on it."""
    results = []
    for fold in np.unique(folds):
        test = folds == fold
        threshold = best_accuracy_threshold(scores[~test], is_same[~test])
        predicted_same = scores[test] >= threshold
        results.append(
            FoldAccuracy(
                fold=int(fold),
                threshold=threshold,
                correct=int(np.count_nonzero(predicted_same == is_same[test])),
                n_pairs=int(np.count_nonzero(test)),
            )
        )
    return KFoldAccuracy(folds=tuple(results))


@dataclass(frozen=True)
class TarAtFar:
    """True accept rate at a threshold set for a false accept rate (all-pairs)."""

    point: OperatingPoint
    true_accepts: int
    n_genuine: int

    @property
    def tar(self) -> float:
        return self.true_accepts / self.n_genuine if self.n_genuine else math.nan


def tar_at_far(
    genuine: Scores, impostor: Scores, far_targets: Sequence[float] = DEFAULT_FAR_TARGETS
) -> list[TarAtFar]:
    results = []
    for target in far_targets:
        point = threshold_for_false_rate(impostor, target)
        results.append(
            TarAtFar(
                point=point,
                true_accepts=int(np.count_nonzero(genuine >= point.threshold)),
                n_genuine=int(genuine.size),
            )
        )
    return results


def all_pairs_scores(
    descriptors: NDArray[np.float32], identities: Sequence[str]
) -> tuple[Scores, Scores]:
    """Cosine similarity of every unordered pair of distinct images, split into genuine
    (same identity) and impostor. Rows of `descriptors` must be L2-normalised."""
    return pair_scores(descriptors @ descriptors.T, identities)


def pair_scores(
    similarity: NDArray[np.floating], identities: Sequence[str]
) -> tuple[Scores, Scores]:
    """The upper triangle of an (images × images) score matrix, split into genuine
    (same identity) and impostor pairs."""
    if len(identities) != similarity.shape[0]:
        raise ValueError("one identity per descriptor row is needed")
    upper = np.triu_indices(similarity.shape[0], k=1)
    labels = np.unique(np.asarray(identities), return_inverse=True)[1]
    same = labels[upper[0]] == labels[upper[1]]
    scores = similarity[upper].astype(np.float64)
    return scores[same], scores[~same]


# --- open-set identification (1:N) ---------------------------------------------------


@dataclass(frozen=True)
class Searches:
    """The outcome of each search that an identification figure needs.

    Mated searches (the probe's identity is enrolled): the 1-based rank at which the
    mate came back (0 = not among the candidates) and its score (-inf when absent).
    Non-mated searches: the top candidate's score (-inf when the gallery returned none).
    """

    mated_identity: tuple[str, ...]
    mate_rank: NDArray[np.int64]
    mate_score: Scores
    nonmated_identity: tuple[str, ...]
    nonmated_top_score: Scores

    def __post_init__(self) -> None:
        mated = len(self.mated_identity)
        if self.mate_rank.shape != (mated,) or self.mate_score.shape != (mated,):
            raise ValueError("mated arrays must have one entry per mated search")
        if self.nonmated_top_score.shape != (len(self.nonmated_identity),):
            raise ValueError("non-mated scores must have one entry per non-mated search")

    @property
    def n_mated(self) -> int:
        return len(self.mated_identity)

    @property
    def n_nonmated(self) -> int:
        return len(self.nonmated_identity)

    def subset(self, mated: Mask, nonmated: Mask) -> Searches:
        return Searches(
            mated_identity=tuple(np.asarray(self.mated_identity, dtype=object)[mated]),
            mate_rank=self.mate_rank[mated],
            mate_score=self.mate_score[mated],
            nonmated_identity=tuple(np.asarray(self.nonmated_identity, dtype=object)[nonmated]),
            nonmated_top_score=self.nonmated_top_score[nonmated],
        )


def searches_from_candidates(
    mated: Sequence[tuple[str, Sequence[tuple[str, float]]]],
    nonmated: Sequence[tuple[str, Sequence[tuple[str, float]]]],
) -> Searches:
    """Build `Searches` from (probe identity, [(subject, score), ...] best first)."""
    ranks, scores = [], []
    for identity, candidates in mated:
        rank = next((i + 1 for i, (s, _) in enumerate(candidates) if s == identity), 0)
        ranks.append(rank)
        scores.append(candidates[rank - 1][1] if rank else -math.inf)
    tops = [candidates[0][1] if candidates else -math.inf for _, candidates in nonmated]
    return Searches(
        mated_identity=tuple(identity for identity, _ in mated),
        mate_rank=np.asarray(ranks, dtype=np.int64),
        mate_score=_as_scores(scores),
        nonmated_identity=tuple(identity for identity, _ in nonmated),
        nonmated_top_score=_as_scores(tops),
    )


@dataclass(frozen=True)
class RankAccuracy:
    rank: int
    hits: int
    n_mated: int

    @property
    def rate(self) -> float:
        return self.hits / self.n_mated if self.n_mated else math.nan


def rank_accuracy(searches: Searches, rank: int = 1) -> RankAccuracy:
    """Closed-set hit rate: mated searches whose mate came back within `rank`."""
    hits = (searches.mate_rank >= 1) & (searches.mate_rank <= rank)
    return RankAccuracy(rank=rank, hits=int(np.count_nonzero(hits)), n_mated=searches.n_mated)


@dataclass(frozen=True)
class IdentificationRates:
    """FPIR and FNIR at one threshold, with their counts.

    FNIR counts a mated search as missed unless its mate is the top candidate *and* its
    score reaches the threshold (NIST FRTE's FNIR at rank 1): an alert on the wrong
    person is no help to the mated case.
    """

    threshold: float
    false_positives: int
    n_nonmated: int
    false_negatives: int
    n_mated: int

    @property
    def fpir(self) -> float:
        return self.false_positives / self.n_nonmated if self.n_nonmated else math.nan

    @property
    def fnir(self) -> float:
        return self.false_negatives / self.n_mated if self.n_mated else math.nan


def rates_at_threshold(searches: Searches, threshold: float) -> IdentificationRates:
    hit = (searches.mate_rank == 1) & (searches.mate_score >= threshold)
    return IdentificationRates(
        threshold=threshold,
        false_positives=int(np.count_nonzero(searches.nonmated_top_score >= threshold)),
        n_nonmated=searches.n_nonmated,
        false_negatives=int(np.count_nonzero(~hit)),
        n_mated=searches.n_mated,
    )


@dataclass(frozen=True)
class FnirAtFpir:
    point: OperatingPoint
    rates: IdentificationRates


def fnir_at_fpir(
    searches: Searches, fpir_targets: Sequence[float] = DEFAULT_FPIR_TARGETS
) -> list[FnirAtFpir]:
    results = []
    for target in fpir_targets:
        point = threshold_for_false_rate(searches.nonmated_top_score, target)
        results.append(FnirAtFpir(point=point, rates=rates_at_threshold(searches, point.threshold)))
    return results


def det_points(searches: Searches, per_decade: int = 4) -> list[IdentificationRates]:
    """Points of the DET curve (FNIR against FPIR), one threshold per FPIR step.

    The FPIR steps are ``10 ** (-i / per_decade)`` from 1 down to the smallest rate the
    non-mated searches can resolve, plus the threshold above every non-mated score
    (FPIR 0); duplicate thresholds are dropped.
    """
    n = searches.n_nonmated
    if n == 0:
        return []
    smallest = 1 / n
    targets = []
    step = 0
    while (target := 10 ** (-step / per_decade)) >= smallest - 1e-12:
        targets.append(target)
        step += 1
    thresholds = [
        threshold_for_false_rate(searches.nonmated_top_score, t).threshold for t in targets
    ]
    thresholds.append(float(np.nextafter(searches.nonmated_top_score.max(), np.inf)))
    unique = sorted(set(thresholds))
    return [rates_at_threshold(searches, t) for t in unique]


# --- per-group figures (EQ-1) --------------------------------------------------------


def group_of(identities: Sequence[str], groups: Mapping[str, str]) -> NDArray[np.object_]:
    """The group of each identity (None where the labels do not name it)."""
    return np.asarray([groups.get(identity) for identity in identities], dtype=object)


def searches_by_group(searches: Searches, groups: Mapping[str, str]) -> dict[str, Searches]:
    """Split searches by the group of the probe's identity; unlabelled probes are left out."""
    mated_groups = group_of(searches.mated_identity, groups)
    nonmated_groups = group_of(searches.nonmated_identity, groups)
    return {
        group: searches.subset(mated_groups == group, nonmated_groups == group)
        for group in sorted(set(groups.values()))
    }


def pairs_by_group(
    first: Sequence[str], second: Sequence[str], groups: Mapping[str, str]
) -> dict[str, Mask]:
    """For each group, a mask of the pairs whose two identities both belong to it.

    Cross-group pairs belong to no group: demographic differentials are measured on
    impostors of the same group (NIST FRVT Part 3), where false matches are likeliest.
    """
    first_groups, second_groups = group_of(first, groups), group_of(second, groups)
    return {
        group: (first_groups == group) & (second_groups == group)
        for group in sorted(set(groups.values()))
    }


def searches_from_scores(
    scores: NDArray[np.floating],
    subject_ids: Sequence[str],
    probe_identities: Sequence[str],
    margin: float = 0.0,
) -> Searches:
    """Build `Searches` from a (probes × subjects) score matrix. A probe whose identity
    is one of `subject_ids` is mated; the others are non-mated. A mate tied with other
    subjects gets the best of the tied ranks; a mate scored -inf (e.g. a probe that was
    not searched) is not returned at all. With a `margin` (the decision rule's,
    `lfr.vision.decision.stands_out`), a search whose best subject does not stand that
    far above the second alerts on nobody: its mate, ranked first, and its non-mated top
    score are then -inf for every threshold (ranks are kept)."""
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.shape != (len(probe_identities), len(subject_ids)):
        raise ValueError(
            f"scores of shape {matrix.shape} for {len(probe_identities)} probes and "
            f"{len(subject_ids)} subjects"
        )
    column = {subject: j for j, subject in enumerate(subject_ids)}
    mate_column = np.array([column.get(identity, -1) for identity in probe_identities])
    mated = mate_column >= 0
    mated_rows = matrix[mated]
    mate_score = mated_rows[np.arange(mated_rows.shape[0]), mate_column[mated]]
    rank = 1 + np.count_nonzero(mated_rows > mate_score[:, None], axis=1)
    rank[np.isneginf(mate_score)] = 0
    nonmated_rows = matrix[~mated]
    top = (
        nonmated_rows.max(axis=1)
        if nonmated_rows.shape[1]
        else np.full(len(nonmated_rows), -np.inf)
    )
    contested_mate = (rank == 1) & ~standing_out(mated_rows, margin)
    identities = np.asarray(probe_identities, dtype=object)
    return Searches(
        mated_identity=tuple(identities[mated]),
        mate_rank=rank.astype(np.int64),
        mate_score=np.where((rank > 0) & ~contested_mate, mate_score, -np.inf),
        nonmated_identity=tuple(identities[~mated]),
        nonmated_top_score=np.where(standing_out(nonmated_rows, margin), top, -np.inf),
    )


def standing_out(rows: NDArray[np.float64], margin: float) -> NDArray[np.bool_]:
    """Per row of scores, whether its best stands `margin` above its second (a row of
    one subject always does): `lfr.vision.decision.stands_out` for a matrix."""
    if margin <= 0 or rows.shape[1] < 2:
        return np.ones(rows.shape[0], dtype=bool)
    best_two = -np.partition(-rows, 1, axis=1)[:, :2]
    with np.errstate(invalid="ignore"):  # an unsearched row: -inf less -inf
        gap = best_two[:, 0] - best_two[:, 1]
    return np.asarray(gap >= margin) | np.isneginf(best_two[:, 1])
