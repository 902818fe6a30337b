"""Score-level fusion of several describers (REC-2): the weighted sum of their cosine
similarities, as one describer.

Each part describes the face from its own crop; its unit descriptor is scaled by the
square root of its weight (weights normalised to sum to 1) and the parts are
concatenated. The dot product of two such descriptors is exactly
``Σ wᵢ · cos(partᵢ)``, and the concatenation has unit length, so the fused score goes
through the one decision rule of the engine and of `lfr evaluate` — watchlist fusion of
several images, normalisation, calibration, threshold — like any describer's cosine:
there is no second code path for it. The fused model has its own id (the parts' ids and
weights), so its templates never compare with a single describer's, and it needs its
own calibration and threshold.

    {"type": "fusion", "parts": [
        {"describer": {"type": "dlib", "mirror": false}, "weight": 0.85},
        {"describer": {"type": "faceres", "model_path": "models/faceres.onnx"}, "weight": 0.15}]}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lfr.vision.alignment import ChipAlignment
from lfr.vision.describers.base import (
    Cropped,
    Describer,
    DescriberSettings,
    register_describer,
)
from lfr.vision.types import Descriptor, RGBImage


class FusionPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    describer: dict[str, Any] = Field(description="A describer's settings (its `type` first).")
    weight: float = Field(
        gt=0, allow_inf_nan=False, description="Its share of the fused score (normalised to 1)."
    )

    @field_validator("describer")
    @classmethod
    def _a_describer(cls, settings: dict[str, Any]) -> dict[str, Any]:
        from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER

        if settings.get("type") == "dlib":
            # The flip is the engine's description's (Description.mirror), never a part's
            # own: a dlib part describes each chip once unless told otherwise.
            settings = {"mirror": False, **settings}
        checked = DESCRIBER_CONFIG_ADAPTER.validate_python(settings)
        if checked.type == "fusion":
            raise ValueError("a fusion's part cannot be a fusion")
        dumped: dict[str, Any] = checked.model_dump(mode="json")
        return dumped


class FusionDescriberConfig(DescriberSettings):
    """Describers fused at score level (see the module's text)."""

    type: Literal["fusion"] = "fusion"
    parts: tuple[FusionPart, ...] = Field(description="The describers, weighted (two or more).")

    @field_validator("parts")
    @classmethod
    def _two_or_more(cls, parts: tuple[FusionPart, ...]) -> tuple[FusionPart, ...]:
        # Checked once every part is valid: a refused part is reported alone.
        if len(parts) < 2:
            raise ValueError(f"a fusion needs two describers or more, got {len(parts)}")
        return parts


def fused_model_id(parts: Sequence[tuple[str, float]]) -> str:
    """The fused model's id from its parts' ids and weights (normalised here), in the
    canonical order of the parts (`FusedDescriber` lays its descriptor out in that order),
    so that the same fusion listed in another order is the same model."""
    weighted = sorted(normalised(parts))
    return "fusion(" + ",".join(f"{model}@{weight:.4g}" for model, weight in weighted) + ")"


def normalised(parts: Sequence[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """The parts with their weights scaled to sum to 1."""
    total = sum(weight for _, weight in parts)
    return [(part, weight / total) for part, weight in parts]


class FusedDescriber:
    """Several describers as one: weighted, concatenated unit descriptors."""

    def __init__(self, parts: Sequence[tuple[Describer, float]]) -> None:
        # The canonical order (by model id): the descriptor's layout and the id agree
        # whichever order the settings list the parts in.
        self._parts = sorted(normalised(parts), key=lambda part: (part[0].model_id, part[1]))
        self._scales = [np.float32(math.sqrt(weight)) for _, weight in self._parts]
        self.model_id = fused_model_id([(d.model_id, w) for d, w in self._parts])
        self.dimension = sum(describer.dimension for describer, _ in self._parts)
        crops = (a for describer, _ in self._parts for a in describer.alignments)
        self._alignments: tuple[ChipAlignment, ...] = tuple(dict.fromkeys(crops))

    @property
    def alignments(self) -> tuple[ChipAlignment, ...]:
        return self._alignments

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        """Chips of one crop serve only parts that all take that crop."""
        if len(self._alignments) > 1:
            raise ValueError(
                "the fused describers take different crops: describe analysed faces "
                "(describe_faces)"
            )
        return self._joined([describer.describe(chips) for describer, _ in self._parts])

    def describe_faces(self, faces: Sequence[Cropped]) -> Descriptor:
        return self._joined([describer.describe_faces(faces) for describer, _ in self._parts])

    def _joined(self, described: Sequence[Descriptor]) -> Descriptor:
        scaled = [rows * scale for rows, scale in zip(described, self._scales, strict=True)]
        return np.ascontiguousarray(np.concatenate(scaled, axis=1), dtype=np.float32)


@register_describer("fusion", FusionDescriberConfig)
def build_fusion(config: FusionDescriberConfig) -> Describer:
    from lfr.vision.describers import DESCRIBER_CONFIG_ADAPTER, build_describer

    parts = []
    for part in config.parts:
        settings = DESCRIBER_CONFIG_ADAPTER.validate_python(part.describer)
        if config.intra_op_threads and not settings.intra_op_threads:
            settings = settings.model_copy(update={"intra_op_threads": config.intra_op_threads})
        parts.append((build_describer(settings), part.weight))
    return FusedDescriber(parts)
