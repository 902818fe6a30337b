"""Matcher time per probe against 1k … 1M templates (128-d), exact and screened search.

Figures per size and search: the latency of one probe searched alone (what a single face
waits; median, and best of the repeats — on a shared machine the median carries other
processes' load), and the time per probe when a frame's faces are searched together
(what a busy camera pays per face). From `--screened-from` templates (default 100k) the
screened search (`lfr.vision.screening`: an int8 screen, then exact re-scoring of its
candidates) is measured beside exact search, with its recall against exact search:
recall@1 = probes whose best subject is the exact search's best; recall@5 = the share of
the exact top 5 found in the screened top 5 (scores of what is found are exact).

Two kinds of data:

- ``random``: random unit vectors. The search cost does not depend on what the vectors
  mean, but for the screen they are the worst case: every direction is used, and all
  scores crowd near 0, so the true top 5 is separated from the rest by hairs.
- ``lfw-like`` (when lfw-dev descriptors are cached, `--descriptors`): the first image
  of every lfw-dev identity enrolled, the rest of the gallery drawn from a Gaussian with
  the real descriptors' mean and covariance (as many synthetic people as needed, with the
  real descriptors' structure), probed with the identities' other images.

    python -m benchmarks.matcher_scaling [--sizes 1000 10000 100000 1000000]
        [--descriptors .lfr-cache/descriptors/<model-key>]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks import CACHE_ROOT, shared_data_dir
from lfr.evaluation.descriptors import DescriptorCache
from lfr.vision.matcher import Gallery
from lfr.vision.screening import Screening

DIMENSION = 128
NEVER = Screening(min_templates=2**40)
RECALL_PROBES = 200

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class MatcherTiming:
    data: str
    templates: int
    search: str
    build_s: float
    single_probe_ms: float
    single_probe_best_ms: float
    batched_probe_ms: float
    batch: int
    recall_at_1: float | None = None
    recall_at_5: float | None = None
    screen_components: int | None = None


def random_unit_vectors(count: int, rng: np.random.Generator) -> Matrix:
    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


@dataclass(frozen=True)
class RealDescriptors:
    """lfw-dev descriptors read from an evaluation cache: one row per image."""

    names: list[str]
    vectors: Matrix


def load_lfw_descriptors(folder: Path) -> RealDescriptors:
    """The cached descriptor of every lfw-dev image found in `folder` (a cache folder
    written by `lfr evaluate`, named by model key)."""
    cache = DescriptorCache(folder.parent, folder.name)
    names, vectors = [], []
    for path in sorted((shared_data_dir() / "lfw-dev" / "images").glob("*/*.jpg")):
        try:
            _, descriptor, _ = cache.load(hashlib.sha256(path.read_bytes()).hexdigest())
        except KeyError:
            continue
        if descriptor is not None:
            names.append(path.parent.name)
            vectors.append(descriptor)
    if len(vectors) < 1_000:
        raise FileNotFoundError(f"only {len(vectors)} lfw-dev descriptors cached in {folder}")
    return RealDescriptors(names, np.asarray(vectors, dtype=np.float32))


def find_lfw_descriptors(folder: Path | None) -> RealDescriptors | None:
    """lfw-dev descriptors from `folder`, or from the fullest descriptor cache under
    .lfr-cache/descriptors; None (with a note) when there are none."""
    if folder is None:
        root = CACHE_ROOT / "descriptors"
        folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
        folder = max(folders, key=lambda p: sum(1 for _ in p.iterdir()), default=None)
    try:
        if folder is None:
            raise FileNotFoundError("no descriptor cache under .lfr-cache/descriptors")
        return load_lfw_descriptors(folder)
    except FileNotFoundError as error:
        print(f"(lfw-like data left out: {error}; run `lfr evaluate` or see --descriptors)")
        return None


def lfw_like(count: int, real: RealDescriptors, rng: np.random.Generator) -> tuple[Matrix, Matrix]:
    """(templates, mated probes): each identity's first image, then synthetic people."""
    first: dict[str, int] = {}
    others: list[int] = []
    for row, name in enumerate(real.names):
        if name in first:
            others.append(row)
        else:
            first[name] = row
    enrolled = real.vectors[list(first.values())][:count]
    mean = real.vectors.mean(axis=0)
    covariance = np.cov((real.vectors - mean).T)
    factor = np.linalg.cholesky(covariance + 1e-9 * np.eye(DIMENSION)).astype(np.float32)
    synthetic = rng.standard_normal((count - len(enrolled), DIMENSION), dtype=np.float32)
    templates = np.vstack([enrolled, synthetic @ factor.T + mean])
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    probes = real.vectors[rng.permutation(others)]
    return templates, probes


