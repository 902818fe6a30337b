"""Any face-recognition model in ONNX format, run by ONNX Runtime (REC-2).

A force that licenses a stronger model (ArcFace-class, a vendor's) plugs it in by pointing
``model_path`` at its ``.onnx`` file and stating how the model expects its input: chip
size, per-channel mean and standard deviation, channel order and layout. The same backend
runs the shipped dlib ResNet exported with ``lfr model export-dlib`` (see
`lfr.vision.describers.dlib_onnx_export`), several times faster than dlib-bin does.

The model file is inspected when the describer is built (so a wrong path, a file that is
not ONNX or an input the settings cannot feed fails at configuration time, with the
file named); the ONNX Runtime session is created on the first `describe`, under a lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, FilePath, field_validator

from lfr.vision._lazy import LazyModel
from lfr.vision.alignment import DLIB_CHIP, ChipAlignment
from lfr.vision.describers.base import (
    DescriberSettings,
    SingleCrop,
    l2_normalise,
    register_describer,
)
from lfr.vision.onnx_runtime import OnnxModelError as OnnxModelError  # re-exported
from lfr.vision.onnx_runtime import create_session, providers_field
from lfr.vision.types import Descriptor, RGBImage

MODEL_ID_METADATA_KEY = "lfr.model_id"
"""ONNX metadata key that names the model; written by the dlib exporter."""


class OnnxDescriberConfig(DescriberSettings):
    """How to run one ONNX face-recognition model. The defaults fit a model exported by
    ``lfr model export-dlib`` (float RGB 0–255, NCHW, 150×150 dlib chip, normalisation
    inside)."""

    type: Literal["onnx"] = "onnx"
    alignment: ChipAlignment = Field(
        default=DLIB_CHIP,
        description=(
            "How the face is cut for this model (lfr.vision.alignment): the crop it was "
            "trained on. dlib_chip (size, padding), arcface (the 112×112 template) or "
            "padded_box (the detector's box squared and padded)."
        ),
    )
    model_path: FilePath = Field(description="The model file (.onnx); must exist.")
    model_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description=(
            "Names the model in templates and caches; descriptors of different models never "
            "compare. None: the model's `lfr.model_id` metadata, else the file name and the "
            "first 12 hex digits of its SHA-256."
        ),
    )
    input_size: int | None = Field(
        default=None,
        ge=16,
        le=1024,
        description=(
            "Side of the square input in pixels. None: read from the model (must then be "
            "fixed there). Chips of another size are resized to it, so the engine's chip "
            "alignment should match the crop the model was trained on."
        ),
    )
    mean: tuple[float, float, float] = Field(
        default=(0.0, 0.0, 0.0),
        description="Subtracted from each channel (in `channel_order`) before dividing by std.",
    )
    std: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0),
        description="Each channel is divided by this after the mean is subtracted; > 0.",
    )
    channel_order: Literal["RGB", "BGR"] = Field(
        default="RGB", description="Channel order the model expects (many ArcFace exports: BGR)."
    )
    layout: Literal["NCHW", "NHWC"] = Field(
        default="NCHW", description="Tensor layout the model expects."
    )
    batch_size: int = Field(
        default=32,
        ge=1,
        le=1024,
        description=(
            "Most chips per model run. Larger batches amortise per-run overhead (a little "
            "faster per face) but hold more memory and delay the first result; a model with "
            "a fixed batch dimension uses that instead."
        ),
    )
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "Threads one model run may use. 0: all cores. Fewer leaves cores to detection "
            "and other cameras at the cost of latency per batch."
        ),
    )
    spin_wait: bool = Field(
        default=False,
        description=(
            "Let idle ONNX Runtime threads spin between runs instead of sleeping. On an idle "
            "machine this shaves a little latency; when detection, other cameras or other "
            "processes share the cores it burns CPU they need (measured here under load: "
            "2 threads went from ~10 to ~15-23 ms per face with spinning)."
        ),
    )
    providers: tuple[str, ...] = providers_field("describes")

    @field_validator("std")
    @classmethod
    def _positive_std(cls, std: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(std) <= 0:
            raise ValueError(f"must be > 0 for every channel, got {std}")
        return std


@dataclass(frozen=True)
class _ModelFacts:
    """What the describer needs to know about the model before running it."""

    model_id: str
    input_name: str
    input_size: int
    dimension: int
    fixed_batch: int | None


def _dim(value: Any) -> int | None:
    return value.dim_value if value.HasField("dim_value") else None


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def load_model(path: Path) -> Any:
    """The ONNX model in `path`, or OnnxModelError naming the file."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and others: all mean "not ONNX"
        raise OnnxModelError(path, f"not a readable ONNX model ({error})") from error


