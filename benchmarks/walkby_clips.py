"""Walk-by clips with ground truth: lfw-dev people walking towards a camera, one after
another in each of a few lanes, composited into the repository's real videos.

Each *passer* is one lfw-dev identity with a known sex (`lfw-dev/sex-labels.csv`):
- a *mated* passer is an identity with two or more images: its first image (by sorted
  name) is enrolled on the watchlist, and the passer shows its second image, so finding
  it is a real 1:N match on a different photograph;
- a *non-mated* passer is an identity with one image, never enrolled: any alert on it
  is false.
The watchlist holds every mated passer and other lfw-dev people up to `watchlist_size`
(first those with several images, then single-image people who do not walk), so the
search is the 1:N search of a real watchlist.

A passer's face grows from about `start_face_px` high (far away) to a close-up filling
its lane (a cell of the frame; lanes are laid out in rows): geometrically, quickly across
the far field (the first `far_share` of the walk), then slowly through the near approach
where a detector can find it. It drifts across its lane and down the frame, and is
blurred (a defocus per passer, and a motion streak while it crosses the far field), lit
(a gain and a gamma per passer) and pasted with a feathered edge (as `benchmarks.crowd`
pastes its walkers) into the background: the videos in
`shared/data/video`, one after another and again, scaled to the clip's size — real
scenes with real people in them (none of them in LFW, so an alert on them is false too).
The clip is written as MPEG-4 (its compression is part of the test).

Everything is drawn from one seeded generator: the same spec gives the same clip. The
clip (`clip.mp4`), its ground truth (`truth.json`: each passer's identity, sex, image and
its box in every frame it is visible) and the watchlist folder are cached under
`.lfr-cache/walkby/<spec>/` (git-ignored); nothing is written into the repository.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from benchmarks import CACHE_ROOT, shared_data_dir
from benchmarks.crowd import (
    FPS,
    WATCHLIST_SCALE,
    ClipFolder,
    Identity,
    load_identities,
    paste,
    write_clip_folder,
    write_watchlist,
)
from lfr.vision.quality import EnrolmentRefused, check_enrolment_image
from lfr.vision.sources import FileSource

DEFAULT_CACHE = CACHE_ROOT / "walkby"
LOOK_VERSION = 2
"""Changes with how a passer is drawn (`styled_face`), so a cached clip drawn otherwise is
not reused."""
FACE_SHARE_OF_CROP = 0.43
"""A face (HOG's box) is about 0.43 of the side of an LFW 150 px crop: a crop of side s
shows a face about 0.43·s high."""


@dataclass(frozen=True)
class WalkbySpec:
    """What a clip looks like; every field enters the cache folder's name."""

    mated: int = 310
    non_mated: int = 310
    watchlist_size: int = 1100
    height: int = 720
    lanes: int = 8
    """Passers walking at once, each in its own lane (a cell of the frame)."""
    rows: int = 2
    """The lanes are laid out in this many rows (the way `benchmarks.crowd` stacks its
    lanes): 8 lanes in 2 rows at 720p are cells of 320×360 px."""
    walk_frames: int = 32
    """Frames from a passer's first appearance to the close-up (1.3 s at 25 fps)."""
    far_share: float = 0.3
    """Share of the walk spent approaching from afar (`start_face_px`) to three quarters
    of the close-up; the rest is the near approach, where the detector can find the face
    (at 720p the engine's detector finds faces from about 107 px high)."""
    gap_frames: int = 20
    """Frames between two passers of a lane: long enough that the first one's track has
    ended (`TrackerConfig.max_gap_s`, 1 s) before the next one is close enough to be
    detected (about a third into its walk), so that two passers never share a track."""
    start_face_px: int = 40
    seed: int = 0

    @property
    def columns(self) -> int:
        return math.ceil(self.lanes / self.rows)

    @property
    def width(self) -> int:
        return self.height * 16 // 9

    @property
    def passers(self) -> int:
        return self.mated + self.non_mated

    @property
    def frames(self) -> int:
        per_lane = math.ceil(self.passers / self.lanes)
        stagger = (self.walk_frames + self.gap_frames) // self.lanes
        return per_lane * (self.walk_frames + self.gap_frames) + stagger * (self.lanes - 1)

    def folder_name(self) -> str:
        return (
            f"walkby-{self.height}p-m{self.mated}-n{self.non_mated}-wl{self.watchlist_size}"
            f"-l{self.lanes}x{self.rows}-w{self.walk_frames}-far{self.far_share:g}"
            f"-g{self.gap_frames}-f{self.start_face_px}-seed{self.seed}-look{LOOK_VERSION}"
        )


QUICK_SPEC = WalkbySpec(
    mated=8,
    non_mated=8,
    watchlist_size=60,
    height=360,
    lanes=2,
    rows=1,
    walk_frames=40,
    gap_frames=10,
)
"""A CI-sized clip: 16 passers, 60 enrolled, 640×360, about 20 seconds of work."""


@dataclass
class Passer:
    passer_id: int
    identity: str
    image: str
    mated: bool
    sex: str
    lane: int
    first_frame: int
    blur_sigma: float
    """Defocus, in the clip's pixels (the camera's focus, whatever the face's size):
    0–0.45 px, applied from 0.2."""
    gain: float
    gamma: float
    drift: float
    """Sideways drift over the walk, as a share of the lane's free width (−1 to 1)."""
    boxes: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """(frame, left, top, right, bottom) of the pasted crop, one per visible frame."""


def read_sex_labels(path: Path) -> dict[str, str]:
    """identity → group from an `identity,group` CSV."""
    with path.open(newline="") as handle:
        return {row["identity"]: row["group"] for row in csv.DictReader(handle)}


Enrollable = Callable[[Identity], bool]


def choose_people(
    identities: Sequence[Identity],
    sexes: dict[str, str],
    spec: WalkbySpec,
    rng: np.random.Generator,
    enrollable: Enrollable,
) -> tuple[list[Identity], list[Identity], list[Identity]]:
    """(mated passers, non-mated passers, watchlist) drawn from labelled identities; the
    watchlist holds every mated passer and no non-mated one. Only identities whose
    watchlist photograph the engine enrols (`enrollable`) are put on the watchlist, so
    that every mated passer can be found; each is checked in the seeded order until
    enough are taken."""
    labelled = [i for i in identities if i.name in sexes]
    multi = [i for i in labelled if len(i.images) >= 2]
    single = [i for i in labelled if len(i.images) == 1]
    if spec.non_mated > len(single):
        raise ValueError(f"lfw-dev has {len(single)} labelled single-image identities")
    multi = [multi[i] for i in rng.permutation(len(multi))]
    single = [single[i] for i in rng.permutation(len(single))]
    non_mated, spare_single = single[: spec.non_mated], single[spec.non_mated :]
    watchlist = list(_take(multi + spare_single, spec.watchlist_size, enrollable))
    mated = [i for i in watchlist if len(i.images) >= 2][: spec.mated]
    if len(mated) < spec.mated:
        raise ValueError(f"only {len(mated)} enrollable identities with two images or more")
    return mated, non_mated, watchlist


def _take(candidates: Iterable[Identity], count: int, keep: Enrollable) -> Iterator[Identity]:
    taken = 0
    for identity in candidates:
        if taken == count:
            return
        if keep(identity):
            taken += 1
            yield identity


def engine_enrolls() -> Enrollable:
    """Whether the engine's enrolment (default `EngineConfig`: its detector at full
    resolution and the WL-5 gate) accepts an identity's watchlist photograph, as
    `write_watchlist` writes it."""
    from lfr.vision.pipeline import Engine, EngineConfig

    config = EngineConfig()
    analyser = Engine.from_config(config).enrolment_analyser

    def accepts(identity: Identity) -> bool:
        image = cv2.imread(str(identity.images[0]))
        enlarged = cv2.resize(
            image, None, fx=WATCHLIST_SCALE, fy=WATCHLIST_SCALE, interpolation=cv2.INTER_CUBIC
        )
        rgb = np.ascontiguousarray(enlarged[..., ::-1])
        try:
            check_enrolment_image(rgb, analyser, config.enrolment_gate)
        except EnrolmentRefused:
            return False
        return True

    return accepts


def plan_passers(
    mated: Sequence[Identity],
    non_mated: Sequence[Identity],
    sexes: dict[str, str],
    spec: WalkbySpec,
    rng: np.random.Generator,
) -> list[Passer]:
    """Each passer's lane, start frame and look, in a seeded random order."""
    people = [(i, i.images[1], True) for i in mated] + [(i, i.images[0], False) for i in non_mated]
    order = rng.permutation(len(people))
    cycle = spec.walk_frames + spec.gap_frames
    stagger = cycle // spec.lanes
    passers = []
    for slot, index in enumerate(order):
        identity, image, is_mated = people[index]
        lane = slot % spec.lanes
        passers.append(
            Passer(
                passer_id=slot,
                identity=identity.name,
                image=image.name,
                mated=is_mated,
                sex=sexes[identity.name],
                lane=lane,
                first_frame=(slot // spec.lanes) * cycle + lane * stagger,
                blur_sigma=float(rng.uniform(0.0, 0.45)),
                gain=float(rng.uniform(0.65, 1.25)),
                gamma=float(rng.uniform(0.8, 1.25)),
                drift=float(rng.uniform(-1.0, 1.0)),
            )
        )
    return passers


def placement(passer: Passer, frame: int, spec: WalkbySpec) -> tuple[int, int, int] | None:
    """(left, top, side) of the passer's crop in `frame`, or None when not walking then.
    The side grows geometrically from the far size to three quarters of the close-up in
    the first `far_share` of the walk, then on to the close-up (its cell's width, or 95%
    of its height); the passer drifts sideways and down its cell as it nears."""
    step = frame - passer.first_frame
    if not 0 <= step < spec.walk_frames:
        return None
    progress = step / max(spec.walk_frames - 1, 1)
    cell_width, cell_height = spec.width // spec.columns, spec.height // spec.rows
    far = spec.start_face_px / FACE_SHARE_OF_CROP
    near = float(min(cell_width, int(cell_height * 0.95)))
    knee = max(far, 0.75 * near)
    if progress < spec.far_share:
        side = round(far * (knee / far) ** (progress / spec.far_share))
    else:
        near_progress = (progress - spec.far_share) / (1 - spec.far_share)
        side = round(knee * (near / knee) ** near_progress)
    row, column = divmod(passer.lane, spec.columns)
    free = cell_width - side
    centre_x = column * cell_width + cell_width / 2 + passer.drift * free / 2 * progress
    top_of_cell = row * cell_height
    lowest = top_of_cell + cell_height * 0.99
    bottom = (
        top_of_cell + cell_height * 0.45 + (lowest - top_of_cell - cell_height * 0.45) * progress
    )
    bottom = min(max(bottom, top_of_cell + side), lowest)
    return round(centre_x - side / 2), round(bottom - side), side


def styled_face(
    face_bgr: NDArray[np.uint8], passer: Passer, side: int, progress: float
) -> NDArray[np.uint8]:
    """The passer's photograph at `side` px, lit and blurred as this passer is `progress`
    (0–1) through the walk. Blur is mild on purpose: LFW's faces are about 65 px, so a
    close-up is already an enlargement, and the engine's quality gate refuses a face
    much softer than this: at 0.7 px of defocus (and a 2 px streak near the camera) the
    engine found 10 of 310 mated passers; a defocus of 1 px at a 426 px crop makes most
    faces undescribable."""
    resized = cv2.resize(
        face_bgr, (side, side), interpolation=cv2.INTER_AREA if side < 150 else cv2.INTER_LINEAR
    )
    lit = 255.0 * np.power(resized.astype(np.float32) / 255.0, passer.gamma) * passer.gain
    if passer.blur_sigma > 0.2:
        lit = cv2.GaussianBlur(lit, (0, 0), sigmaX=passer.blur_sigma)
    if progress < 0.3:  # crossing the far field quickly: a 2 px streak
        lit = cv2.filter2D(lit, -1, np.full((1, 2), 0.5, dtype=np.float32))
    return np.clip(lit, 0, 255).astype(np.uint8)


def background_frames(
    width: int, height: int, videos: Sequence[Path]
) -> Iterator[NDArray[np.uint8]]:
    """The background videos' frames (BGR) scaled to cover width × height, one video
    after another, for ever."""
    while True:
        for video in videos:
            with FileSource(video, "background") as source:
                for frame in source:
                    yield cover(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), width, height)


def cover(image: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    """`image` scaled to cover width × height and cropped at the centre."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (math.ceil(image.shape[1] * scale), math.ceil(image.shape[0] * scale))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    top, left = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def background_videos() -> list[Path]:
    folder = shared_data_dir() / "video"
    return sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".gif"))


def render(spec: WalkbySpec, passers: Sequence[Passer], lfw_images: Path, video: Path) -> None:
    """Write the clip; each passer's `boxes` records where its crop was pasted."""
    writer = cv2.VideoWriter(
        str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (spec.width, spec.height)
    )
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    faces = {p.passer_id: cv2.imread(str(lfw_images / p.identity / p.image)) for p in passers}
    backgrounds = background_frames(spec.width, spec.height, background_videos())
    try:
        for frame in range(spec.frames):
            scene = next(backgrounds).copy()
            for passer in passers:
                placed = placement(passer, frame, spec)
                if placed is None:
                    continue
                left, top, side = placed
                progress = (frame - passer.first_frame) / max(spec.walk_frames - 1, 1)
                face = styled_face(faces[passer.passer_id], passer, side, progress)
                paste(scene, face, left, top)
                passer.boxes.append(
                    (
                        frame,
                        max(left, 0),
                        max(top, 0),
                        min(left + side, spec.width),
                        min(top + side, spec.height),
                    )
                )
            writer.write(scene)
    finally:
        writer.release()


@dataclass(frozen=True)
class WalkbyClip(ClipFolder):
    spec: WalkbySpec

    def passers(self) -> list[Passer]:
        listed = self.truth()["passers"]
        assert isinstance(listed, list)
        return [Passer(**{**p, "boxes": [tuple(b) for b in p["boxes"]]}) for p in listed]


def generate(
    spec: WalkbySpec,
    lfw_dir: Path | None = None,
    cache: Path = DEFAULT_CACHE,
    enrollable: Enrollable | None = None,
) -> WalkbyClip:
    """Write (or reuse) the clip for `spec` and return where it lies."""
    lfw_dir = lfw_dir or shared_data_dir() / "lfw-dev"
    folder = cache / spec.folder_name()
    clip = WalkbyClip(folder, spec)

    def fill(partial: Path) -> dict[str, object]:
        rng = np.random.default_rng(spec.seed)
        sexes = read_sex_labels(lfw_dir / "sex-labels.csv")
        mated, non_mated, watchlist = choose_people(
            load_identities(lfw_dir / "images"), sexes, spec, rng, enrollable or engine_enrolls()
        )
        passers = plan_passers(mated, non_mated, sexes, spec, rng)
        render(spec, passers, lfw_dir / "images", partial / "clip.mp4")
        write_watchlist(watchlist, partial / "watchlist")
        return {
            "box_is": "the pasted LFW crop; the face is centred in it, about 0.43 of its side",
            "passers": [asdict(p) for p in passers],
        }

    write_clip_folder(folder, spec, fill)
    return clip
