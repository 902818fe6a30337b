"""Export dlib's face-recognition ResNet to an ONNX graph (REC-2: describe faces fast).

The shipped describer is dlib's ResNet (``dlib_face_recognition_resnet_model_v1.dat`` from
face-recognition-models). dlib-bin runs it at about 100 ms per face on this kind of CPU;
ONNX Runtime runs the same network several times faster. This module reads the ``.dat``
file — dlib's own binary serialisation of the trained network — with numpy alone (no
compiler, no dlib sources) and writes an equivalent ONNX graph.

The format, as dlib writes it (``dlib/serialize.h``, ``dlib/dnn/core.h``, ``layers.h``,
``input.h``, ``loss.h``, ``cuda/tensor.h``):

- integers: one byte ``size | 0x80 if negative``, then ``size`` little-endian bytes;
- floats and doubles: mantissa (int64) and exponent (int16) as integers, value
  ``mantissa * 2**exponent``;
- strings: an integer length, then the bytes; bools: one byte ``'0'``/``'1'``;
- tensors (version 2): ``n, k, nr, nc``, then raw little-endian float32;
- the network: the loss layer (version, name, settings), then every wrapping layer's
  version from the outside in, the input layer, then each computational layer's settings
  from the input outwards, each followed by three bools and three (empty) state tensors.

Tag and skip layers leave only a version number in the stream, so the residual wiring
cannot be read from the file: it is the one of dlib's ``dnn_face_recognition_ex.cpp``
(ResNet blocks ``con-affine-relu-con-affine`` whose sum with the block input goes through
relu; a down-sampling block strides its first convolution by 2 and average-pools its skip
path). The exporter checks that the layer sequence has exactly that shape and refuses
anything else with the position where it differs.

dlib's sum of a block and its skip path (``add_prev``) zero-extends the smaller tensor at
the end of each dimension (channels and, where the stride-2 convolution without padding
loses a row, rows and columns); the graph reproduces that with ``Pad``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from lfr.vision.describers.dlib_resnet import DLIB_MODEL_ID
from lfr.vision.describers.onnx import MODEL_ID_METADATA_KEY

FloatArray = NDArray[np.float32]

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
EXPORTED_MODEL_ID = DLIB_MODEL_ID
"""The exported graph computes the same descriptors as dlib's model (to float rounding),
so it carries the same name: templates made by either describer compare with each other."""

_FLOAT_SPECIAL_EXPONENTS = range(32000, 32003)  # dlib's markers for inf, -inf and nan


class DlibModelError(ValueError):
    """The ``.dat`` file is not a dlib network this exporter understands."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class InputLayer:
    """``input_rgb_image_sized``: (pixel - mean) / 256 per channel, planes R, G, B."""

    means: tuple[float, float, float]
    rows: int
    cols: int


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


@dataclass(frozen=True)
class DlibNetwork:
    """The layers of a dlib network in the order data flows through them."""

    input: InputLayer
    layers: tuple[Layer, ...]
    loss: str


# --------------------------------------------------------------------------- reader


@dataclass
class _Stream:
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


