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

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.decision import Description
from lfr.vision.describers import (
    Describer,
    DescriberConfig,
    DlibDescriberConfig,
    build_describer,
)
from lfr.vision.detection import DetectorConfig, build_detector
from lfr.vision.imageio import load_image
from lfr.vision.landmarks import CHIP_SIZE
from lfr.vision.types import Box, QualityFactors, RGBImage

CACHE_FORMAT = 1
"""Bumped when what a cache entry holds changes, so old entries are not misread."""

DEFAULT_CACHE_ROOT = Path(".lfr-cache") / "descriptors"

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
    description: Description | None = None,
) -> str:
    """A short hash of everything that changes a descriptor. The description's flip is
    keyed as the describer's `mirror` (where it was set before it was the engine's), so
    that descriptors described before are found."""
    describing = description or Description()
    fingerprint = _config_fingerprint(describer_config)
    if "mirror" in fingerprint or describing.mirror:
        fingerprint["mirror"] = describing.mirror
    identity = {
        "format": CACHE_FORMAT,
        "model_id": describer.model_id,
        "dimension": describer.dimension,
        "describer": fingerprint,
        "detector": _config_fingerprint(detector_config),
        "chip": [CHIP_SIZE, *describing.chip_paddings],
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
        description: Description | None = None,
    ) -> None:
        self._analyser = analyser
        self._describer = describer
        self.no_face = no_face
        self._cache = cache
        self._batch_size = batch_size
        self.description = description or Description()
        self.setup: dict[str, Any] = {
            "model_id": describer.model_id,
            "no_face": str(no_face),
            "description": self.description.name,
            "mirror": self.description.mirror,
            "chip_paddings": list(self.description.chip_paddings),
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
        """One descriptor per face, as the engine describes (`Description`)."""
        return self.description.describe(self._describer, [o for o, _ in faces])


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def build_evaluation_describer(
    detector_config: DetectorConfig,
    describer_config: DescriberConfig,
    no_face: NoFaceRule = NoFaceRule.CENTRE,
    cache_root: Path | None = DEFAULT_CACHE_ROOT,
    description: Description | None = None,
) -> tuple[EvaluationDescriber, str]:
    """The engine's own parts (detector, 5-point alignment, describer, description)
    wired for an evaluation, with the cache for their configuration; returns it and the
    cache key."""
    if isinstance(describer_config, DlibDescriberConfig) and describer_config.mirror:
        raise ValueError("the flip is the description's (Description.mirror), not the describer's")
    describer = build_describer(describer_config)
    key = cache_key(describer, describer_config, detector_config, no_face, description)
    cache = DescriptorCache(cache_root, key) if cache_root is not None else None
    describing = description or Description()
    analyser = FaceAnalyser(
        build_detector(detector_config), alignments=describing.alignments(describer)
    )
    evaluation = EvaluationDescriber(analyser, describer, no_face, cache, description=description)
    evaluation.setup |= {
        "describer": _config_fingerprint(describer_config),
        "detector": _config_fingerprint(detector_config),
        "cache_key": key,
    }
    return evaluation, key
