"""dlib's binary serialisation of a trained network, read with numpy alone (REC-2).

Shared by the exporters of dlib's face-recognition ResNet
(`lfr.vision.describers.dlib_onnx_export`) and of its MMOD face detector
(`lfr.vision.detection.mmod_export`): both files are written by ``dlib/serialize.h`` and
``dlib/dnn/core.h``, and differ only in their loss and input layers.

- integers: one byte ``size | 0x80 if negative``, then ``size`` little-endian bytes;
- floats and doubles: mantissa (int64) and exponent (int16) as integers, value
  ``mantissa * 2**exponent``;
- strings: an integer length, then the bytes; bools: one byte ``'0'``/``'1'``;
- tensors (version 2): ``n, k, nr, nc``, then raw little-endian float32;
- the network: the loss layer (version, name, settings), then every wrapping layer's
  version from the outside in, the input layer, then each computational layer's settings
  from the input outwards, each followed by three bools and three (empty) state tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]

_FLOAT_SPECIAL_EXPONENTS = range(32000, 32003)  # dlib's markers for inf, -inf and nan


class DlibModelError(ValueError):
    """The ``.dat`` file is not a dlib network this reader understands."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class ConvLayer:
    weights: FloatArray  # (out, in, rows, cols), cross-correlation as in ONNX
    bias: FloatArray | None
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AffineLayer:
    """Batch normalisation frozen into ``gamma * x + beta`` per channel."""

    gamma: FloatArray
    beta: FloatArray


@dataclass(frozen=True)
class ReluLayer:
    pass


@dataclass(frozen=True)
class PoolLayer:
    kind: str  # "max" or "avg"
    window: tuple[int, int]  # (0, 0): the whole feature map
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrevLayer:
    pass


@dataclass(frozen=True)
class FcLayer:
    weights: FloatArray  # (inputs, outputs): dlib computes x @ W
    bias: FloatArray | None


Layer = ConvLayer | AffineLayer | ReluLayer | PoolLayer | AddPrevLayer | FcLayer


# --------------------------------------------------------------------------- reader


