"""What a description costs per face: plain against flip and context augmentation
(`EngineConfig.description`, `lfr.vision.decision.Description`), on this machine.

    PYTHONPATH=src python -m benchmarks.description_cost [--rounds 5] [--faces 16]

The faces are real: every face dlib's HOG detector (one upsampling) finds in the
face_recognition example photographs, analysed as the engine analyses them (the crops
each description needs cut from the photograph), repeated to `--faces`. Per description:
CPU ms to describe one face (process time, so other processes on a shared machine count
less than in wall time; best and median of `--rounds` rounds, batches of `--faces` as the
tracker hands them over at most) and CPU ms to cut its extra crops (paid on every analysed
face of every frame, described or not). Both descriptions are measured in the same run,
alternately, so that the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from benchmarks import shared_data_dir
from lfr.vision.analysis import FaceAnalyser, FaceObservation
from lfr.vision.decision import Description
from lfr.vision.describers import build_describer
from lfr.vision.detection import HogDetectorConfig, build_detector
from lfr.vision.engine_config import EngineConfig
from lfr.vision.imageio import load_image

DESCRIPTIONS = {
    "plain": Description(),
    "flip": Description(mirror=True),
    "flip + context": Description(mirror=True, chip_paddings=(0.25, 0.3)),
}


def _cpu_ms(action: Callable[[], object], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        action()
    return (time.process_time() - started) * 1000 / repeat


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--faces", type=int, default=16)
    args = parser.parse_args(argv)
    describer = build_describer(EngineConfig().describer)
    folder = shared_data_dir() / "faces" / "face_recognition-examples"
    images = [load_image(p) for p in sorted(folder.glob("*.jpg"))]
    analysers = {
        name: FaceAnalyser(
            build_detector(HogDetectorConfig(upsample=1)),
            alignments=description.alignments(describer),
        )
        for name, description in DESCRIPTIONS.items()
    }
    plain = analysers["plain"]
    found = [(image, face.box) for image in images for face in plain.analyse(image)]
    repeats = (found * (args.faces // max(1, len(found)) + 1))[: args.faces]
    faces: dict[str, list[FaceObservation]] = {
        name: [analyser.observe(image, box) for image, box in repeats]
        for name, analyser in analysers.items()
    }
    for name, description in DESCRIPTIONS.items():
        description.describe(describer, faces[name][:1])  # load the model, size buffers
    describe_ms: dict[str, list[float]] = {name: [] for name in DESCRIPTIONS}
    observe_ms: dict[str, list[float]] = {name: [] for name in DESCRIPTIONS}
    image, box = repeats[0]
    for _ in range(args.rounds):
        for name, description in DESCRIPTIONS.items():
            batch = faces[name]
            describe_ms[name].append(
                _cpu_ms(lambda d=description, b=batch: d.describe(describer, b), 3) / len(batch)
            )
            analyser = analysers[name]
            observe_ms[name].append(_cpu_ms(lambda a=analyser: a.observe(image, box), 20))
    print(f"{len(found)} faces found, batches of {args.faces}; CPU ms (best / median)\n")
    print("| description | passes per face | describe ms per face | analyse ms per face |")
    print("|---|---:|---:|---:|")
    for name, description in DESCRIPTIONS.items():
        d, o = describe_ms[name], observe_ms[name]
        print(
            f"| {name} | {description.passes_per_face} | {min(d):.1f} / "
            f"{statistics.median(d):.1f} | {min(o):.2f} / {statistics.median(o):.2f} |"
        )
    check = DESCRIPTIONS["plain"].describe(describer, faces["plain"][:1])
    assert np.isfinite(check).all()


if __name__ == "__main__":
    main()
