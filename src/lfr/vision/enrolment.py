"""Building a watchlist gallery from a folder of images (WL-5).

Two layouts are read: ``DIR/<subject>/*.jpg|jpeg|png`` (several photographs per subject)
and ``DIR/<subject>.jpg|jpeg|png`` (one per subject). Every image goes through the same
checks (`load_image`, then `check_enrolment_image`); a refused image is reported with its
reason and the rest are enrolled, so one bad photograph never stops a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.decision import Description
from lfr.vision.describers import Describer
from lfr.vision.imageio import ImageError, load_image
from lfr.vision.matcher import Gallery
from lfr.vision.quality import EnrolmentRefused, QualityGate, check_enrolment_image
from lfr.vision.types import ListKind

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


@dataclass(frozen=True, slots=True)
class RefusedImage:
    """A watchlist image that was not enrolled, and why (what `EnrolmentRefused` said of it,
    or why it could not be read)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def watchlist_images(path: Path) -> Iterator[tuple[str, Path]]:
    """(subject, image path) for every image in either layout, in a stable order. Hidden
    files and files of other types are skipped."""
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: watchlist folder not found or not a folder")
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for image in sorted(entry.iterdir()):
                if _is_image_file(image):
                    yield entry.name, image
        elif _is_image_file(entry):
            yield entry.stem, entry


def load_watchlist_dir(
    path: Path,
    analyser: FaceAnalyser,
    describer: Describer,
    gate: QualityGate,
    *,
    list_kind: ListKind = ListKind.WATCHLIST,
    description: Description | None = None,
) -> tuple[Gallery, list[RefusedImage]]:
    """Enrol every usable image under `path` (either layout), each described as
    `description` says (the engine's: default plain); return the gallery and the
    refusals (WL-5). A subject all of whose images are refused is left out."""
    describing = description or Description()
    subjects: list[str] = []
    faces: list[FaceObservation] = []
    analyser = analyser.cutting(describing.alignments(describer))
    refusals: list[RefusedImage] = []
    for subject, image_path in watchlist_images(path):
        try:
            face = check_enrolment_image(load_image(image_path), analyser, gate)
        except ImageError as error:
            refusals.append(RefusedImage(image_path, error.reason))
            continue
        except EnrolmentRefused as refused:
            refusals.append(RefusedImage(image_path, refused.reason))
            continue
        subjects.append(subject)
        faces.append(face)
    descriptors = describing.describe(describer, faces)
    gallery = Gallery.build(
        subjects, descriptors, [list_kind] * len(subjects), model_id=describer.model_id
    )
    return gallery, refusals


def _is_image_file(path: Path) -> bool:
    return (
        path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES
    )
