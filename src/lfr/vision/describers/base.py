"""The describer Protocol and its registry (REC-2): a describer turns face chips, cut as
it declares (`lfr.vision.alignment`), into descriptors whose cosine similarity says how
alike two faces are.

What belongs to a model rather than to the engine's settings — its id, the crop it was
trained on, the shipped calibration file, the evaluated default threshold and the shipped
equitability figures (the equitable floor) — is declared by the describer's own module:
its `alignment` on the describer, the rest in a `ModelCard` (`register_model_card`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.alignment import DLIB_CHIP, ChipAlignment
from lfr.vision.types import Descriptor, RGBImage


class DescriberGoneError(RuntimeError):
    """The describer can describe nothing more (the machine's describer service is gone):
    unlike a fault of one frame, the camera worker stops on it, to be restarted with a
    describer that works, rather than run on recognising nobody."""


class Cropped(Protocol):
    """A face that can hand over its chip cut a given way (`FaceObservation`)."""

    def chip_for(self, alignment: ChipAlignment) -> RGBImage: ...


class Describer(Protocol):
    """Turns chips cut as it declares into descriptors."""

    model_id: str
    """Names the model and version: descriptors of different models never compare."""
    dimension: int

    @property
    def alignments(self) -> tuple[ChipAlignment, ...]:
        """Every crop it needs from a face, the one `describe` takes first."""
        ...

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        """(len(chips), dimension) float32, every row of unit length; each chip cut as
        `alignments[0]`."""
        ...

    def describe_faces(self, faces: Sequence[Cropped]) -> Descriptor:
        """The same for analysed faces: each cut as the describer needs."""
        ...


class SingleCrop:
    """What a describer of one crop shares: its `alignments` and `describe_faces`."""

    alignment: ChipAlignment = DLIB_CHIP

    @property
    def alignments(self) -> tuple[ChipAlignment, ...]:
        return (self.alignment,)

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        raise NotImplementedError

    def describe_faces(self, faces: Sequence[Cropped]) -> Descriptor:
        return self.describe([face.chip_for(self.alignment) for face in faces])


class DescriberSettings(BaseModel):
    """What every describer's configuration has: its `type` (the registry's key) and the
    threads one inference run may use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    MODEL_ID: ClassVar[str | None] = None
    """The model id every describer of these settings has, where the settings name one
    model (faceres); None: read from the model."""

    type: str
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "Threads one inference run may use. 0: all cores. Several camera workers on "
            "one machine should divide the cores among them (`EngineConfig.threads`)."
        ),
    )


@dataclass(frozen=True)
class ModelCard:
    """What belongs to one model (its `model_id`), shipped with its describer."""

    model_id: str
    default_threshold: float | None
    """The evaluated default alert threshold (calibrated score); None: not evaluated, an
    authority must measure one (`lfr evaluate identification`)."""
    calibration_file: str | None = None
    """The shipped calibration, a file of `lfr/vision/calibrations/`."""
    equitability_file: str | None = None
    """The shipped equitability figures (the equitable floor), same folder."""
    default_margin: float | None = None
    """The evaluated default `alert_margin` on this model's calibrated scores; None: not
    evaluated, the engine's shipped default applies."""


ConfigT = TypeVar("ConfigT")
_BUILDERS: dict[str, Callable[[Any], Describer]] = {}
_CONFIGS: dict[str, type[DescriberSettings]] = {}
_CARDS: dict[str, ModelCard] = {}


def register_describer(
    type_name: str, config: type[DescriberSettings] | None = None
) -> Callable[[Callable[[ConfigT], Describer]], Callable[[ConfigT], Describer]]:
    """Register a backend's builder under its config's `type` value; with `config`, its
    settings class joins `DescriberConfig` (the package discovers the module)."""

    def decorate(builder: Callable[[ConfigT], Describer]) -> Callable[[ConfigT], Describer]:
        if type_name in _BUILDERS:
            raise ValueError(f"describer type {type_name!r} is already registered")
        _BUILDERS[type_name] = builder
        if config is not None:
            _CONFIGS[type_name] = config
        return builder

    return decorate


def registered_configs() -> tuple[type[DescriberSettings], ...]:
    """The settings classes of every registered describer, in registration order."""
    return tuple(_CONFIGS.values())


def register_model_card(card: ModelCard) -> ModelCard:
    if card.model_id in _CARDS:
        raise ValueError(f"model {card.model_id!r} already has a card")
    _CARDS[card.model_id] = card
    return card


def model_card(model_id: str) -> ModelCard | None:
    """The card shipped for `model_id`; None for a model no describer module declares
    (a force's own ONNX model: its threshold and calibration are the force's)."""
    return _CARDS.get(model_id)


def builder_for(type_name: str) -> Callable[[Any], Describer]:
    try:
        return _BUILDERS[type_name]
    except KeyError:
        known = ", ".join(sorted(_BUILDERS))
        raise ValueError(f"unknown describer type {type_name!r} (known: {known})") from None


def l2_normalise(rows: np.ndarray[Any, Any]) -> Descriptor:
    """Rows scaled to unit length, as float32 (a zero row stays zero rather than NaN)."""
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)


class MirrorAveraged(SingleCrop):
    """A describer that also describes each chip mirrored left to right and averages
    the two unit descriptors (flip test-time augmentation). A face and its mirror image
    are the same person; averaging cancels part of what one pose or one light side adds.
    On lfw-dev (dlib ResNet, S-norm) it lowered FNIR at FPIR 1% from 30.0% to 26.8% with
    one image per subject and from 11.4% to 9.3% with three (docs/evaluation.md), for
    twice the description time. The model is the same (`model_id` unchanged): its
    descriptors lie within cos 0.99 of the plain ones, so templates enrolled either way
    still compare, at the accuracy of the plainer of the two."""

    def __init__(self, inner: Describer) -> None:
        self._inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.alignment = inner.alignments[0]

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        if not chips:
            return np.zeros((0, self.dimension), dtype=np.float32)
        mirrored = [np.ascontiguousarray(chip[:, ::-1]) for chip in chips]
        both = self._inner.describe([*chips, *mirrored])
        return l2_normalise(both[: len(chips)] + both[len(chips) :])