def _split_params(
    stream: _Stream, params: FloatArray, shapes: Sequence[tuple[int, ...]], what: str
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


def _read_input(stream: _Stream) -> InputLayer:
    means = (
        stream.float_("input mean red"),
        stream.float_("input mean green"),
        stream.float_("input mean blue"),
    )
    rows = stream.int_("input rows")
    cols = stream.int_("input columns")
    return InputLayer(means=means, rows=rows, cols=cols)


def _read_conv(stream: _Stream, version: str) -> ConvLayer:
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
    parts = _split_params(stream, params, shapes, "con_")
    return ConvLayer(
        weights=parts[0],
        bias=parts[1] if use_bias else None,
        stride=stride,
        padding=padding,
    )


def _read_affine(stream: _Stream) -> AffineLayer:
    params = stream.tensor("affine_ parameters")
    gamma_shape = stream.alias_shape("affine_ gamma shape")
    beta_shape = stream.alias_shape("affine_ beta shape")
    stream.int_("affine_ mode")
    if gamma_shape[2:] != (1, 1) or beta_shape != gamma_shape:
        raise stream.fail(f"affine_: per-position scaling {gamma_shape} is not supported")
    gamma, beta = _split_params(stream, params, [(gamma_shape[1],)] * 2, "affine_")
    return AffineLayer(gamma=gamma, beta=beta)


def _read_pool(stream: _Stream, kind: str) -> PoolLayer:
    window = (stream.int_(f"{kind}_pool rows"), stream.int_(f"{kind}_pool columns"))
    stride = (stream.int_(f"{kind}_pool stride y"), stream.int_(f"{kind}_pool stride x"))
    padding = (stream.int_(f"{kind}_pool padding y"), stream.int_(f"{kind}_pool padding x"))
    return PoolLayer(kind=kind, window=window, stride=stride, padding=padding)


def _read_fc(stream: _Stream) -> FcLayer:
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
    parts = _split_params(stream, params, shapes, "fc_")
    return FcLayer(weights=parts[0], bias=parts[1] if has_bias else None)


def _read_layer(stream: _Stream, name: str) -> Layer:
    if name in ("con_4", "con_5"):
        return _read_conv(stream, name)
    if name == "affine_":
        return _read_affine(stream)
    if name == "relu_":
        return ReluLayer()
    if name in ("max_pool_2", "avg_pool_2"):
        return _read_pool(stream, name.split("_", 1)[0])
    if name == "add_prev_":
        return AddPrevLayer()
    if name == "fc_2":
        return _read_fc(stream)
    raise stream.fail(f"layer {name!r} is not supported by this exporter")


def _skip_layer_state(stream: _Stream, name: str) -> None:
    """Three bools and three tensors (gradients, cached output) that inference ignores."""
    for _ in range(3):
        stream.bool_(f"{name} state flag")
    for _ in range(3):
        stream.tensor(f"{name} state tensor")


def read_dlib_network(path: Path) -> DlibNetwork:
    """Parse a dlib ``loss_metric`` network file into its layers, input to output."""
    stream = _Stream(path=path, data=path.read_bytes())
    stream.int_("loss layer version")
    loss = stream.string("loss layer name")
    if loss != "loss_metric_2":
        raise stream.fail(f"loss {loss!r}: only dlib's metric-learning networks are supported")
    stream.float_("loss margin")
    stream.float_("loss distance threshold")
    # Wrapping layers' versions (1 to 3), outermost first, until the input layer's name.
    input_name = b"input_rgb_image_sized"
    input_marker = bytes([1, len(input_name)]) + input_name
    while not stream.data.startswith(input_marker, stream.pos):
        if stream.int_("layer version") not in (1, 2, 3):
            raise stream.fail("expected a layer version or the input layer input_rgb_image_sized")
    stream.pos += len(input_marker)
    network_input = _read_input(stream)
    layers: list[Layer] = []
    while not stream.at_end():
        name = stream.string("layer name")
        layers.append(_read_layer(stream, name))
        _skip_layer_state(stream, name)
        if len(layers) == 1:
            # The layer on top of the input layer also records the input's sample
            # expansion factor (one image, one sample).
            stream.int_("sample expansion factor")
    return DlibNetwork(input=network_input, layers=tuple(layers), loss=loss)


# --------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class ResidualBlock:
    """``relu(affine(con(relu(affine(con(x))))) + skip(x))``; skip is avg-pool or identity."""

    first: tuple[ConvLayer, AffineLayer]
    second: tuple[ConvLayer, AffineLayer]
    skip_pool: PoolLayer | None


@dataclass(frozen=True)
class FaceResNet:
    """The shape of dlib's face-recognition network, checked against the file."""

    input: InputLayer
    stem: tuple[ConvLayer, AffineLayer, PoolLayer]
    blocks: tuple[ResidualBlock, ...]
    head: FcLayer


LayerT = TypeVar("LayerT", ConvLayer, AffineLayer, ReluLayer, PoolLayer, AddPrevLayer, FcLayer)


@dataclass
class _Cursor:
    layers: Sequence[Layer]
    path: Path
    index: int = 0
    trail: list[str] = field(default_factory=list)

    def next(self, expected: type[LayerT]) -> LayerT:
        if self.index >= len(self.layers):
            raise DlibModelError(self.path, f"network ends where a {expected.__name__} was due")
        layer = self.layers[self.index]
        if not isinstance(layer, expected):
            raise DlibModelError(
                self.path,
                f"layer {self.index} is {type(layer).__name__}, expected {expected.__name__}: "
                "not the ResNet of dnn_face_recognition_ex.cpp",
            )
        self.index += 1
        return layer

    def peek(self) -> Layer | None:
        return self.layers[self.index] if self.index < len(self.layers) else None


def _conv_affine(cursor: _Cursor) -> tuple[ConvLayer, AffineLayer]:
    return cursor.next(ConvLayer), cursor.next(AffineLayer)


def _residual_block(cursor: _Cursor) -> ResidualBlock:
    first = _conv_affine(cursor)
    cursor.next(ReluLayer)
    second = _conv_affine(cursor)
    skip_pool = None
    if isinstance(cursor.peek(), PoolLayer):
        skip_pool = cursor.next(PoolLayer)
        if skip_pool.kind != "avg" or skip_pool.window == (0, 0):
            raise DlibModelError(cursor.path, f"layer {cursor.index - 1}: unexpected skip pool")
    cursor.next(AddPrevLayer)
    cursor.next(ReluLayer)
    return ResidualBlock(first=first, second=second, skip_pool=skip_pool)


def structure(network: DlibNetwork, path: Path) -> FaceResNet:
    """Group the flat layer list into stem, residual blocks and head, or refuse it."""
    cursor = _Cursor(layers=network.layers, path=path)
    conv, affine = _conv_affine(cursor)
    cursor.next(ReluLayer)
    stem_pool = cursor.next(PoolLayer)
    blocks = []
    while isinstance(cursor.peek(), ConvLayer):
        blocks.append(_residual_block(cursor))
    final_pool = cursor.next(PoolLayer)
    if final_pool.kind != "avg" or final_pool.window != (0, 0):
        raise DlibModelError(path, "the head must average over the whole feature map")
    head = cursor.next(FcLayer)
    if cursor.peek() is not None:
        raise DlibModelError(path, f"unexpected layers after the head (from {cursor.index})")
    return FaceResNet(
        input=network.input, stem=(conv, affine, stem_pool), blocks=tuple(blocks), head=head
    )


# --------------------------------------------------------------------------- graph


def fuse_affine(conv: ConvLayer, affine: AffineLayer) -> ConvLayer:
    """``gamma * (W*x + b) + beta`` as one convolution (float64 maths, float32 result)."""
    gamma = affine.gamma.astype(np.float64)
    weights = conv.weights.astype(np.float64) * gamma[:, None, None, None]
    bias = np.zeros_like(gamma) if conv.bias is None else conv.bias.astype(np.float64)
    bias = bias * gamma + affine.beta.astype(np.float64)
    return ConvLayer(
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        stride=conv.stride,
        padding=conv.padding,
    )


@dataclass
class _GraphBuilder:
    """Appends nodes and initialisers, tracking each tensor's (channels, rows, cols)."""

    fuse: bool
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def const(self, stem: str, value: NDArray[np.generic]) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: Sequence[str], stem: str, **attrs: Any) -> str:
        output = self.name(stem)
        self.nodes.append(helper.make_node(op, list(inputs), [output], **attrs))
        return output

    def conv(self, x: str, conv: ConvLayer, affine: AffineLayer | None) -> str:
        if self.fuse and affine is not None:
            conv, affine = fuse_affine(conv, affine), None
        inputs = [x, self.const("w", conv.weights)]
        if conv.bias is not None:
            inputs.append(self.const("b", conv.bias))
        pad_y, pad_x = conv.padding
        out = self.node(
            "Conv",
            inputs,
            "conv",
            kernel_shape=list(conv.weights.shape[2:]),
            strides=list(conv.stride),
            pads=[pad_y, pad_x, pad_y, pad_x],
        )
        if affine is not None:
            gamma = self.const("gamma", affine.gamma.reshape(1, -1, 1, 1))
            beta = self.const("beta", affine.beta.reshape(1, -1, 1, 1))
            out = self.node("Add", [self.node("Mul", [out, gamma], "scale"), beta], "shift")
        return out

    def pool(self, x: str, pool: PoolLayer) -> str:
        pad_y, pad_x = pool.padding
        return self.node(
            "MaxPool" if pool.kind == "max" else "AveragePool",
            [x],
            "pool",
            kernel_shape=list(pool.window),
            strides=list(pool.stride),
            pads=[pad_y, pad_x, pad_y, pad_x],
        )

    def pad_end(self, x: str, extra: tuple[int, int, int]) -> str:
        """Zero-extend channels, rows and columns at their ends (dlib's ``add_prev``)."""
        if extra == (0, 0, 0):
            return x
        pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
        return self.node("Pad", [x, self.const("pads", pads)], "pad")