@dataclass
class DatStream:
    """A cursor over dlib's serialisation; every read names what it expected on failure."""

    path: Path
    data: bytes
    pos: int = 0

    def fail(self, reason: str) -> DlibModelError:
        return DlibModelError(self.path, f"{reason} (at byte {self.pos})")

    def take(self, count: int, what: str) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise self.fail(f"file ends inside {what}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def int_(self, what: str) -> int:
        header = self.take(1, what)[0]
        size = header & 0x0F
        if size == 0 or size > 8 or header & 0x70:
            raise self.fail(f"{what}: not an integer (header byte {header:#04x})")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if header & 0x80 else value

    def float_(self, what: str) -> float:
        mantissa = self.int_(what)
        exponent = self.int_(what)
        if exponent in _FLOAT_SPECIAL_EXPONENTS:
            raise self.fail(f"{what}: infinite or not a number")
        return math.ldexp(mantissa, exponent)

    def string(self, what: str) -> str:
        length = self.int_(what)
        if not 0 <= length <= 256:
            raise self.fail(f"{what}: implausible string length {length}")
        return self.take(length, what).decode("ascii", errors="replace")

    def bool_(self, what: str) -> bool:
        byte = self.take(1, what)
        if byte not in (b"0", b"1"):
            raise self.fail(f"{what}: not a bool ({byte!r})")
        return byte == b"1"

    def tensor(self, what: str) -> FloatArray:
        version = self.int_(what)
        if version != 2:
            raise self.fail(f"{what}: tensor version {version}, only version 2 is supported")
        shape = tuple(self.int_(what) for _ in range(4))  # n, k, nr, nc
        if min(shape) < 0:
            raise self.fail(f"{what}: negative tensor shape {shape}")
        count = math.prod(shape)
        raw = self.take(4 * count, what)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_shape(self, what: str) -> tuple[int, int, int, int]:
        version = self.int_(what)
        if version != 1:
            raise self.fail(f"{what}: alias tensor version {version}, expected 1")
        n, k, nr, nc = (self.int_(what) for _ in range(4))
        return n, k, nr, nc

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def split_params(
    stream: DatStream, params: FloatArray, shapes: Sequence[tuple[int, ...]], what: str
) -> list[FloatArray]:
    """dlib keeps all of a layer's parameters in one tensor; the aliases say how to cut it."""
    flat = params.reshape(-1)
    sizes = [math.prod(shape) for shape in shapes]
    if sum(sizes) != flat.size:
        raise stream.fail(f"{what}: {flat.size} parameters, the layer's shapes need {sum(sizes)}")
    parts, offset = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        parts.append(flat[offset : offset + size].reshape(shape).copy())
        offset += size
    return parts


def read_conv(stream: DatStream, version: str) -> ConvLayer:
    params = stream.tensor("con_ parameters")
    stream.int_("con_ filters")
    stream.int_("con_ rows")
    stream.int_("con_ columns")
    stride = (stream.int_("con_ stride y"), stream.int_("con_ stride x"))
    padding = (stream.int_("con_ padding y"), stream.int_("con_ padding x"))
    filters = stream.alias_shape("con_ filters shape")
    biases = stream.alias_shape("con_ biases shape")
    for name in ("lr", "weight decay", "bias lr", "bias weight decay"):
        stream.float_(f"con_ {name} multiplier")
    use_bias = stream.bool_("con_ use_bias") if version == "con_5" else True
    shapes: list[tuple[int, ...]] = [filters]
    if use_bias:
        shapes.append((biases[1],))
    parts = split_params(stream, params, shapes, "con_")
    return ConvLayer(
        weights=parts[0],
        bias=parts[1] if use_bias else None,
        stride=stride,
        padding=padding,
    )


def read_affine(stream: DatStream) -> AffineLayer:
    params = stream.tensor("affine_ parameters")
    gamma_shape = stream.alias_shape("affine_ gamma shape")
    beta_shape = stream.alias_shape("affine_ beta shape")
    stream.int_("affine_ mode")
    if gamma_shape[2:] != (1, 1) or beta_shape != gamma_shape:
        raise stream.fail(f"affine_: per-position scaling {gamma_shape} is not supported")
    gamma, beta = split_params(stream, params, [(gamma_shape[1],)] * 2, "affine_")
    return AffineLayer(gamma=gamma, beta=beta)


def read_batch_norm(stream: DatStream) -> AffineLayer:
    """``bn_con2``: dlib turns a trained batch normalisation into ``affine_`` when it loads
    it for inference (``affine_(const bn_&)``), as is done here: ``gamma / sqrt(var + eps)``
    and ``beta - mean * that``, from the running statistics."""
    params = stream.tensor("bn_ parameters")
    gamma_shape = stream.alias_shape("bn_ gamma shape")
    beta_shape = stream.alias_shape("bn_ beta shape")
    for name in ("means", "inverse deviations"):
        stream.tensor(f"bn_ batch {name}")
    running_means = stream.tensor("bn_ running means").reshape(-1)
    running_variances = stream.tensor("bn_ running variances").reshape(-1)
    stream.int_("bn_ updates")
    stream.int_("bn_ running statistics window")
    for name in ("lr", "weight decay", "bias lr", "bias weight decay"):
        stream.float_(f"bn_ {name} multiplier")
    eps = stream.float_("bn_ eps")
    if gamma_shape[2:] != (1, 1) or beta_shape != gamma_shape:
        raise stream.fail(f"bn_con2: per-position scaling {gamma_shape} is not supported")
    channels = gamma_shape[1]
    if running_means.size != channels or running_variances.size != channels:
        raise stream.fail(f"bn_con2: running statistics do not have {channels} channels")
    gamma, beta = split_params(stream, params, [(channels,)] * 2, "bn_con2")
    scale = gamma.astype(np.float64) / np.sqrt(running_variances.astype(np.float64) + eps)
    shift = beta.astype(np.float64) - scale * running_means.astype(np.float64)
    return AffineLayer(gamma=scale.astype(np.float32), beta=shift.astype(np.float32))


def read_pool(stream: DatStream, kind: str) -> PoolLayer:
    window = (stream.int_(f"{kind}_pool rows"), stream.int_(f"{kind}_pool columns"))
    stride = (stream.int_(f"{kind}_pool stride y"), stream.int_(f"{kind}_pool stride x"))
    padding = (stream.int_(f"{kind}_pool padding y"), stream.int_(f"{kind}_pool padding x"))
    return PoolLayer(kind=kind, window=window, stride=stride, padding=padding)


def read_fc(stream: DatStream) -> FcLayer:
    outputs = stream.int_("fc_ outputs")
    inputs = stream.int_("fc_ inputs")
    params = stream.tensor("fc_ parameters")
    stream.alias_shape("fc_ weights shape")
    stream.alias_shape("fc_ biases shape")
    has_bias = stream.int_("fc_ bias mode") == 0  # dlib: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    for name in ("lr", "weight decay", "bias lr", "bias weight decay"):
        stream.float_(f"fc_ {name} multiplier")
    shapes: list[tuple[int, ...]] = [(inputs, outputs)]
    if has_bias:
        shapes.append((outputs,))
    parts = split_params(stream, params, shapes, "fc_")
    return FcLayer(weights=parts[0], bias=parts[1] if has_bias else None)


def read_layer(stream: DatStream, name: str) -> Layer:
    if name in ("con_4", "con_5"):
        return read_conv(stream, name)
    if name == "affine_":
        return read_affine(stream)
    if name == "bn_con2":
        return read_batch_norm(stream)
    if name == "relu_":
        return ReluLayer()
    if name in ("max_pool_2", "avg_pool_2"):
        return read_pool(stream, name.split("_", 1)[0])
    if name == "add_prev_":
        return AddPrevLayer()
    if name == "fc_2":
        return read_fc(stream)
    raise stream.fail(f"layer {name!r} is not supported by this reader")


def skip_layer_state(stream: DatStream, name: str) -> None:
    """Three bools and three tensors (gradients, cached output) that inference ignores."""
    for _ in range(3):
        stream.bool_(f"{name} state flag")
    for _ in range(3):
        stream.tensor(f"{name} state tensor")


def open_dat(path: Path) -> DatStream:
    """A stream over the ``.dat`` file at `path`, or DlibModelError naming it."""
    if not path.is_file():
        raise DlibModelError(path, "not a file" if path.exists() else "no such file")
    return DatStream(path=path, data=path.read_bytes())


def skip_to_input(stream: DatStream, names: Sequence[str]) -> str:
    """Pass the wrapping layers' versions (1 to 3), outermost first, up to the input
    layer's name, one of `names`; return the name found, the stream after it."""
    markers = {name: bytes([1, len(name)]) + name.encode("ascii") for name in names}
    while True:
        # The longest first: "input_rgb_image_pyramid2" starts with "..._pyramid".
        for name, marker in sorted(markers.items(), key=lambda item: -len(item[0])):
            if stream.data.startswith(marker, stream.pos):
                stream.pos += len(marker)
                return name
        if stream.int_("layer version") not in (1, 2, 3):
            raise stream.fail(f"expected a layer version or an input layer ({', '.join(names)})")


def read_layers(stream: DatStream) -> tuple[Layer, ...]:
    """The computational layers after the input layer, from the input outwards, to the
    end of the file."""
    layers: list[Layer] = []
    while not stream.at_end():
        name = stream.string("layer name")
        layers.append(read_layer(stream, name))
        skip_layer_state(stream, name)
        if len(layers) == 1:
            # The layer on top of the input layer also records the input's sample
            # expansion factor (one image, one sample).
            stream.int_("sample expansion factor")
    return tuple(layers)


# --------------------------------------------------------------------------- structure


LayerT = TypeVar("LayerT", ConvLayer, AffineLayer, ReluLayer, PoolLayer, AddPrevLayer, FcLayer)


@dataclass
class LayerCursor:
    """Walks a flat layer list checking that it has the expected network's shape; a
    layer that does not fit is refused with its position and `network`'s name."""

    layers: Sequence[Layer]
    path: Path
    network: str
    index: int = 0

    def next(self, expected: type[LayerT]) -> LayerT:
        if self.index >= len(self.layers):
            raise DlibModelError(self.path, f"network ends where a {expected.__name__} was due")
        layer = self.layers[self.index]
        if not isinstance(layer, expected):
            raise DlibModelError(
                self.path,
                f"layer {self.index} is {type(layer).__name__}, expected {expected.__name__}: "
                f"not {self.network}",
            )
        self.index += 1
        return layer

    def peek(self) -> Layer | None:
        return self.layers[self.index] if self.index < len(self.layers) else None
