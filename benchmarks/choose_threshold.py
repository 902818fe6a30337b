"""Choose the default alert threshold from a 1:N measurement on lfw-dev (REC-2).

Gallery: the first image of `--gallery` identities that have at least two images (a
seeded sample). Mated probes: the second image of each gallery identity. Non-mated
probes: the first image of `--probes` identities *not* in the gallery. For each gallery
size it prints the cosine similarity at which the false-positive identification rate
(FPIR: the share of non-mated probes whose best gallery score reaches the threshold)
is 1% and 0.1%, and the false-negative identification rate (FNIR: mated probes whose
own subject is not the top candidate at or above the threshold) there.

LFW images are 150×150 crops centred on the face: faces are found with HOG at
upsample=1 (the detection nearest the centre is taken), and where HOG finds none the
central box stands in for it, so that every image is described; the counts are printed.

Descriptors are cached under .lfr-cache/ (git-ignored), so a second run takes seconds.

    PYTHONPATH=src python benchmarks/choose_threshold.py [--lfw $LFR_TEST_DATA/lfw-dev]
        [--gallery 500] [--probes 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from lfr.vision.analysis import FaceAnalyser
from lfr.vision.describers import Describer, build_describer
from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.imageio import load_image
from lfr.vision.landmarks import align
from lfr.vision.matcher import Gallery
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.vision.types import Box, RGBImage

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = PROJECT_ROOT / ".lfr-cache"
TARGET_FPIRS = (0.01, 0.001)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    people = _identities(args.lfw / "images")
    gallery_names, nonmated_names = _sample(people, args.gallery, args.probes, args.seed)
    paths = (
        [people[n][0] for n in gallery_names]
        + [people[n][1] for n in gallery_names]
        + [people[n][0] for n in nonmated_names]
    )
    descriptors = _describe_cached(paths, args.lfw)
    g = len(gallery_names)
    gallery_rows, mated_rows, nonmated_rows = (
        descriptors[:g],
        descriptors[g : 2 * g],
        descriptors[2 * g :],
    )
    print(
        f"\nlfw-dev: {len(people)} identities; gallery {g} (first image), "
        f"{g} mated probes (second image), {len(nonmated_names)} non-mated probes\n"
    )
    print("| gallery size | target FPIR | threshold (cosine) | FPIR measured | FNIR | rank-1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in _gallery_sizes(g):
        gallery = Gallery.build(gallery_names[:size], gallery_rows[:size])
        nonmated_best = gallery.similarities(nonmated_rows).max(axis=1)
        rank1 = float(np.mean(_mated_hits(gallery, mated_rows[:size], -1.0)))
        for target in TARGET_FPIRS:
            threshold = _threshold_at_fpir(nonmated_best, target)
            fpir, fnir = _rates_at(gallery, nonmated_rows, mated_rows[:size], threshold)
            print(
                f"| {size} | {target:.1%} | {threshold:.4f} | {fpir:.2%} | {fnir:.1%} | "
                f"{rank1:.1%} |"
            )
    print(f"\nAt the shipped default, DEFAULT_ALERT_THRESHOLD = {DEFAULT_ALERT_THRESHOLD}:\n")
    print("| gallery size | FPIR | FNIR |")
    print("|---:|---:|---:|")
    for size in _gallery_sizes(g):
        gallery = Gallery.build(gallery_names[:size], gallery_rows[:size])
        fpir, fnir = _rates_at(gallery, nonmated_rows, mated_rows[:size], DEFAULT_ALERT_THRESHOLD)
        print(f"| {size} | {fpir:.2%} | {fnir:.1%} |")
    print("\nFPIR at 0.1% rests on the top ~1 in 1000 non-mated scores: read it as an estimate.")
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lfw",
        type=Path,
        default=_default_data_dir() / "lfw-dev",
        help="the lfw-dev folder (holding images/<Name>/<Name>_NNNN.jpg)",
    )
    parser.add_argument("--gallery", type=int, default=500, help="gallery identities")
    parser.add_argument("--probes", type=int, default=1000, help="non-mated probe identities")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    return parser.parse_args(argv)


def _default_data_dir() -> Path:
    override = os.environ.get("LFR_TEST_DATA")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"


def _identities(images: Path) -> dict[str, list[Path]]:
    if not images.is_dir():
        raise SystemExit(f"{images}: not found (pass --lfw)")
    return {
        person.name: sorted(person.glob("*.jpg"))
        for person in sorted(images.iterdir())
        if person.is_dir()
    }


def _sample(
    people: dict[str, list[Path]], gallery: int, probes: int, seed: int
) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    multi = [name for name, images in people.items() if len(images) >= 2]
    if gallery > len(multi):
        raise SystemExit(f"only {len(multi)} identities have two images; lower --gallery")
    gallery_names = rng.sample(multi, gallery)
    chosen = set(gallery_names)
    others = [name for name in people if name not in chosen]
    return gallery_names, rng.sample(others, min(probes, len(others)))


def _gallery_sizes(largest: int) -> list[int]:
    return [size for size in (10, 100) if size < largest] + [largest]


def _mated_hits(
    gallery: Gallery, mated: NDArray[np.float32], threshold: float
) -> NDArray[np.bool_]:
    """Mated probe i (of gallery subject i) is a hit when its own subject is the top
    candidate and scores at least `threshold`."""
    scores = gallery.similarities(mated)
    own = np.arange(len(mated))
    hits: NDArray[np.bool_] = (scores.argmax(axis=1) == own) & (scores[own, own] >= threshold)
    return hits


def _rates_at(
    gallery: Gallery,
    nonmated: NDArray[np.float32],
    mated: NDArray[np.float32],
    threshold: float,
) -> tuple[float, float]:
    """(FPIR, FNIR) at `threshold`."""
    fpir = float(np.mean(gallery.similarities(nonmated).max(axis=1) >= threshold))
    fnir = 1.0 - float(np.mean(_mated_hits(gallery, mated, threshold)))
    return fpir, fnir


def _threshold_at_fpir(nonmated_best: NDArray[np.float32], target: float) -> float:
    """The lowest score whose FPIR does not exceed `target`: just above the score of the
    (target × n)-th highest non-mated probe."""
    ordered = np.sort(nonmated_best)[::-1]
    allowed = int(np.floor(target * len(ordered)))
    return float(np.nextafter(ordered[allowed], np.float32(np.inf)))


def _describe_cached(paths: list[Path], lfw: Path) -> NDArray[np.float32]:
    describer = build_describer()
    CACHE_DIR.mkdir(exist_ok=True)
    cache_file = CACHE_DIR / f"lfw-{describer.model_id}-hog1-centre.npz"
    cache: dict[str, NDArray[np.float32]] = {}
    if cache_file.exists():
        with np.load(cache_file) as stored:
            cache = {key: stored[key] for key in stored.files}
    keys = [str(p.relative_to(lfw)) for p in paths]
    missing = [(k, p) for k, p in zip(keys, paths, strict=True) if k not in cache]
    if missing:
        cache.update(_describe(missing, describer))
        np.savez(cache_file, **cache)  # type: ignore[arg-type]
    return np.stack([cache[k] for k in keys])


def _describe(
    missing: list[tuple[str, Path]], describer: Describer
) -> dict[str, NDArray[np.float32]]:
    analyser = FaceAnalyser(build_detector(HogDetectorConfig(upsample=1)))
    started, fallbacks = time.monotonic(), 0
    out: dict[str, NDArray[np.float32]] = {}
    batch_keys: list[str] = []
    batch_chips: list[RGBImage] = []
    for done, (key, path) in enumerate(missing, 1):
        image = load_image(path)
        chip, fell_back = _central_face_chip(image, analyser)
        fallbacks += fell_back
        batch_keys.append(key)
        batch_chips.append(chip)
        if len(batch_chips) == 32 or done == len(missing):
            rows = describer.describe(batch_chips)
            out.update(zip(batch_keys, rows, strict=True))
            batch_keys, batch_chips = [], []
            rate = done / (time.monotonic() - started)
            print(f"\rdescribed {done}/{len(missing)} ({rate:.1f}/s)", end="", file=sys.stderr)
    print(f"\nno face found by HOG, central box used: {fallbacks}", file=sys.stderr)
    return out


def _central_face_chip(image: RGBImage, analyser: FaceAnalyser) -> tuple[RGBImage, bool]:
    height, width = image.shape[:2]
    found = analyser.detector.detect(image)
    if found:
        centre = np.array([width / 2, height / 2])
        nearest = min(
            found,
            key=lambda d: float(
                np.linalg.norm(
                    np.array([(d.box.left + d.box.right) / 2, (d.box.top + d.box.bottom) / 2])
                    - centre
                )
            ),
        )
        box, fell_back = nearest.box, False
    else:
        # LFW crops are centred on the face, which fills about the middle two thirds.
        box = Box(left=width // 6, top=height // 6, right=width * 5 // 6, bottom=height * 5 // 6)
        fell_back = True
    landmarks = analyser.locator.locate(image, box)
    return align(image, landmarks), fell_back


if __name__ == "__main__":
    raise SystemExit(main())