def inspect_model(config: OnnxDescriberConfig, model: Any) -> _ModelFacts:
    """Read the model's input/output signature and check the settings can feed it."""
    import onnx

    path = Path(config.model_path)
    graph_inputs = [
        i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    ]
    if len(graph_inputs) != 1 or len(model.graph.output) < 1:
        raise OnnxModelError(path, f"expected one image input, found {len(graph_inputs)}")
    image_input = graph_inputs[0]
    dims = [_dim(d) for d in image_input.type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise OnnxModelError(path, f"input {image_input.name!r} has {len(dims)} dimensions, not 4")
    if image_input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise OnnxModelError(path, f"input {image_input.name!r} is not float32")
    channel_axis, row_axis, col_axis = (1, 2, 3) if config.layout == "NCHW" else (3, 1, 2)
    if dims[channel_axis] not in (None, 3):
        raise OnnxModelError(
            path,
            f"input {image_input.name!r} has {dims[channel_axis]} channels where "
            f"layout {config.layout} puts colour; set `layout`",
        )
    size = config.input_size or dims[row_axis]
    if size is None or (dims[row_axis] not in (None, size)) or (dims[col_axis] not in (None, size)):
        raise OnnxModelError(
            path,
            f"input size: model says {dims[row_axis]}×{dims[col_axis]}, settings say "
            f"{config.input_size}; set `input_size` to a square size the model accepts",
        )
    output_dims = [_dim(d) for d in model.graph.output[0].type.tensor_type.shape.dim]
    dimension = output_dims[-1] if output_dims else None
    if len(output_dims) != 2 or dimension is None:
        raise OnnxModelError(path, f"output must be batch × dimension, found {output_dims}")
    metadata = {p.key: p.value for p in model.metadata_props}
    model_id = (
        config.model_id
        or metadata.get(MODEL_ID_METADATA_KEY)
        or f"{path.stem}-{_file_digest(path)}"
    )
    return _ModelFacts(
        model_id=model_id,
        input_name=image_input.name,
        input_size=size,
        dimension=dimension,
        fixed_batch=dims[0],
    )


def _create_session(config: OnnxDescriberConfig, model_bytes: bytes) -> Any:
    return create_session(
        model_bytes,
        Path(config.model_path),
        providers=config.providers,
        intra_op_threads=config.intra_op_threads,
        spin_wait=config.spin_wait,
    )


class OnnxDescriber(SingleCrop):
    """Batches chips through an ONNX face-recognition model; rows L2-normalised."""

    def __init__(self, config: OnnxDescriberConfig, model: Any = None) -> None:
        """`model`: an `onnx.ModelProto` already in memory (e.g. converted from dlib's
        weights); None reads `config.model_path`."""
        self._config = config
        self.alignment = config.alignment
        model = model if model is not None else load_model(Path(config.model_path))
        self._facts = inspect_model(config, model)
        self.model_id: str = self._facts.model_id
        self.dimension: int = self._facts.dimension
        model_bytes: bytes = model.SerializeToString()
        self._session: LazyModel[Any] = LazyModel(lambda: _create_session(config, model_bytes))
        self._mean = np.asarray(config.mean, dtype=np.float32)
        self._inv_std = (1.0 / np.asarray(config.std, dtype=np.float64)).astype(np.float32)

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        if not chips:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prepared = self._prepare(chips)
        step = self._facts.fixed_batch or self._config.batch_size
        session = self._session.get()
        outputs = [
            session.run(None, {self._facts.input_name: prepared[start : start + step]})[0]
            for start in range(0, len(prepared), step)
        ]
        raw = np.concatenate(outputs, axis=0)
        if raw.shape != (len(chips), self.dimension):
            raise OnnxModelError(
                Path(self._config.model_path),
                f"model returned {raw.shape}, expected ({len(chips)}, {self.dimension})",
            )
        return l2_normalise(raw)

    def _prepare(self, chips: Sequence[RGBImage]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Chips → one float32 batch in the model's size, channel order, scale, layout."""
        size = self._facts.input_size
        resized = [self._checked(index, chip, size) for index, chip in enumerate(chips)]
        batch = np.stack(resized).astype(np.float32)
        if self._config.channel_order == "BGR":
            batch = batch[..., ::-1]
        if self._config.mean != (0.0, 0.0, 0.0) or self._config.std != (1.0, 1.0, 1.0):
            batch = (batch - self._mean) * self._inv_std
        if self._config.layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch, dtype=np.float32)

    @staticmethod
    def _checked(index: int, chip: RGBImage, size: int) -> RGBImage:
        if chip.ndim != 3 or chip.shape[2] != 3 or chip.dtype != np.uint8:
            raise ValueError(
                f"chip {index}: expected an H×W×3 uint8 aligned face, got {chip.shape} {chip.dtype}"
            )
        if chip.shape[:2] == (size, size):
            return chip
        import cv2

        shrinking = chip.shape[0] > size
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        return np.asarray(
            cv2.resize(chip, (size, size), interpolation=interpolation), dtype=np.uint8
        )


@register_describer("onnx", OnnxDescriberConfig)
def build_onnx(config: OnnxDescriberConfig) -> OnnxDescriber:
    return OnnxDescriber(config)
