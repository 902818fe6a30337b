"""Matcher time per probe against 1k … 1M templates (random unit vectors, 128-d).

Figures per size: the latency of one probe searched alone (what a single face waits;
median, and best of the repeats — on a shared machine the median carries other
processes' load), and the time per probe when a frame's faces are searched together in
one matrix product (what a busy camera pays per face). Templates are random unit vectors:
the search cost does not depend on what the vectors mean.

    python -m benchmarks.matcher_scaling [--sizes 1000 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lfr.vision.matcher import Gallery

DIMENSION = 128


@dataclass(frozen=True)
class MatcherTiming:
    templates: int
    build_s: float
    single_probe_ms: float
    single_probe_best_ms: float
    batched_probe_ms: float
    batch: int


def random_unit_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def time_gallery(size: int, repeats: int, batch: int, rng: np.random.Generator) -> MatcherTiming:
    templates = random_unit_vectors(size, rng)
    started = time.perf_counter()
    gallery = Gallery.build([f"s{i}" for i in range(size)], templates)
    build_s = time.perf_counter() - started
    del templates
    probes = random_unit_vectors(max(repeats, batch), rng)
    gallery.search(probes[:1])  # warm caches and BLAS threads
    singles = []
    for row in range(repeats):
        started = time.perf_counter()
        gallery.search(probes[row : row + 1])
        singles.append(time.perf_counter() - started)
    batched = []
    for _ in range(max(repeats // 4, 2)):
        started = time.perf_counter()
        gallery.search(probes[:batch])
        batched.append((time.perf_counter() - started) / batch)
    del gallery
    gc.collect()
    return MatcherTiming(
        templates=size,
        build_s=build_s,
        single_probe_ms=statistics.median(singles) * 1000,
        single_probe_best_ms=min(singles) * 1000,
        batched_probe_ms=statistics.median(batched) * 1000,
        batch=batch,
    )


def run(sizes: Sequence[int], repeats: int = 20, batch: int = 16) -> list[MatcherTiming]:
    rng = np.random.default_rng(0)
    return [time_gallery(size, repeats, batch, rng) for size in sizes]


def table(timings: Sequence[MatcherTiming]) -> str:
    lines = [
        "| templates | build s | ms per probe, alone (median) | alone (best) | "
        "ms per probe, batch of 16 (median) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.templates:,} | {t.build_s:.2f} | {t.single_probe_ms:.3f} "
        f"| {t.single_probe_best_ms:.3f} "
        f"| {t.batched_probe_ms:.3f} |"
        for t in timings
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    print(table(run(args.sizes, args.repeats)))


if __name__ == "__main__":
    main()
