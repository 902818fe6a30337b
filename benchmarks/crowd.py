"""Crowd clips with ground truth: LFW faces moving across a background at 720p or 1080p.

Each clip is a set of lanes (horizontal bands); in each lane a queue of "walkers" moves
across the frame at the lane's speed, growing a little as it goes (as someone walking
towards a camera would). Every walker is one LFW identity:
- a *watchlisted* walker is an identity with two or more images: its first image (by
  sorted name) goes into the watchlist folder written beside the clip, and the walker
  shows a different image of the same person, so finding it is a real 1:N match;
- a *passer-by* is an identity with a single image, not on the watchlist: any alert on
  it is false.

The clip (`clip.mp4`), its ground truth (`truth.json`: for each walker its identity and
its box in every frame it is visible) and the watchlist (`watchlist/<Name>/<file>.jpg`)
are written to a cache folder (default `.lfr-cache/crowd/`, git-ignored) and reused when
already there. Nothing is ever written into the repository.

    python -m benchmarks.crowd --height 720 --frames 150   # prints the folder it wrote
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from benchmarks import CACHE_ROOT, shared_data_dir

DEFAULT_CACHE = CACHE_ROOT / "crowd"
FPS = 25.0
LFW_CROP_PX = 150


@dataclass(frozen=True)
class CrowdSpec:
    """What a clip looks like; every field enters the cache folder's name."""

    height: int = 720
    frames: int = 150
    seed: int = 0
    watchlisted_share: float = 0.6
    watchlist_size: int = 200
    """Walkers' identities plus other LFW people up to this many subjects, so that
    matching is a real 1:N search, not a pick among the few people in view."""

    @property
    def width(self) -> int:
        return self.height * 16 // 9

    @property
    def crop_px(self) -> tuple[int, int]:
        """Smallest and largest size of a pasted LFW crop. The face inside covers about
        half of it: at 720p faces are about 115–150 px high with 40–50 px between the
        eyes — what the engine's quality rules call a usable face (a camera placed for
        LFR frames faces at least this large); more at 1080p."""
        return (self.height * 33 // 100, self.height * 42 // 100)

    def folder_name(self) -> str:
        share = round(self.watchlisted_share * 100)
        return (
            f"crowd-{self.height}p-{self.frames}f-seed{self.seed}-wl{share}-n{self.watchlist_size}"
        )


@dataclass
class Walker:
    walker_id: int
    identity: str
    image: str
    watchlisted: bool
    boxes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """(frame, left, top, right, bottom) of the pasted crop, one per visible frame."""


@dataclass(frozen=True)
class Identity:
    name: str
    images: tuple[Path, ...]


def load_identities(lfw_images: Path) -> list[Identity]:
    identities = []
    for folder in sorted(p for p in lfw_images.iterdir() if p.is_dir()):
        images = tuple(sorted(folder.glob("*.jpg")))
        if images:
            identities.append(Identity(folder.name, images))
    if not identities:
        raise FileNotFoundError(f"{lfw_images}: no LFW-layout identity folders found")
    return identities


def make_background(width: int, height: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """A smooth, textured, face-free background (a street would hold real faces that
    the ground truth does not know about)."""
    coarse = rng.integers(70, 170, size=(9, 16, 3)).astype(np.uint8)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, size=(height, width, 3))
    return np.clip(smooth.astype(np.float64) + grain, 0, 255).astype(np.uint8)


def feathered_ellipse(size: int) -> NDArray[np.float32]:
    """Alpha mask that keeps the face and fades the crop's square edges into the scene."""
    mask = np.zeros((size, size), dtype=np.float32)
    centre, axes = (size // 2, size // 2), (int(size * 0.47), int(size * 0.5))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    blurred = cv2.GaussianBlur(mask, (0, 0), sigmaX=size * 0.04)
    return blurred[..., None]


def choose_walkers(
    identities: Sequence[Identity], count: int, spec: CrowdSpec, rng: np.random.Generator
) -> list[tuple[Identity, Path, bool]]:
    """(identity, image shown, watchlisted) for each walker; identities never repeat."""
    multi = [i for i in identities if len(i.images) >= 2]
    single = [i for i in identities if len(i.images) == 1]
    watchlisted = min(round(count * spec.watchlisted_share), len(multi))
    picks_multi = rng.choice(len(multi), size=watchlisted, replace=False)
    picks_single = rng.choice(len(single), size=count - watchlisted, replace=False)
    walkers = [(multi[i], multi[i].images[1], True) for i in picks_multi]
    walkers += [(single[i], single[i].images[0], False) for i in picks_single]
    order = rng.permutation(len(walkers))
    return [walkers[i] for i in order]


@dataclass(frozen=True)
class Lane:
    top: int
    speed: float  # px per frame, sign = direction
    spacing: float
    base_size: int
    walkers: tuple[int, ...]  # indices into the walker list, front of the queue first


def plan_lanes(spec: CrowdSpec, rng: np.random.Generator) -> list[Lane]:
    low, high = spec.crop_px
    lane_height = int(high * 1.1)
    lanes, next_walker = [], 0
    for row in range(spec.height // lane_height):
        speed = float(rng.uniform(8, 13)) * (1 if row % 2 == 0 else -1) * spec.height / 720
        base = int(rng.integers(low, int(high / 1.15)))
        spacing = base * float(rng.uniform(1.3, 1.7))
        travel = spec.width + abs(speed) * spec.frames + base
        count = math.ceil(travel / spacing) + 1
        lanes.append(
            Lane(
                top=row * lane_height + int(rng.integers(0, lane_height - high + 1)),
                speed=speed,
                spacing=spacing,
                base_size=base,
                walkers=tuple(range(next_walker, next_walker + count)),
            )
        )
        next_walker += count
    return lanes


def walker_placement(
    lane: Lane, position: int, frame: int, width: int
) -> tuple[int, int, int] | None:
    """(left, top, size) of a walker's crop in a frame, or None when off screen.

    The queue starts with its front walker about to leave, so that even a short clip
    opens with the lane full of faces.
    """
    distance = width + abs(lane.speed) * frame - position * lane.spacing
    progress = distance / width
    size = int(lane.base_size * (1 + 0.15 * min(max(progress, 0.0), 1.0)))
    left = int(distance - size) if lane.speed > 0 else int(width - distance)
    if left + size <= 0 or left >= width:
        return None
    return left, lane.top, size


def paste(scene: NDArray[np.uint8], face: NDArray[np.uint8], left: int, top: int) -> None:
    size = face.shape[0]
    alpha = feathered_ellipse(size)
    x0, x1 = max(left, 0), min(left + size, scene.shape[1])
    y0, y1 = max(top, 0), min(top + size, scene.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    part = face[y0 - top : y1 - top, x0 - left : x1 - left].astype(np.float32)
    weight = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    region = scene[y0:y1, x0:x1].astype(np.float32)
    scene[y0:y1, x0:x1] = (weight * part + (1 - weight) * region).astype(np.uint8)


def render(
    spec: CrowdSpec, identities: Sequence[Identity], out_dir: Path
) -> tuple[list[Walker], list[Identity]]:
    rng = np.random.default_rng(spec.seed)
    background = make_background(spec.width, spec.height, rng)
    lanes = plan_lanes(spec, rng)
    total = sum(len(lane.walkers) for lane in lanes)
    chosen = choose_walkers(identities, total, spec, rng)
    walkers = [
        Walker(i, identity.name, image.name, watchlisted)
        for i, (identity, image, watchlisted) in enumerate(chosen)
    ]
    faces_bgr = {i: cv2.imread(str(image)) for i, (_, image, _) in enumerate(chosen)}
    writer = cv2.VideoWriter(
        str(out_dir / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (spec.width, spec.height)
    )
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    try:
        for frame in range(spec.frames):
            scene = background.copy()
            for lane in lanes:
                for position, walker_index in enumerate(lane.walkers):
                    placed = walker_placement(lane, position, frame, spec.width)
                    if placed is None:
                        continue
                    left, top, size = placed
                    face = cv2.resize(faces_bgr[walker_index], (size, size))
                    paste(scene, face, left, top)
                    box = (frame, max(left, 0), top, min(left + size, spec.width), top + size)
                    walkers[walker_index].boxes.append(box)
            writer.write(scene)
    finally:
        writer.release()
    watchlist = [identity for identity, _, watchlisted in chosen if watchlisted]
    walking = {identity.name for identity, _, _ in chosen}
    others = [i for i in identities if len(i.images) >= 2 and i.name not in walking]
    extra = max(spec.watchlist_size - len(watchlist), 0)
    watchlist += [others[i] for i in rng.choice(len(others), size=extra, replace=False)]
    return [w for w in walkers if w.boxes], watchlist


WATCHLIST_SCALE = 2
"""Watchlist photographs are LFW's first image enlarged to 300×300: the engine's
enrolment gate (WL-5) asks for 40 px between the eyes, and LFW's 150 px crops have about
30 (a custody photograph is larger than a web thumbnail)."""


def write_watchlist(watchlist: Sequence[Identity], folder: Path) -> None:
    for identity in watchlist:
        (folder / identity.name).mkdir(parents=True, exist_ok=True)
        image = cv2.imread(str(identity.images[0]))
        enlarged = cv2.resize(
            image, None, fx=WATCHLIST_SCALE, fy=WATCHLIST_SCALE, interpolation=cv2.INTER_CUBIC
        )
        cv2.imwrite(str(folder / identity.name / identity.images[0].name), enlarged)


@dataclass(frozen=True)
class ClipFolder:
    """A generated clip's folder: the video, its watchlist and its ground truth."""

    folder: Path

    @property
    def video(self) -> Path:
        return self.folder / "clip.mp4"

    @property
    def watchlist(self) -> Path:
        return self.folder / "watchlist"

    def truth(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads((self.folder / "truth.json").read_text())
        return loaded


@dataclass(frozen=True)
class CrowdClip(ClipFolder):
    spec: CrowdSpec


def generate(
    spec: CrowdSpec, lfw_images: Path | None = None, cache: Path = DEFAULT_CACHE
) -> CrowdClip:
    """Write (or reuse) the clip for `spec` and return where it lies."""
    lfw_images = lfw_images or shared_data_dir() / "lfw-dev" / "images"
    folder = cache / spec.folder_name()

    def fill(partial: Path) -> dict[str, object]:
        walkers, watchlist = render(spec, load_identities(lfw_images), partial)
        write_watchlist(watchlist, partial / "watchlist")
        return {
            "box_is": "the pasted LFW crop; the face is centred in it and covers about 60%",
            "walkers": [asdict(w) for w in walkers],
        }

    write_clip_folder(folder, spec, fill)
    return CrowdClip(folder, spec)


def write_clip_folder(folder: Path, spec: Any, fill: Callable[[Path], dict[str, object]]) -> None:
    """Unless `folder` already holds a clip: `fill` writes the clip and its watchlist
    into a partial folder and returns its ground truth, saved as `truth.json` with the
    spec (a dataclass with width, height and frames); the folder then takes its name, so
    an interrupted run never leaves a clip that looks complete."""
    if (folder / "truth.json").is_file():
        return
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    specifics = fill(partial)
    truth = {
        "width": spec.width,
        "height": spec.height,
        "fps": FPS,
        "frames": spec.frames,
        "spec": asdict(spec),
        **specifics,
    }
    (partial / "truth.json").write_text(json.dumps(truth))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--height", type=int, default=720, choices=(720, 1080))
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lfw", type=Path, default=None, help="LFW images folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    clip = generate(
        CrowdSpec(height=args.height, frames=args.frames, seed=args.seed), args.lfw, args.cache
    )
    truth = clip.truth()
    walkers = truth["walkers"]
    assert isinstance(walkers, list)
    watchlisted = sum(1 for w in walkers if w["watchlisted"])
    print(f"{clip.folder}: {len(walkers)} walkers ({watchlisted} on the watchlist)")


if __name__ == "__main__":
    main()
