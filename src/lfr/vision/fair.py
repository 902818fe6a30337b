"""Fair score normalisation with clusters fitted once, on a cohort (REC-2, EQ-1).

Terhörst et al. (IJCB 2020): some kinds of face score higher against strangers than
others, so one threshold gives them more false matches. Fair score normalisation needs
no demographic label: face descriptors are clustered (spherical k-means, unlabelled), each
cluster gets the threshold at which its own impostor comparisons reach a target
false-match rate, and every score is lowered by the mean of its two faces' cluster
offsets from the global threshold (``s - (offset[probe] + offset[subject]) / 2``).

Fitted on the watchlist itself, the rule did nothing below about 500 subjects (a cluster
needs about 10,000 impostor comparisons to resolve FMR 1e-3) and changed with every
watchlist. Here the clusters and their offsets are fitted **once, on a cohort** of a
public evaluation set, and ship with the model's calibration (`FairCohort` in
`lfr.vision.calibration`): a watchlist of 5 subjects or of 10,000 is normalised the same
way. What ships is the clusters' centroids and offsets only: every centroid is the mean of
at least `MIN_CLUSTER_IDENTITIES` people's descriptors (smaller clusters are dissolved into
their neighbours), so no description of any individual ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

Matrix = NDArray[np.float64]

FAIR_FMR = 1e-3
"""The FMR at which the cluster thresholds are set (Terhörst et al. set them at the
operating FMR; 1e-3 leaves tens of impostor scores per cluster)."""

MIN_CLUSTER_IDENTITIES = 20
"""Fewest distinct people a cluster may hold: its centroid, which ships, is then an
average of many faces, never one person's."""

MIN_FALSE = 10
"""A cluster whose comparisons would give fewer false matches than this at the target
FMR cannot resolve its threshold: it keeps offset 0."""


class OffsetPairs(StrEnum):
    """Which impostor comparisons set a cluster's threshold."""

    TOUCHING = "touching"
    """Every comparison with at least one of its faces: most are with other clusters."""
    WITHIN = "within"
    """Comparisons of two of its own faces: those that decide its false matches at a
    high threshold."""


class FairCohort(BaseModel):
    """Fair normalisation's clusters, fitted on a cohort: what ships (figures only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(description="The description (`Description.name`) fitted on.")
    dataset: str = Field(description="The cohort: a public evaluation set and its part.")
    identities: int = Field(ge=1, description="People in the cohort.")
    false_match_rate: float = Field(gt=0, lt=1, description="FMR of the cluster thresholds.")
    centroids: tuple[tuple[float, ...], ...] = Field(
        description="Unit centroids, each the mean of at least MIN_CLUSTER_IDENTITIES people."
    )
    offsets: tuple[float, ...] = Field(
        description="Each cluster's threshold at the FMR minus the global one (0: unresolved)."
    )
    offset_pairs: OffsetPairs = Field(
        default=OffsetPairs.TOUCHING,
        description="Which impostor comparisons set each cluster's threshold.",
    )

    def centroid_matrix(self) -> NDArray[np.float32]:
        return np.asarray(self.centroids, dtype=np.float32)

    def offsets_of(self, descriptors: NDArray[np.floating]) -> Matrix:
        """The offset of each unit descriptor's nearest cluster."""
        nearest = np.argmax(np.asarray(descriptors, np.float32) @ self.centroid_matrix().T, axis=1)
        offsets: Matrix = np.asarray(self.offsets, dtype=np.float64)[nearest]
        return offsets


def fair_shift(scores: Matrix, probe_offsets: Matrix, subject_offsets: Matrix) -> Matrix:
    """`scores` (probes × subjects, or × the columns the offsets name) lowered by the
    mean of each probe's and each subject's cluster offset."""
    shifted: Matrix = scores - 0.5 * (probe_offsets[:, None] + subject_offsets)
    return shifted