def time_search(
    gallery: Gallery, probes: Matrix, repeats: int, batch: int
) -> tuple[float, float, float]:
    """(median ms alone, best ms alone, median ms per probe in a batch)."""
    gallery.search(probes[:1])  # warm caches and threads
    singles = []
    for row in range(repeats):
        started = time.perf_counter()
        gallery.search(probes[row : row + 1])
        singles.append(time.perf_counter() - started)
    batched = []
    for start in range(0, max(repeats // 4, 2) * batch, batch):
        chunk = probes[start % (len(probes) - batch) :][:batch]
        started = time.perf_counter()
        gallery.search(chunk)
        batched.append((time.perf_counter() - started) / batch)
    return (
        statistics.median(singles) * 1000,
        min(singles) * 1000,
        statistics.median(batched) * 1000,
    )


def recall(screened: Gallery, exact: Gallery, probes: Matrix) -> tuple[float, float]:
    """(recall@1, recall@5) of the screened search against exact search."""
    hits_1 = hits_5 = 0.0
    for start in range(0, len(probes), 16):
        chunk = probes[start : start + 16]
        for got, want in zip(screened.search(chunk), exact.search(chunk), strict=True):
            hits_1 += got[0].subject_id == want[0].subject_id
            found = {c.subject_id for c in got} & {c.subject_id for c in want}
            hits_5 += len(found) / len(want)
    return hits_1 / len(probes), hits_5 / len(probes)


DataMaker = Callable[[int, np.random.Generator], tuple[Matrix, Matrix]]


def time_size(
    data: str,
    make: DataMaker,
    size: int,
    screened_from: int,
    repeats: int,
    batch: int,
    rng: np.random.Generator,
) -> list[MatcherTiming]:
    templates, probes = make(size, rng)
    probes = probes[: max(repeats + 1, RECALL_PROBES, 4 * batch)]
    started = time.perf_counter()
    exact = Gallery.build([f"s{i}" for i in range(size)], templates, screening=NEVER)
    build_s = time.perf_counter() - started
    del templates
    rows = [
        MatcherTiming(
            data, size, "exact", build_s, *time_search(exact, probes, repeats, batch), batch
        )
    ]
    if size >= screened_from:
        started = time.perf_counter()
        screened = exact.with_screening(Screening(min_templates=1))
        screen_s = time.perf_counter() - started
        timing = time_search(screened, probes, repeats, batch)
        recall_1, recall_5 = recall(screened, exact, probes[:RECALL_PROBES])
        components = screened.screen_components
        candidates = screened.screening.candidates
        rows.append(
            MatcherTiming(
                data, size, f"screened ({candidates})", screen_s, *timing, batch,
                recall_1, recall_5, components,
            )
        )  # fmt: skip
        del screened
    del exact
    gc.collect()
    return rows


def run(
    sizes: Sequence[int],
    repeats: int = 20,
    batch: int = 16,
    screened_from: int = 100_000,
    real: RealDescriptors | None = None,
) -> list[MatcherTiming]:
    rng = np.random.default_rng(0)
    kinds: list[tuple[str, DataMaker]] = [
        ("random", lambda n, r: (random_unit_vectors(n, r), random_unit_vectors(1_000, r)))
    ]
    if real is not None:
        kinds.append(("lfw-like", lambda n, r: lfw_like(n, real, r)))
    return [
        row
        for data, make in kinds
        for size in sizes
        for row in time_size(data, make, size, screened_from, repeats, batch, rng)
    ]


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def table(timings: Sequence[MatcherTiming]) -> str:
    lines = [
        "| data | templates | search | build s | ms per probe, alone (median) | alone (best) "
        "| ms per probe, batch of 16 (median) | recall@1 | recall@5 | screen dims |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.data} | {t.templates:,} | {t.search} | {t.build_s:.2f} | {t.single_probe_ms:.3f} "
        f"| {t.single_probe_best_ms:.3f} | {t.batched_probe_ms:.3f} "
        f"| {_figure(t.recall_at_1)} | {_figure(t.recall_at_5)} "
        f"| {t.screen_components or ''} |"
        for t in timings
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--screened-from", type=int, default=100_000)
    parser.add_argument(
        "--descriptors",
        type=Path,
        default=None,
        help="a descriptor cache folder of lfw-dev (default: the fullest under .lfr-cache)",
    )
    args = parser.parse_args(argv)
    real = find_lfw_descriptors(args.descriptors)
    print(table(run(args.sizes, args.repeats, 16, args.screened_from, real)))


if __name__ == "__main__":
    main()