def _out_size(size: int, window: int, stride: int, padding: int) -> int:
    # dlib and ONNX agree: 1 + (size + 2*padding - window) // stride
    return 1 + (size + 2 * padding - window) // stride


def _conv_shape(shape: tuple[int, int, int], conv: ConvLayer) -> tuple[int, int, int]:
    rows, cols = conv.weights.shape[2:]
    return (
        conv.weights.shape[0],
        _out_size(shape[1], rows, conv.stride[0], conv.padding[0]),
        _out_size(shape[2], cols, conv.stride[1], conv.padding[1]),
    )


def _pool_shape(shape: tuple[int, int, int], pool: PoolLayer) -> tuple[int, int, int]:
    return (
        shape[0],
        _out_size(shape[1], pool.window[0], pool.stride[0], pool.padding[0]),
        _out_size(shape[2], pool.window[1], pool.stride[1], pool.padding[1]),
    )


def _add_zero_extended(
    graph: _GraphBuilder,
    a: tuple[str, tuple[int, int, int]],
    b: tuple[str, tuple[int, int, int]],
) -> tuple[str, tuple[int, int, int]]:
    shape = (max(a[1][0], b[1][0]), max(a[1][1], b[1][1]), max(a[1][2], b[1][2]))

    def extended(x: tuple[str, tuple[int, int, int]]) -> str:
        extra = (shape[0] - x[1][0], shape[1] - x[1][1], shape[2] - x[1][2])
        return graph.pad_end(x[0], extra)

    return graph.node("Add", [extended(a), extended(b)], "sum"), shape