def kmeans(points: NDArray[np.floating], k: int, seed: int = 0, iterations: int = 25) -> Matrix:
    """Spherical k-means of unit rows: `k` unit centroids (seeded, so reproducible)."""
    rows = np.asarray(points, dtype=np.float64)
    rng = np.random.default_rng(seed)
    centroids = rows[rng.choice(len(rows), size=min(k, len(rows)), replace=False)].copy()
    for _ in range(iterations):
        nearest = np.argmax(rows @ centroids.T, axis=1)
        for c in range(len(centroids)):
            members = rows[nearest == c]
            if len(members):
                centroids[c] = _unit(members.mean(axis=0))
    return centroids


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    unit: NDArray[np.float64] = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return unit


def merge_small_clusters(
    points: Matrix, identities: Sequence[str], centroids: Matrix, min_identities: int
) -> Matrix:
    """Dissolve clusters of fewer than `min_identities` distinct people, smallest first,
    each time moving their points to the nearest remaining cluster and re-centring."""
    people = np.asarray(identities, dtype=object)
    kept = centroids.copy()
    while len(kept) > 1:
        nearest = np.argmax(points @ kept.T, axis=1)
        sizes = np.array([len(set(people[nearest == c])) for c in range(len(kept))])
        smallest = int(np.argmin(sizes))
        if sizes[smallest] >= min_identities:
            break
        kept = np.delete(kept, smallest, axis=0)
        nearest = np.argmax(points @ kept.T, axis=1)
        kept = np.stack(
            [
                _unit(points[nearest == c].mean(axis=0)) if np.any(nearest == c) else kept[c]
                for c in range(len(kept))
            ]
        )
    return kept


def cluster_offsets(
    points: Matrix,
    identities: Sequence[str],
    centroids: Matrix,
    fmr: float = FAIR_FMR,
    min_false: float = MIN_FALSE,
    pairs: OffsetPairs = OffsetPairs.TOUCHING,
) -> NDArray[np.float64]:
    """Each cluster's threshold at `fmr` minus the global one, over the impostor
    comparisons of the cohort (every pair of points of two different people; a cluster's
    own comparisons are those `pairs` names: with at least one of its points, or with
    both)."""
    people = np.unique(np.asarray(identities, dtype=object), return_inverse=True)[1]
    cluster = np.argmax(points @ centroids.T, axis=1)
    scores = (points @ points.T).astype(np.float32)
    upper = np.triu(np.ones(scores.shape, dtype=bool), 1) & (people[:, None] != people[None, :])
    overall = float(np.quantile(scores[upper], 1 - fmr))
    offsets = np.zeros(len(centroids))
    for c in range(len(centroids)):
        members = cluster == c
        if pairs is OffsetPairs.WITHIN:
            own = upper & members[:, None] & members[None, :]
        else:
            own = upper & (members[:, None] | members[None, :])
        values = scores[own]
        if values.size * fmr >= min_false:
            offsets[c] = float(np.quantile(values, 1 - fmr)) - overall
    return offsets


def fit_fair_cohort(
    descriptors: NDArray[np.floating],
    identities: Sequence[str],
    *,
    clusters: int,
    description: str,
    dataset: str,
    fmr: float = FAIR_FMR,
    min_identities: int = MIN_CLUSTER_IDENTITIES,
    seed: int = 0,
    pairs: OffsetPairs = OffsetPairs.TOUCHING,
) -> FairCohort:
    """Fair normalisation's clusters and offsets fitted on a cohort's unit descriptors
    (one row per image, `identities[i]` the person of row i)."""
    if len(descriptors) != len(identities):
        raise ValueError(f"{len(identities)} identities for {len(descriptors)} descriptors")
    people = len(set(identities))
    if people < 2 * min_identities:
        raise ValueError(
            f"a cohort of {people} people is too small: at least {2 * min_identities} needed"
        )
    points = np.asarray(descriptors, dtype=np.float64)
    points = points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    centroids = merge_small_clusters(
        points, identities, kmeans(points, clusters, seed), min_identities
    )
    offsets = cluster_offsets(points, identities, centroids, fmr, pairs=pairs)
    return FairCohort(
        description=description,
        dataset=dataset,
        identities=people,
        false_match_rate=fmr,
        centroids=tuple(tuple(float(v) for v in row) for row in centroids),
        offsets=tuple(float(v) for v in offsets),
        offset_pairs=pairs,
    )
