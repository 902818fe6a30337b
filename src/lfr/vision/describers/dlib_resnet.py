"""dlib's ResNet face descriptor (128-d) from face-recognition-models: the default.

On a CPU this is the expensive step of the engine (about 100 ms per face with the
dlib-bin wheel), which is why the tracker chooses which faces to describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision._lazy import LazyModel
from lfr.vision.describers.base import l2_normalise, register_describer
from lfr.vision.types import Descriptor, RGBImage

DLIB_MODEL_ID = "dlib-resnet-v1"
DLIB_DIMENSION = 128
_CHIP_SHAPE = (150, 150, 3)


class DlibDescriberConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["dlib"] = "dlib"
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


def _load_model() -> Any:
    import dlib
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


class DlibDescriber:
    """Describes 150×150 chips aligned like `dlib.get_face_chip`."""

    model_id = DLIB_MODEL_ID
    dimension = DLIB_DIMENSION

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


@register_describer("dlib")
def build_dlib(config: DlibDescriberConfig) -> DlibDescriber:
    return DlibDescriber(config)