def _blocks(
    graph: _GraphBuilder, x: str, shape: tuple[int, int, int], blocks: Sequence[ResidualBlock]
) -> tuple[str, tuple[int, int, int]]:
    for block in blocks:
        main = graph.node("Relu", [graph.conv(x, *block.first)], "relu")
        main_shape = _conv_shape(shape, block.first[0])
        main = graph.conv(main, *block.second)
        main_shape = _conv_shape(main_shape, block.second[0])
        skip, skip_shape = x, shape
        if block.skip_pool is not None:
            skip, skip_shape = graph.pool(x, block.skip_pool), _pool_shape(shape, block.skip_pool)
        total, shape = _add_zero_extended(graph, (main, main_shape), (skip, skip_shape))
        x = graph.node("Relu", [total], "relu")
    return x, shape


def build_graph(net: FaceResNet, *, fuse: bool = True) -> onnx.ModelProto:
    """The ONNX model: float32 RGB chips, N×3×rows×cols, pixel values 0–255, in;
    N×128 descriptors (dlib's raw output, not normalised) out."""
    graph = _GraphBuilder(fuse=fuse)
    means = np.array(net.input.means, dtype=np.float32).reshape(1, 3, 1, 1)
    x = graph.node("Sub", [INPUT_NAME, graph.const("mean", means)], "centred")
    x = graph.node("Mul", [x, graph.const("scale", np.array(1 / 256, dtype=np.float32))], "norm")
    conv, affine, stem_pool = net.stem
    x = graph.node("Relu", [graph.conv(x, conv, affine)], "relu")
    shape = _conv_shape((3, net.input.rows, net.input.cols), conv)
    x, shape = graph.pool(x, stem_pool), _pool_shape(shape, stem_pool)
    x, shape = _blocks(graph, x, shape, net.blocks)
    x = graph.node("GlobalAveragePool", [x], "gap")
    x = graph.node("Flatten", [x], "flat", axis=1)
    head_inputs = [x, graph.const("fc", net.head.weights)]
    out = graph.node("MatMul", head_inputs, "fc")
    if net.head.bias is not None:
        out = graph.node("Add", [out, graph.const("fc_b", net.head.bias)], "fc_bias")
    graph.nodes.append(helper.make_node("Identity", [out], [OUTPUT_NAME]))
    dims = net.head.weights.shape[1]
    onnx_graph = helper.make_graph(
        graph.nodes,
        "dlib_face_resnet",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["batch", 3, net.input.rows, net.input.cols]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", dims])],
        graph.initializers,
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="lfr",
        doc_string=(
            "dlib face-recognition ResNet exported by lfr. Input: RGB chips aligned as "
            "dlib.get_face_chip (size 150, padding 0.25), float32 0-255, NCHW. Output: "
            "dlib's 128-d descriptors, not normalised."
        ),
    )
    model.ir_version = 8  # readable by every onnxruntime release that supports opset 17
    helper.set_model_props(model, {MODEL_ID_METADATA_KEY: EXPORTED_MODEL_ID})
    onnx.checker.check_model(model)
    return model


def default_model_path() -> Path:
    """The dlib ResNet weights installed with face-recognition-models."""
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


def export_dlib_model(output: Path, source: Path | None = None, *, fuse: bool = True) -> Path:
    """Read dlib's ``.dat`` (the installed model when ``source`` is None), write ONNX."""
    source = source if source is not None else default_model_path()
    if not source.is_file():
        raise DlibModelError(source, "not a file" if source.exists() else "no such file")
    model = build_graph(structure(read_dlib_network(source), source), fuse=fuse)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(output))
    return output
