"""Reading evaluation sets: an LFW-layout image folder, LFW's pairs file, a labels file.

Bad input is refused with the file (and line) and the reason; nothing is guessed.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetError(ValueError):
    """An evaluation input that cannot be used; `str()` names the file and the reason."""


@dataclass(frozen=True)
class Pair:
    """One line of a pairs file: two images, and whether they show the same person."""

    line: int
    first: Path
    second: Path
    first_identity: str
    second_identity: str

    @property
    def same(self) -> bool:
        return self.first_identity == self.second_identity


def identity_images(images_dir: Path) -> dict[str, list[Path]]:
    """``IMAGES/<Name>/*.jpg`` as {name: images sorted by file name}, names sorted."""
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir}: not a folder")
    identities = {}
    for folder in sorted(p for p in images_dir.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            identities[folder.name] = images
    if not identities:
        raise DatasetError(f"{images_dir}: no <identity>/<image> folders with images")
    return identities


class IdentityHalf(StrEnum):
    """One of two halves of a folder's identities, split by a hash of the name (stable,
    and blind to anything about the person): fit on one, evaluate on the other."""

    A = "a"
    B = "b"


def half_of(name: str) -> IdentityHalf:
    first_byte = hashlib.sha256(name.encode()).digest()[0]
    return IdentityHalf.A if first_byte % 2 == 0 else IdentityHalf.B


def in_half(identities: Mapping[str, list[Path]], half: IdentityHalf) -> dict[str, list[Path]]:
    """The identities of `half` only."""
    chosen = {name: images for name, images in identities.items() if half_of(name) is half}
    if not chosen:
        raise DatasetError(f"no identity falls in half {half}")
    return chosen


def lfw_image_path(images_dir: Path, name: str, number: str, where: str) -> Path:
    """LFW names images ``<Name>/<Name>_<NNNN>.jpg`` (numbers from 1)."""
    try:
        index = int(number)
    except ValueError:
        raise DatasetError(f"{where}: image number {number!r} is not a number") from None
    path = images_dir / name / f"{name}_{index:04d}.jpg"
    if not path.is_file():
        raise DatasetError(f"{where}: image {path} not found")
    return path


def read_pairs(pairs_file: Path, images_dir: Path) -> list[Pair]:
    """LFW's pairs format: ``name i j`` (same person) or ``name1 i name2 j`` (different).

    A leading line of one or two numbers (LFW's "10 300" header) and lines starting with
    ``#`` are skipped.
    """
    if not pairs_file.is_file():
        raise DatasetError(f"{pairs_file}: not found")
    pairs: list[Pair] = []
    for number, raw in enumerate(pairs_file.read_text().splitlines(), start=1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(pairs) == 0 and len(fields) <= 2 and all(f.isdigit() for f in fields):
            continue
        where = f"{pairs_file}:{number}"
        if len(fields) == 3:
            name, i, j = fields
            fields = [name, i, name, j]
        if len(fields) != 4:
            raise DatasetError(f"{where}: expected 'name i j' or 'name1 i name2 j'")
        first_name, i, second_name, j = fields
        pairs.append(
            Pair(
                line=number,
                first=lfw_image_path(images_dir, first_name, i, where),
                second=lfw_image_path(images_dir, second_name, j, where),
                first_identity=first_name,
                second_identity=second_name,
            )
        )
    if not pairs:
        raise DatasetError(f"{pairs_file}: no pairs")
    return pairs


def read_labels(labels_file: Path) -> dict[str, str]:
    """An ``identity,group`` CSV (a header line ``identity,group`` is allowed)."""
    if not labels_file.is_file():
        raise DatasetError(f"{labels_file}: not found")
    labels: dict[str, str] = {}
    with labels_file.open(newline="") as stream:
        for number, row in enumerate(csv.reader(stream), start=1):
            if not row or (
                number == 1 and [c.strip().lower() for c in row] == ["identity", "group"]
            ):
                continue
            where = f"{labels_file}:{number}"
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise DatasetError(f"{where}: expected 'identity,group'")
            identity, group = row[0].strip(), row[1].strip()
            if labels.get(identity, group) != group:
                raise DatasetError(f"{where}: {identity} is already in group {labels[identity]}")
            labels[identity] = group
    if not labels:
        raise DatasetError(f"{labels_file}: no labels")
    return labels


@dataclass(frozen=True)
class IdentificationSplit:
    """Who is enrolled with which images, and which images search.

    The issue's protocol (`gallery_images=1`): each identity with at least two images
    enrols its first image (sorted by name) and searches with the rest (mated probes);
    each identity with one image searches once (non-mated probe).

    With `gallery_images=K` (fusion of several images per subject) an identity enrols
    its first ``min(K, n - 1)`` images. `first_probe` (default K) says from which image
    on mated probes are taken, so that runs with different K can be compared on the
    same probes (e.g. K=1 and K=3, both with first_probe=3).
    """

    gallery: Mapping[str, Sequence[Path]]
    mated: Sequence[tuple[str, Path]]
    nonmated: Sequence[tuple[str, Path]]


def split_identification(
    identities: Mapping[str, Sequence[Path]],
    gallery_images: int = 1,
    first_probe: int | None = None,
) -> IdentificationSplit:
    if gallery_images < 1:
        raise ValueError(f"gallery_images must be at least 1, got {gallery_images}")
    start = gallery_images if first_probe is None else first_probe
    if start < gallery_images:
        raise ValueError(
            f"first_probe ({start}) must not be below gallery_images ({gallery_images})"
        )
    gallery: dict[str, list[Path]] = {}
    mated: list[tuple[str, Path]] = []
    nonmated: list[tuple[str, Path]] = []
    for name, images in identities.items():
        if len(images) == 1:
            nonmated.append((name, images[0]))
            continue
        gallery[name] = list(images[: min(gallery_images, len(images) - 1)])
        mated.extend((name, image) for image in images[start:])
    if not gallery:
        raise DatasetError("no identity has two or more images: nobody to enrol")
    return IdentificationSplit(gallery=gallery, mated=mated, nonmated=nonmated)
