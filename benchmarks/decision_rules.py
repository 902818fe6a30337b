"""Decision rules tried on top of the descriptors, and not kept (docs/evaluation.md).

On lfw-dev's identification protocol (first image of each identity with two or more
enrolled, the rest mated probes, one-image identities non-mated probes), FNIR at FPIR
10%, 1% and 0.1% and rank-1 for: S-norm with other cohort splits and other weights of its
T- and Z-parts, S-norm minus a share of
the runner-up's score, the watchlist's mean subtracted or its PCA whitening before
S-norm, and trained back ends (WCCN, LDA) fitted on the identities of one half of
lfw-dev and tested on the other half (both ways round), against the same halves
without a back end. Descriptors (flip augmentation on, one chip) come from the evaluation
cache, which `lfr evaluate identification --chip-paddings 0.25` fills.

    PYTHONPATH=src python -m benchmarks.decision_rules
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks import shared_data_dir
from lfr.evaluation import metrics
from lfr.evaluation.datasets import identity_images
from lfr.evaluation.descriptors import build_evaluation_describer
from lfr.vision.decision import Description
from lfr.vision.describers import DlibDescriberConfig
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.landmarks import CHIP_PADDING
from lfr.vision.normalisation import fit_subject_stats, tnorm, znorm

Matrix = NDArray[np.float64]
Transform = Callable[[Matrix], Matrix]


def _unit(matrix: Matrix) -> Matrix:
    unit: Matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


class Protocol:
    """The identification split of some identities, on a descriptor matrix."""

    def __init__(self, rows: dict[str, list[int]], names: Sequence[str] | None = None) -> None:
        chosen = rows if names is None else {n: rows[n] for n in names}
        self.subjects = [n for n, r in chosen.items() if len(r) >= 2]
        self.gallery = [chosen[n][0] for n in self.subjects]
        probes = [(n, i) for n in self.subjects for i in chosen[n][1:]]
        probes += [(n, r[0]) for n, r in chosen.items() if len(r) == 1]
        self.probe_names = [n for n, _ in probes]
        self.probes = [i for _, i in probes]

    def figures(self, scores: Matrix) -> str:
        searches = metrics.searches_from_scores(scores, self.subjects, self.probe_names)
        fnir = [r.rates.fnir for r in metrics.fnir_at_fpir(searches, (0.1, 0.01, 0.001))]
        rank1 = metrics.rank_accuracy(searches, 1).rate
        return f"{rank1:8.2%} {fnir[0]:8.2%} {fnir[1]:8.2%} {fnir[2]:8.2%}"


def snorm(
    gallery: Matrix,
    probes: Matrix,
    t_cohort: int = 200,
    z_cohort: int = 200,
    t_weight: float = 0.5,
) -> Matrix:
    scores = probes @ gallery.T
    among = gallery @ gallery.T
    mean, std = fit_subject_stats(len(gallery), lambda a, b: among[a:b], z_cohort)
    t_part, z_part = tnorm(scores, t_cohort), znorm(scores, mean[None], std[None])
    normalised: Matrix = t_weight * t_part + (1 - t_weight) * z_part
    return normalised


def _centre(gallery: Matrix) -> Transform:
    mean = gallery.mean(axis=0)
    return lambda x: _unit(x - mean)


def _whiten(gallery: Matrix, regularise: float) -> Transform:
    mean = gallery.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov((gallery - mean).T))
    scale = 1 / np.sqrt(values + regularise * values.max())
    matrix = vectors @ np.diag(scale) @ vectors.T
    return lambda x: _unit((x - mean) @ matrix)


def _scatter(x: Matrix, labels: Sequence[str]) -> tuple[Matrix, Matrix, NDArray[np.float64]]:
    mean = x.mean(axis=0)
    within, between = np.zeros((x.shape[1],) * 2), np.zeros((x.shape[1],) * 2)
    names = np.asarray(labels)
    for name in set(labels):
        members = x[names == name]
        centre = members.mean(axis=0)
        within += (members - centre).T @ (members - centre)
        between += len(members) * np.outer(centre - mean, centre - mean)
    return within / len(x), between / len(x), mean


def _backend(x: Matrix, labels: Sequence[str], kind: str, regularise: float) -> Transform:
    """WCCN (the within-class covariance's inverse square root, Cholesky) or LDA
    (the between-class directions after whitening the within-class scatter)."""
    within, between, mean = _scatter(x, labels)
    within += regularise * np.trace(within) / len(within) * np.eye(len(within))
    if kind == "wccn":
        matrix = np.linalg.cholesky(np.linalg.inv(within))
    else:
        values, vectors = np.linalg.eigh(within)
        half = vectors @ np.diag(values**-0.5) @ vectors.T
        spread, directions = np.linalg.eigh(half @ between @ half)
        matrix = half @ directions[:, np.argsort(-spread)][:, : int(kind[3:])]
    return lambda y: _unit((_unit(y) - mean) @ matrix)


def _load() -> tuple[Matrix, dict[str, list[int]]]:
    images = shared_data_dir() / "lfw-dev" / "images"
    people = identity_images(images)
    paths: list[Path] = [p for ps in people.values() for p in ps]
    # Flip-augmented descriptors on one chip: the setup the rules below were measured on.
    describer, _ = build_evaluation_describer(
        HogDetectorConfig(upsample=1),
        DlibDescriberConfig(mirror=False),
        description=Description(mirror=True, chip_paddings=(CHIP_PADDING,)),
    )
    described = describer.describe_all(paths)
    rows: dict[str, list[int]] = {}
    for index, path in enumerate(paths):
        rows.setdefault(path.parent.name, []).append(index)
    matrix = np.stack([d.descriptor for d in described if d.descriptor is not None])
    return _unit(matrix.astype(np.float64)), rows


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    x, rows = _load()
    print(f"{'rule':60s} {'rank-1':>8s} {'@10%':>8s} {'@1%':>8s} {'@0.1%':>8s}")
    whole = Protocol(rows)
    gallery, probes = x[whole.gallery], x[whole.probes]
    print(f"{'raw cosine':60s} {whole.figures(probes @ gallery.T)}")
    for t_cohort, z_cohort in ((200, 200), (50, 200), (100, 200), (200, 100), (200, 400)):
        label = f"S-norm, T cohort {t_cohort}, Z cohort {z_cohort}"
        print(f"{label:60s} {whole.figures(snorm(gallery, probes, t_cohort, z_cohort))}")
    for weight in (0.3, 0.4, 0.6, 0.7):
        label = f"S-norm weighting T-norm {weight}, Z-norm {1 - weight:.1f}"
        print(f"{label:60s} {whole.figures(snorm(gallery, probes, t_weight=weight))}")
    normalised = snorm(gallery, probes)
    runner_up = -np.sort(-normalised, axis=1)[:, 1:2]
    for share in (0.25, 0.5, 1.0):
        label = f"S-norm minus {share} × the runner-up's"
        print(f"{label:60s} {whole.figures(normalised - share * runner_up)}")
    for name, transform in (
        ("watchlist mean subtracted, S-norm", _centre(gallery)),
        ("watchlist PCA whitening (0.05), S-norm", _whiten(gallery, 0.05)),
        ("watchlist PCA whitening (0.2), S-norm", _whiten(gallery, 0.2)),
    ):
        print(f"{name:60s} {whole.figures(snorm(transform(gallery), transform(probes)))}")
    half = {n: int(hashlib.md5(n.encode()).hexdigest(), 16) % 2 for n in rows}
    for fold in (0, 1):
        test = Protocol(rows, [n for n in rows if half[n] == fold])
        train = [(n, i) for n in rows if half[n] != fold and len(rows[n]) >= 2 for i in rows[n]]
        tx, ty = x[[i for _, i in train]], [n for n, _ in train]
        g, p = x[test.gallery], x[test.probes]
        print(f"{f'fold {fold}: S-norm, no back end':60s} {test.figures(snorm(g, p))}")
        for kind, regularise in (("wccn", 1e-3), ("wccn", 1.0), ("wccn", 3.0), ("lda64", 1e-3)):
            transform = _backend(tx, ty, kind, regularise)
            label = f"fold {fold}: {kind} (regularised {regularise:g}), S-norm"
            print(f"{label:60s} {test.figures(snorm(transform(g), transform(p)))}")


if __name__ == "__main__":
    main()
