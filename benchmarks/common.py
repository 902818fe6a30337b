"""What the benchmarks share: the describer choice, enrolled watchlists (cached), the
clips, peak memory."""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import CACHE_ROOT, shared_data_dir
from lfr.vision.analysis import FaceAnalyser
from lfr.vision.decision import Description
from lfr.vision.describers import (
    DESCRIBER_CONFIG_ADAPTER,
    DescriberConfig,
    build_describer,
)
from lfr.vision.detection import DetectorConfig, HogDetectorConfig, build_detector
from lfr.vision.engine_config import EngineConfig
from lfr.vision.enrolment import load_watchlist_dir, watchlist_images
from lfr.vision.matcher import Gallery
from lfr.vision.quality import QualityGate

ONNX_MODEL = CACHE_ROOT / "models" / "dlib-resnet.onnx"
GALLERY_CACHE = CACHE_ROOT / "benchmarks" / "galleries"


NAIVE_DESCRIBER = "dlib-bin"
"""The naive loop's describer: face_recognition itself runs dlib-bin's ResNet."""


def describer_config(name: str) -> DescriberConfig:
    """``dlib`` (the engine's own describer: dlib's ResNet weights run by ONNX Runtime,
    one chip, no flip — as the live engine describes and enrols), ``dlib-bin`` (the same
    weights run by dlib-bin, as face_recognition does) or ``onnx`` (the network exported
    to an ONNX file, exported here on first use). Watchlists and probes must be described
    alike: a flipped watchlist searched with plain probes is not what the engine runs."""
    if name == "dlib":
        return EngineConfig().describer
    if name == NAIVE_DESCRIBER:
        return DESCRIBER_CONFIG_ADAPTER.validate_python(
            {"type": "dlib", "runtime": "dlib", "mirror": False}
        )
    if name == "onnx":
        if not ONNX_MODEL.is_file():
            from lfr.vision.describers.dlib_onnx_export import (
                default_model_path,
                export_dlib_model,
            )

            ONNX_MODEL.parent.mkdir(parents=True, exist_ok=True)
            export_dlib_model(ONNX_MODEL, default_model_path(), fuse=True)
        return DESCRIBER_CONFIG_ADAPTER.validate_python({"type": "onnx", "model_path": ONNX_MODEL})
    raise ValueError(f"unknown describer {name!r}: dlib, {NAIVE_DESCRIBER} or onnx")


def naive_detector() -> DetectorConfig:
    """The naive loop's detector, also used to enrol watchlists: dlib HOG on the whole
    frame at full resolution, no upsampling."""
    return HogDetectorConfig()


@dataclass(frozen=True)
class Enrolled:
    gallery: Gallery
    refused: int


def enrolled_gallery(
    watchlist: Path, describer: str, description: Description | None = None
) -> Enrolled:
    """The watchlist enrolled through the engine's own enrolment (WL-5 gate), each image
    described as `description` says (default plain, as the camera's probes must be),
    cached by the folder's file list, the describer and the description, since enrolling
    200 subjects with dlib takes most of a minute and every benchmark run needs it."""
    config = describer_config(describer)
    describing = description or Description()
    listing = [f"{s}/{p.name}:{p.stat().st_size}" for s, p in watchlist_images(watchlist)]
    keyed = [str(watchlist.resolve()), listing, config.model_dump_json()]
    if describing != Description():  # plain keeps the key galleries were cached under
        keyed.append(describing.model_dump_json())
    key_text = json.dumps(keyed)
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    cached = GALLERY_CACHE / f"{describer}-{key}.npz"
    if cached.is_file():
        with np.load(cached) as stored:
            subjects = [str(s) for s in stored["subjects"]]
            return Enrolled(Gallery.build(subjects, stored["descriptors"]), int(stored["refused"]))
    analyser = FaceAnalyser(build_detector(naive_detector()))
    gallery, refusals = load_watchlist_dir(
        watchlist,
        analyser,
        build_describer(config),
        QualityGate.for_enrolment(),
        description=describing,
    )
    subjects = list(gallery.subject_ids)
    descriptors = gallery.similarities(np.eye(gallery.dimension, dtype=np.float32)).T
    # One template per subject here, so the identity matrix reads the templates back.
    GALLERY_CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, subjects=np.array(subjects), descriptors=descriptors, refused=len(refusals))
    return Enrolled(gallery, len(refusals))


def peak_rss_mb() -> float:
    """This process's peak resident memory, MiB. Read from VmHWM (the high-water mark of
    this process's own memory): `getrusage`'s ru_maxrss survives `exec`, so a child
    started by a large parent would report the parent's size."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def video_clips() -> list[Path]:
    folder = shared_data_dir() / "video"
    return sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".gif"))


def video_watchlist(crowd_watchlist: Path) -> Path:
    """The crowd's LFW watchlist plus the two people of the Hamilton clip (their photos
    from the face_recognition examples): no one in the Intel clips is on it, so any alert
    there is false."""
    folder = CACHE_ROOT / "benchmarks" / "watchlist-video"
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(crowd_watchlist, partial)
    examples = shared_data_dir() / "faces" / "face_recognition-examples"
    for person in ("lin-manuel-miranda", "alex-lacamoire"):
        (partial / person).mkdir()
        shutil.copyfile(examples / f"{person}.png", partial / person / f"{person}.png")
    partial.rename(folder)
    return folder
