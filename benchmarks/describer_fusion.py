"""A second describer fused with dlib's at score level, on lfw-dev's identification
protocol: which weight, and what it gains over dlib alone.

The identities are a seeded sample of lfw-dev (`--identities` with two images or more:
the first enrolled, up to `--probes` others as mated probes; as many single-image
identities as non-mated probes). Each image is described once by the engine's dlib
describer and once by faceres (`lfr model import-faceres`; its own crop), through the
evaluation's descriptor cache, exactly as `lfr evaluate identification` describes; the
fused descriptor of weight w is the `fusion` describer's (√(1−w)·dlib ⊕ √w·faceres), so
its cosine is (1−w)·cos_dlib + w·cos_faceres. Per weight: rank-1 and FNIR at FPIR 10%,
1% and 0.1% with raw cosine (the engine's rule), and the fused score whose one-comparison
false-match rate equals that of the dlib threshold given (`--threshold`, default the
engine's 0.946), measured on the same non-mated comparisons: the threshold at which the
fused rule keeps the engine's false-match rate.

    nice -n 10 python -m benchmarks.describer_fusion --faceres .lfr-cache/models/faceres.onnx
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks import shared_data_dir
from lfr.evaluation import metrics
from lfr.evaluation.datasets import identity_images
from lfr.evaluation.descriptors import build_evaluation_describer
from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, DescriberConfig
from lfr.vision.detection import HogDetectorConfig
from lfr.vision.engine_config import EngineConfig
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD

Matrix = NDArray[np.float64]


def sample(
    people: dict[str, list[Path]], identities: int, probes: int, seed: int
) -> dict[str, list[Path]]:
    """`identities` multi-image people (first image and up to `probes` more) and as many
    single-image people, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    multi = sorted(n for n, images in people.items() if len(images) >= 2)
    single = sorted(n for n, images in people.items() if len(images) == 1)
    chosen = {n: people[n][: probes + 1] for n in rng.choice(multi, identities, replace=False)}
    chosen |= {n: people[n] for n in rng.choice(single, identities, replace=False)}
    return dict(sorted(chosen.items()))


def describe(config: DescriberConfig, paths: Sequence[Path]) -> Matrix:
    evaluation, _ = build_evaluation_describer(HogDetectorConfig(upsample=1), config)
    described = evaluation.describe_all(paths)
    rows = [d.descriptor for d in described]
    if any(r is None for r in rows):
        raise RuntimeError("an image has no descriptor (no-face rule skip?)")
    matrix = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    unit: Matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit


def fused(dlib: Matrix, other: Matrix, weight: float) -> Matrix:
    joined: Matrix = np.concatenate([np.sqrt(1 - weight) * dlib, np.sqrt(weight) * other], 1)
    return joined


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    second = parser.add_mutually_exclusive_group(required=True)
    second.add_argument("--faceres", type=Path, help="the imported faceres .onnx")
    second.add_argument(
        "--describer", type=json.loads, help="the second describer's settings, as JSON"
    )
    parser.add_argument("--identities", type=int, default=400)
    parser.add_argument("--probes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=DEFAULT_ALERT_THRESHOLD)
    parser.add_argument("--weights", default="0,0.1,0.15,0.2,0.3,0.5,1")
    args = parser.parse_args(argv)
    people = sample(
        identity_images(shared_data_dir() / "lfw-dev" / "images"),
        args.identities,
        args.probes,
        args.seed,
    )
    paths = [p for images in people.values() for p in images]
    names = [p.parent.name for p in paths]
    dlib = describe(EngineConfig().describer, paths)
    settings = args.describer or {"type": "faceres", "model_path": str(args.faceres)}
    other = describe(DESCRIBER_CONFIG_ADAPTER.validate_python(settings), paths)
    gallery_rows = [i for i, p in enumerate(paths) if p == people[p.parent.name][0]]
    gallery_rows = [i for i in gallery_rows if len(people[names[i]]) >= 2]
    subjects = [names[i] for i in gallery_rows]
    probe_rows = [i for i in range(len(paths)) if i not in set(gallery_rows)]
    probe_names = [names[i] for i in probe_rows]
    print(
        f"{len(subjects)} enrolled, {sum(n in set(subjects) for n in probe_names)} mated and "
        f"{sum(n not in set(subjects) for n in probe_names)} non-mated probes"
    )
    raw = dlib[probe_rows] @ dlib[gallery_rows].T
    not_mate = np.asarray(probe_names)[:, None] != np.asarray(subjects)[None, :]
    target_fmr = float(np.mean(raw[not_mate] >= args.threshold))
    print(f"dlib threshold {args.threshold}: one-comparison FMR {target_fmr:.2e} here")
    print(
        "| second describer's weight | rank-1 | FNIR @ FPIR 10% | @ 1% | @ 0.1% "
        "| threshold at equal FMR |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for weight in (float(w) for w in args.weights.split(",")):
        both = fused(dlib, other, weight)
        scores = both[probe_rows] @ both[gallery_rows].T
        searches = metrics.searches_from_scores(scores, subjects, probe_names)
        fnir = [r.rates.fnir for r in metrics.fnir_at_fpir(searches, (0.1, 0.01, 0.001))]
        rank1 = metrics.rank_accuracy(searches, 1).rate
        impostors = np.sort(scores[not_mate])[::-1]
        equal = float(impostors[max(int(target_fmr * impostors.size) - 1, 0)])
        print(
            f"| {weight:g} | {rank1:.2%} | {fnir[0]:.2%} | {fnir[1]:.2%} | {fnir[2]:.2%} "
            f"| {equal:.4f} |"
        )


if __name__ == "__main__":
    main()
