"""Decision rules on top of any model's scores that live in the evaluation only.

Cohort score normalisation, which helped, lives in the engine
(`lfr.vision.normalisation`, `Gallery.with_normalisation`). Measured here only, because
they did not help on lfw-dev (docs/evaluation.md):

- quality gating of probes: probes below a quality score are not searched at all (a
  gated mated probe is a miss, a gated non-mated probe raises no alert);
- fair score normalisation (Terhörst et al., IJCB 2020), a mitigation of demographic
  differentials that needs no demographic label: the watchlist's templates are
  clustered (k-means, unlabelled), each cluster gets the threshold at which its own
  impostor comparisons (template against template, all different people) reach a
  target FMR, and every score is shifted by the mean of its probe's and its subject's
  cluster offsets from the global threshold.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]

FAIR_FMR = 1e-3
"""The FMR at which fair normalisation's cluster thresholds are set (Terhörst et al.
set them at the operating FMR; 1e-3 leaves tens of impostor scores per cluster)."""


def gate_by_quality(
    scores: Matrix, quality: NDArray[np.float64], minimum: float
) -> tuple[Matrix, NDArray[np.bool_]]:
    """Rows of probes whose quality is below `minimum` become -inf (never alert, never
    hit); returns the gated matrix and the mask of probes kept."""
    kept = quality >= minimum
    gated = scores.copy()
    gated[~kept] = -np.inf
    return gated, kept


def kmeans(points: Matrix, k: int, seed: int = 0, iterations: int = 25) -> Matrix:
    """Spherical k-means of unit rows: `k` unit centroids (seeded, so reproducible)."""
    rng = np.random.default_rng(seed)
    centroids = points[rng.choice(len(points), size=min(k, len(points)), replace=False)]
    for _ in range(iterations):
        nearest = np.argmax(points @ centroids.T, axis=1)
        for c in range(len(centroids)):
            members = points[nearest == c]
            if len(members):
                mean = members.mean(axis=0)
                centroids[c] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return centroids


def cluster_offsets(
    among: Matrix,
    template_cluster: NDArray[np.intp],
    n_clusters: int,
    fmr: float = FAIR_FMR,
    min_false: float = 10,
) -> NDArray[np.float64]:
    """Each cluster's threshold at `fmr` minus the global one, from `among` (the
    subjects' scores against each other, each subject a probe; the diagonal is
    ignored). A cluster whose comparisons would give fewer than `min_false` false
    matches at `fmr` is too small to resolve it: it keeps offset 0."""
    upper = np.triu_indices(len(among), 1)
    scores = among[upper]
    first, second = template_cluster[upper[0]], template_cluster[upper[1]]
    overall = float(np.quantile(scores, 1 - fmr))
    offsets = np.zeros(n_clusters)
    for c in range(n_clusters):
        own = scores[(first == c) | (second == c)]
        if own.size * fmr >= min_false:
            offsets[c] = float(np.quantile(own, 1 - fmr)) - overall
    return offsets


def fair_normalisation(
    scores: Matrix,
    probes: Matrix,
    templates: Matrix,
    among: Matrix,
    clusters: int,
    seed: int = 0,
    fmr: float = FAIR_FMR,
    min_false: float = 10,
) -> Matrix:
    """`scores` (probes × subjects) shifted by fair score normalisation: clusters of the
    unit `templates` (one per subject), offsets from `among` (the subjects' own scores
    against each other under the same rule), probes assigned to their nearest cluster."""
    centroids = kmeans(templates, clusters, seed)
    template_cluster = np.argmax(templates @ centroids.T, axis=1)
    probe_cluster = np.argmax(probes @ centroids.T, axis=1)
    offsets = cluster_offsets(among, template_cluster, len(centroids), fmr, min_false)
    shift: Matrix = 0.5 * (offsets[probe_cluster][:, None] + offsets[template_cluster][None, :])
    return scores - shift
