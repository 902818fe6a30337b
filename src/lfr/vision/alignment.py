"""How a face is cut out of a frame for one describer: each describer declares its own
crop (REC-2).

A describer is trained on faces cropped one particular way, and fed another crop it loses
accuracy (a model trained on loose crops, fed dlib's tight chip, lost about 15 points of
rank-1 in a trial). So the crop belongs to the describer, not to the engine: the analyser
cuts, beside its own chip (for quality and following), the chip each describer of the
engine declares, from the same frame and the same five landmarks.

Three kinds, chosen by `kind`:
- ``dlib_chip``: dlib's `get_face_chip` (the landmarks fitted to dlib's mean face, turned
  upright, `padding` of the face's size added on each side): the dlib ResNet's crop at
  150 px and padding 0.25; a larger padding is a looser, still aligned crop.
- ``arcface``: the similarity transform that puts the eye centres where the ArcFace
  112×112 template has them (insightface's `arcface_dst`), scaled to `size`. dlib's five
  points are eye corners and the nose base, not ArcFace's eyes, nose tip and mouth
  corners, so only the two eye centres are mapped (two points fix a similarity exactly);
  the rest of the template follows from them.
- ``padded_box``: the detector's box made square about its centre, `padding` of its side
  added on each side, not turned: the crop of pipelines that describe the detector's box
  (TF.js Human's face description), resized to `size`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lfr.vision.landmarks import CHIP_PADDING, CHIP_SIZE, Landmarks, align, eye_centres
from lfr.vision.types import Box, RGBImage

ARCFACE_EYES_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014]], dtype=np.float32)
"""The eye centres (image left, image right) of insightface's 112×112 ArcFace template."""


class DlibChip(BaseModel):
    """dlib's aligned face chip (`dlib.get_face_chip`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["dlib_chip"] = "dlib_chip"
    size: int = Field(default=CHIP_SIZE, ge=16, le=1024, description="Chip side in pixels.")
    padding: float = Field(
        default=CHIP_PADDING,
        ge=0,
        le=2,
        description="Added on each side, as a share of the face's size (dlib's own: 0.25).",
    )


class ArcFaceChip(BaseModel):
    """The eye centres mapped onto the ArcFace 112×112 template's by a similarity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["arcface"] = "arcface"
    size: int = Field(default=112, ge=16, le=1024, description="Chip side in pixels.")


class PaddedBox(BaseModel):
    """The detector's box, squared and padded, not turned upright."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["padded_box"] = "padded_box"
    size: int = Field(default=224, ge=16, le=1024, description="Crop side in pixels.")
    padding: float = Field(
        default=0.6, ge=0, le=2, description="Added on each side, as a share of the box's side."
    )


ChipAlignment = Annotated[DlibChip | ArcFaceChip | PaddedBox, Field(discriminator="kind")]
"""How one describer's chip is cut (see the module's text)."""

DLIB_CHIP = DlibChip()
"""The engine's own chip: what quality is measured on and what faces are followed by."""


def cut_chip(image: RGBImage, box: Box, landmarks: Landmarks, alignment: ChipAlignment) -> RGBImage:
    """The face at `box` / `landmarks` in `image`, cut as `alignment` says (uint8 RGB,
    size × size)."""
    if isinstance(alignment, DlibChip):
        return align(image, landmarks, alignment.size, alignment.padding)
    if isinstance(alignment, ArcFaceChip):
        return _arcface_chip(image, landmarks, alignment.size)
    return _padded_box(image, box, alignment)


def _arcface_chip(image: RGBImage, landmarks: Landmarks, size: int) -> RGBImage:
    left, right = eye_centres(landmarks)
    source = np.stack([left, right]).astype(np.float64)
    target = ARCFACE_EYES_112.astype(np.float64) * (size / 112.0)
    matrix = _similarity(source, target)
    warped = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return np.ascontiguousarray(warped, dtype=np.uint8)


def _similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, shift) taking the two `source` points
    onto the two `target` points exactly."""
    (x1, y1), (x2, y2) = source
    (u1, v1), (u2, v2) = target
    source_vector = complex(x2 - x1, y2 - y1)
    if abs(source_vector) < 1e-6:
        raise ValueError("the eye centres coincide: no alignment")
    rotation_scale = complex(u2 - u1, v2 - v1) / source_vector
    a, b = rotation_scale.real, rotation_scale.imag
    shift = complex(u1, v1) - rotation_scale * complex(x1, y1)
    return np.array([[a, -b, shift.real], [b, a, shift.imag]], dtype=np.float64)


def _padded_box(image: RGBImage, box: Box, alignment: PaddedBox) -> RGBImage:
    side = max(box.width, box.height) * (1 + 2 * alignment.padding)
    centre_x, centre_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    scale = alignment.size / side
    matrix = np.array(
        [
            [scale, 0.0, alignment.size / 2 - scale * centre_x],
            [0.0, scale, alignment.size / 2 - scale * centre_y],
        ],
        dtype=np.float64,
    )
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    warped = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (alignment.size, alignment.size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return np.ascontiguousarray(warped, dtype=np.uint8)
