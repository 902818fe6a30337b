"""Describing an evaluation set's images, with a cache of descriptors keyed by model.

Describing is the slow step (about 100 ms per face with the dlib-bin wheel): a full
lfw-dev pass takes a quarter of an hour on one core. The cache lets every later run
(another protocol, another decision rule) reuse the descriptors. Its key is a hash of
everything that changes a descriptor — the describer's model id and configuration
(with the content of any model file it names), the detector's configuration, the
alignment, the rule for images where no face is found — so a change of any of them
starts a fresh cache instead of mixing descriptors of different models.

The cache holds templates of the *evaluation* images only (a public research set); it
lives under ``.lfr-cache/`` (git-ignored) and is never used by the recognition engine,
which keeps nothing about faces that do not alert (REC-4).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from lfr.vision.alignment import DLIB_CHIP
from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.describers import Describer, DescriberConfig, build_describer
from lfr.vision.describers.base import l2_normalise
from lfr.vision.detection import DetectorConfig, build_detector
from lfr.vision.imageio import load_image
from lfr.vision.landmarks import CHIP_PADDING, CHIP_SIZE, align
from lfr.vision.types import Box, QualityFactors, RGBImage

CACHE_FORMAT = 1
"""Bumped when what a cache entry holds changes, so old entries are not misread."""

DEFAULT_CACHE_ROOT = Path(".lfr-cache") / "descriptors"

DEFAULT_CHIP_PADDINGS = (CHIP_PADDING, 0.3)
"""Context test-time augmentation: each face is aligned once per padding (how much of
the head around the landmarks' square the chip shows: 0.25 is the model's own, 0.3 a
little more hair, jaw and ears), each chip described (mirrored too, by the describer)
and the unit descriptors averaged. On lfw-dev (S-norm, one image per subject) adding the
0.3 chip lowered FNIR at FPIR 1% from 26.8% to 25.5% and at FPIR 0.1% from 41.1% to
38.5%, for twice the description time; docs/evaluation.md."""

CENTRED_BOX = (0.30, 0.35, 0.72, 0.73)
"""Where the face lies in an LFW crop when the detector misses it: (left, top, right,
bottom) as fractions of the image's width and height — the median box dlib's HOG
detector (one upsampling) draws on lfw-dev's 150×150 crops, which are centred on the
face."""


class NoFaceRule(StrEnum):
    """What to do with an image in which the detector finds no face."""

    CENTRE = "centre"
    """Describe the face where LFW puts it (`CENTRED_BOX`): the image stays in the
    evaluation and is reported as 'no face found'. Measures the describer, not the
    detector."""
    SKIP = "skip"
    """Leave the image undescribed: a probe counts as a miss (and a non-mated probe as
    no alert), a gallery image is not enrolled. Measures detector and describer."""


@dataclass(frozen=True)
class DescribedImage:
    """One evaluation image after detection, alignment, quality and description."""

    path: Path
    faces_found: int
    descriptor: NDArray[np.float32] | None
    """None when no face was found and the rule is `SKIP`."""
    quality: QualityFactors | None

    @property
    def face_found(self) -> bool:
        return self.faces_found > 0


RUNTIME_ONLY_FIELDS = frozenset({"batch_size", "intra_op_threads", "providers"})
"""Configuration fields that change how fast descriptors come, not what they are: left
out of the cache key, so that running on more threads or another device reuses it."""


def _config_fingerprint(config: BaseModel) -> dict[str, Any]:
    """The configuration as JSON, with each file it names replaced by its content's hash
    (a model file swapped for another at the same path is another model; the same file
    reached by another path is the same model)."""
    fingerprint: dict[str, Any] = json.loads(config.model_dump_json())
    for name, value in config:
        if name in RUNTIME_ONLY_FIELDS:
            del fingerprint[name]
        elif isinstance(value, Path) and value.is_file():
            fingerprint[name] = {"sha256": file_sha256(value)}
    return fingerprint


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(
    describer: Describer,
    describer_config: BaseModel,
    detector_config: BaseModel,
    no_face: NoFaceRule,
    chip_paddings: Sequence[float] = (CHIP_PADDING,),
) -> str:
    """A short hash of everything that changes a descriptor."""
    identity = {
        "format": CACHE_FORMAT,
        "model_id": describer.model_id,
        "dimension": describer.dimension,
        "describer": _config_fingerprint(describer_config),
        "detector": _config_fingerprint(detector_config),
        "chip": [CHIP_SIZE, *chip_paddings],
        "no_face": str(no_face),
        "centred_box": CENTRED_BOX if no_face is NoFaceRule.CENTRE else None,
    }
    text = json.dumps(identity, sort_keys=True)
    return f"{describer.model_id}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class DescriptorCache:
    """One folder per cache key; one small ``.npz`` per image, named by the hash of the
    image's bytes (a renamed file is still found; an edited one is described again).
    Writes are atomic (temporary file, then rename), so an interrupted run leaves no
    half-written entry and two runs may share the cache."""

    def __init__(self, root: Path, key: str) -> None:
        self.folder = root / key
        self.folder.mkdir(parents=True, exist_ok=True)

    def load(self, digest: str) -> tuple[int, NDArray[np.float32] | None, QualityFactors | None]:
        path = self.folder / f"{digest}.npz"
        if not path.is_file():
            raise KeyError(digest)
        with np.load(path) as entry:
            faces = int(entry["faces"])
            descriptor = entry["descriptor"] if entry["descriptor"].size else None
            quality_json = str(entry["quality"])
        quality = QualityFactors.model_validate_json(quality_json) if quality_json else None
        return faces, descriptor, quality

    def store(
        self,
        digest: str,
        faces: int,
        descriptor: NDArray[np.float32] | None,
        quality: QualityFactors | None,
    ) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            np.savez(
                stream,
                faces=np.int64(faces),
                descriptor=descriptor if descriptor is not None else np.zeros(0, np.float32),
                quality=np.str_(quality.model_dump_json() if quality else ""),
            )
        os.replace(temporary, self.folder / f"{digest}.npz")


def centred_box(image: RGBImage) -> Box:
    height, width = image.shape[:2]
    left, top, right, bottom = CENTRED_BOX
    return Box(
        left=round(left * width),
        top=round(top * height),
        right=round(right * width),
        bottom=round(bottom * height),
    )


def central_face(observations: Sequence[FaceObservation], image: RGBImage) -> FaceObservation:
    """The face nearest the image's centre: LFW labels the person its crop is centred
    on; other faces in the picture are bystanders."""
    centre_y, centre_x = image.shape[0] / 2, image.shape[1] / 2

    def distance(observation: FaceObservation) -> float:
        box = observation.box
        x, y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        return float((x - centre_x) ** 2 + (y - centre_y) ** 2)

    return min(observations, key=distance)


class EvaluationDescriber:
    """Turns evaluation images into `DescribedImage`s, through the cache when given."""

    def __init__(
        self,
        analyser: FaceAnalyser,
        describer: Describer,
        no_face: NoFaceRule = NoFaceRule.CENTRE,
        cache: DescriptorCache | None = None,
        batch_size: int = 16,
        chip_paddings: Sequence[float] = (CHIP_PADDING,),
    ) -> None:
        if not chip_paddings:
            raise ValueError("at least one chip padding is needed")
        # A describer that takes another crop than dlib's chip gets it cut (and is described
        # as the engine describes it: context paddings are the dlib chip's augmentation).
        self._analyser = analyser.cutting(describer.alignments)
        self._describer = describer
        self._own_crop = describer.alignments != (DLIB_CHIP,)
        self.no_face = no_face
        self._cache = cache
        self._batch_size = batch_size
        self._chip_paddings = tuple(chip_paddings)
        self.setup: dict[str, Any] = {
            "model_id": describer.model_id,
            "no_face": str(no_face),
            "chip_paddings": list(self._chip_paddings),
        }
        """What the figures were measured with; `build_evaluation_describer` adds the
        configurations and the cache key."""

    def describe_setup(self) -> dict[str, Any]:
        return dict(self.setup)

    def describe_all(
        self, paths: Sequence[Path], advance: Callable[[int], None] = lambda n: None
    ) -> list[DescribedImage]:
        """Every image in order; `advance(n)` is called as images are done (progress)."""
        results: dict[Path, DescribedImage] = {}
        pending: list[tuple[Path, str]] = []
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            cached = self._from_cache(path, digest)
            if cached is not None:
                results[path] = cached
                advance(1)
            else:
                pending.append((path, digest))
        for batch in _chunks(pending, self._batch_size):
            for described in self._describe_batch(batch):
                results[described.path] = described
            advance(len(batch))
        return [results[path] for path in paths]

    def _from_cache(self, path: Path, digest: str) -> DescribedImage | None:
        if self._cache is None:
            return None
        try:
            faces, descriptor, quality = self._cache.load(digest)
        except KeyError:
            return None
        return DescribedImage(path, faces, descriptor, quality)

    def _describe_batch(self, batch: Sequence[tuple[Path, str]]) -> list[DescribedImage]:
        observed: list[tuple[Path, str, int, FaceObservation | None, RGBImage]] = []
        for path, digest in batch:
            image = load_image(path)
            found = self._analyser.analyse(image)
            if found:
                chosen: FaceObservation | None = central_face(found, image)
            elif self.no_face is NoFaceRule.CENTRE:
                chosen = self._analyser.observe(image, centred_box(image), confidence=0.0)
            else:
                chosen = None
            observed.append((path, digest, len(found), chosen, image))
        faces = [(o, image) for _, _, _, o, image in observed if o is not None]
        descriptors = iter(self._describe_faces(faces))
        described = []
        for path, digest, faces_found, observation, _ in observed:
            descriptor = next(descriptors) if observation is not None else None
            quality = observation.quality if observation is not None else None
            if self._cache is not None:
                self._cache.store(digest, faces_found, descriptor, quality)
            described.append(DescribedImage(path, faces_found, descriptor, quality))
        return described

    def _describe_faces(
        self, faces: Sequence[tuple[FaceObservation, RGBImage]]
    ) -> NDArray[np.float32]:
        """One descriptor per face: the unit mean of its chips' descriptors, one chip per
        padding, each aligned from the face's landmarks."""
        if self._own_crop:
            return self._describer.describe_faces([observation for observation, _ in faces])
        chips = [
            align(image, observation.landmarks, CHIP_SIZE, padding)
            for observation, image in faces
            for padding in self._chip_paddings
        ]
        if not chips:
            return np.zeros((0, self._describer.dimension), np.float32)
        described = self._describer.describe(chips).reshape(
            len(faces), len(self._chip_paddings), -1
        )
        return l2_normalise(described.sum(axis=1))


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def build_evaluation_describer(
    detector_config: DetectorConfig,
    describer_config: DescriberConfig,
    no_face: NoFaceRule = NoFaceRule.CENTRE,
    cache_root: Path | None = DEFAULT_CACHE_ROOT,
    chip_paddings: Sequence[float] = DEFAULT_CHIP_PADDINGS,
) -> tuple[EvaluationDescriber, str]:
    """The engine's own parts (detector, 5-point alignment, describer) wired for an
    evaluation, with the cache for their configuration; returns it and the cache key."""
    describer = build_describer(describer_config)
    key = cache_key(describer, describer_config, detector_config, no_face, chip_paddings)
    cache = DescriptorCache(cache_root, key) if cache_root is not None else None
    analyser = FaceAnalyser(build_detector(detector_config))
    evaluation = EvaluationDescriber(
        analyser, describer, no_face, cache, chip_paddings=chip_paddings
    )
    evaluation.setup |= {
        "describer": _config_fingerprint(describer_config),
        "detector": _config_fingerprint(detector_config),
        "cache_key": key,
    }
    return evaluation, key
