"""dlib's ResNet face descriptor (128-d) from face-recognition-models: the default.

On a CPU this is the expensive step of the engine: about 100 ms per face with the dlib-bin
wheel, under 10 ms with the same weights run by ONNX Runtime (the default runtime, see
`DlibDescriberConfig.runtime`); either way the tracker chooses which faces to describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from lfr.vision._lazy import LazyModel
from lfr.vision.alignment import DLIB_CHIP
from lfr.vision.describers.base import (
    Describer,
    DescriberSettings,
    MirrorAveraged,
    ModelCard,
    SingleCrop,
    l2_normalise,
    register_describer,
    register_model_card,
)
from lfr.vision.onnx_runtime import providers_field
from lfr.vision.types import Descriptor, RGBImage

DLIB_MODEL_ID = "dlib-resnet-v1"
DLIB_DIMENSION = 128
_CHIP_SHAPE = (DLIB_CHIP.size, DLIB_CHIP.size, 3)

DLIB_CARD = register_model_card(
    ModelCard(
        model_id=DLIB_MODEL_ID,
        # Chosen on the walk-by video benchmark with every face past the live gate
        # described (docs/evaluation.md); 0.946 before, the FPIR 1% point of a
        # 500-subject lfw-dev watchlist of stills (docs/engine.md).
        default_threshold=0.955,
        calibration_file=f"{DLIB_MODEL_ID}.json",
        equitability_file=f"{DLIB_MODEL_ID}.equitability.json",
        # On lfw-dev FNIR at FPIR 1% 42.6% → 31.7%; on the walk-by clip the strangers
        # alerted at 0.955 fell from 3–5 to 1–2 of 310 (docs/evaluation.md, "The margin").
        default_margin=0.01,
    )
)


class DlibDescriberConfig(DescriberSettings):
    type: Literal["dlib"] = "dlib"
    runtime: Literal["onnxruntime", "dlib"] = Field(
        default="onnxruntime",
        description=(
            "Which code runs the dlib ResNet weights. onnxruntime: the installed weights are "
            "converted to an ONNX graph in memory on first use and run by ONNX Runtime — the "
            "same descriptors (within 2e-7) about ten times faster on a CPU. dlib: dlib-bin's "
            "own implementation (needed for num_jitters)."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "Threads one ONNX Runtime run may use (runtime onnxruntime). 0: all cores. "
            "Several camera workers on one machine should divide the cores among them "
            "(`EngineConfig.threads`): one worker's threads waiting on another's cores cost "
            "more than they give."
        ),
    )
    providers: tuple[str, ...] = providers_field("describes")
    num_jitters: int = Field(
        default=0,
        ge=0,
        le=100,
        description=(
            "Describe this many randomly jittered copies and average them. Raising it makes "
            "descriptors slightly more stable but multiplies the time per face; 0 describes "
            "the chip once."
        ),
    )

    mirror: bool = Field(
        default=True,
        description=(
            "Also describe each chip mirrored and average the two (flip test-time "
            "augmentation): on lfw-dev FNIR at FPIR 1% fell from 30.0% to 26.8% (one image "
            "per subject, S-norm), for twice the time per face."
        ),
    )

    @model_validator(mode="after")
    def _jitters_need_dlib(self) -> DlibDescriberConfig:
        if self.num_jitters and self.runtime != "dlib":
            raise ValueError("num_jitters needs runtime 'dlib'")
        if self.runtime == "dlib" and self.providers != ("CPUExecutionProvider",):
            raise ValueError("providers need runtime 'onnxruntime' (dlib-bin runs on the CPU)")
        return self


def _load_model() -> Any:
    import dlib
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


class DlibDescriber(SingleCrop):
    """Describes 150×150 chips aligned like `dlib.get_face_chip` (padding 0.25)."""

    model_id = DLIB_MODEL_ID
    dimension = DLIB_DIMENSION
    alignment = DLIB_CHIP

    def __init__(self, config: DlibDescriberConfig) -> None:
        self._config = config
        self._model: LazyModel[Any] = LazyModel(_load_model)

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        if not chips:
            return np.zeros((0, self.dimension), dtype=np.float32)
        for index, chip in enumerate(chips):
            if chip.shape != _CHIP_SHAPE or chip.dtype != np.uint8:
                raise ValueError(
                    f"chip {index}: expected a 150×150×3 uint8 aligned face, got "
                    f"{chip.shape} {chip.dtype}"
                )
        batch = [np.ascontiguousarray(chip) for chip in chips]
        vectors = self._model.get().compute_face_descriptor(batch, self._config.num_jitters)
        return l2_normalise(np.array([np.asarray(v) for v in vectors]))


def _onnx_describer(config: DlibDescriberConfig) -> Describer:
    """The installed dlib weights as an ONNX graph in memory, run by ONNX Runtime. Nothing
    is written to disk; the conversion takes a fraction of a second."""
    from lfr.vision.describers.dlib_onnx_export import convert_installed_model
    from lfr.vision.describers.onnx import OnnxDescriber, OnnxDescriberConfig
    from lfr.vision.onnx_runtime import check_providers

    source, model = convert_installed_model()
    check_providers(config.providers, Path(source))  # refused now, not at the first face
    settings = OnnxDescriberConfig(
        model_path=source,
        model_id=DLIB_MODEL_ID,
        intra_op_threads=config.intra_op_threads,
        providers=config.providers,
    )
    return OnnxDescriber(settings, model)


@register_describer("dlib", DlibDescriberConfig)
def build_dlib(config: DlibDescriberConfig) -> Describer:
    plain = _onnx_describer(config) if config.runtime == "onnxruntime" else DlibDescriber(config)
    return MirrorAveraged(plain) if config.mirror else plain
