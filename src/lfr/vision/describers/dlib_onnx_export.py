"""Export dlib's face-recognition ResNet to an ONNX graph (REC-2: describe faces fast).

The shipped describer is dlib's ResNet (``dlib_face_recognition_resnet_model_v1.dat`` from
face-recognition-models). dlib-bin runs it at about 100 ms per face on this kind of CPU;
ONNX Runtime runs the same network several times faster. This module reads the ``.dat``
file — dlib's own binary serialisation of the trained network — with numpy alone (no
compiler, no dlib sources) and writes an equivalent ONNX graph.

The format is read by `lfr.vision.dlib_dat`, the graph written with
`lfr.vision.dlib_graph` (both shared with the MMOD detector's exporter).

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

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from lfr.vision.describers.dlib_resnet import DLIB_MODEL_ID
from lfr.vision.describers.onnx import MODEL_ID_METADATA_KEY
from lfr.vision.dlib_dat import (
    AddPrevLayer,
    AffineLayer,
    ConvLayer,
    DatStream,
    DlibModelError,
    FcLayer,
    Layer,
    LayerCursor,
    PoolLayer,
    ReluLayer,
    open_dat,
    read_layers,
    skip_to_input,
)
from lfr.vision.dlib_graph import (
    GraphBuilder,
    add_zero_extended,
    conv_shape,
    finish_model,
    pool_shape,
)

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
EXPORTED_MODEL_ID = DLIB_MODEL_ID
"""The exported graph computes the same descriptors as dlib's model (to float rounding),
so it carries the same name: templates made by either describer compare with each other."""

# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class InputLayer:
    """``input_rgb_image_sized``: (pixel - mean) / 256 per channel, planes R, G, B."""

    means: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True)
class DlibNetwork:
    """The layers of a dlib network in the order data flows through them."""

    input: InputLayer
    layers: tuple[Layer, ...]
    loss: str


# --------------------------------------------------------------------------- reader


def _read_input(stream: DatStream) -> InputLayer:
    means = (
        stream.float_("input mean red"),
        stream.float_("input mean green"),
        stream.float_("input mean blue"),
    )
    rows = stream.int_("input rows")
    cols = stream.int_("input columns")
    return InputLayer(means=means, rows=rows, cols=cols)


def read_dlib_network(path: Path) -> DlibNetwork:
    """Parse a dlib ``loss_metric`` network file into its layers, input to output."""
    stream = open_dat(path)
    stream.int_("loss layer version")
    loss = stream.string("loss layer name")
    if loss != "loss_metric_2":
        raise stream.fail(f"loss {loss!r}: only dlib's metric-learning networks are supported")
    stream.float_("loss margin")
    stream.float_("loss distance threshold")
    skip_to_input(stream, ["input_rgb_image_sized"])
    network_input = _read_input(stream)
    return DlibNetwork(input=network_input, layers=read_layers(stream), loss=loss)


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


def _conv_affine(cursor: LayerCursor) -> tuple[ConvLayer, AffineLayer]:
    return cursor.next(ConvLayer), cursor.next(AffineLayer)


def _residual_block(cursor: LayerCursor) -> ResidualBlock:
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
    cursor = LayerCursor(
        layers=network.layers, path=path, network="the ResNet of dnn_face_recognition_ex.cpp"
    )
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


def _blocks(
    graph: GraphBuilder, x: str, shape: tuple[int, int, int], blocks: Sequence[ResidualBlock]
) -> tuple[str, tuple[int, int, int]]:
    for block in blocks:
        main = graph.node("Relu", [graph.conv(x, *block.first)], "relu")
        main_shape = conv_shape(shape, block.first[0])
        main = graph.conv(main, *block.second)
        main_shape = conv_shape(main_shape, block.second[0])
        skip, skip_shape = x, shape
        if block.skip_pool is not None:
            skip, skip_shape = graph.pool(x, block.skip_pool), pool_shape(shape, block.skip_pool)
        total, shape = add_zero_extended(graph, (main, main_shape), (skip, skip_shape))
        x = graph.node("Relu", [total], "relu")
    return x, shape


def build_graph(net: FaceResNet, *, fuse: bool = True) -> onnx.ModelProto:
    """The ONNX model: float32 RGB chips, N×3×rows×cols, pixel values 0–255, in;
    N×128 descriptors (dlib's raw output, not normalised) out."""
    graph = GraphBuilder(fuse=fuse)
    means = np.array(net.input.means, dtype=np.float32).reshape(1, 3, 1, 1)
    x = graph.node("Sub", [INPUT_NAME, graph.const("mean", means)], "centred")
    x = graph.node("Mul", [x, graph.const("scale", np.array(1 / 256, dtype=np.float32))], "norm")
    conv, affine, stem_pool = net.stem
    x = graph.node("Relu", [graph.conv(x, conv, affine)], "relu")
    shape = conv_shape((3, net.input.rows, net.input.cols), conv)
    x, shape = graph.pool(x, stem_pool), pool_shape(shape, stem_pool)
    x, shape = _blocks(graph, x, shape, net.blocks)
    x = graph.node("GlobalAveragePool", [x], "gap")
    x = graph.node("Flatten", [x], "flat", axis=1)
    head_inputs = [x, graph.const("fc", net.head.weights)]
    out = graph.node("MatMul", head_inputs, "fc")
    if net.head.bias is not None:
        out = graph.node("Add", [out, graph.const("fc_b", net.head.bias)], "fc_bias")
    graph.nodes.append(helper.make_node("Identity", [out], [OUTPUT_NAME]))
    dims = net.head.weights.shape[1]
    return finish_model(
        graph,
        "dlib_face_resnet",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["batch", 3, net.input.rows, net.input.cols]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", dims])],
        doc=(
            "dlib face-recognition ResNet exported by lfr. Input: RGB chips aligned as "
            "dlib.get_face_chip (size 150, padding 0.25), float32 0-255, NCHW. Output: "
            "dlib's 128-d descriptors, not normalised."
        ),
        properties={MODEL_ID_METADATA_KEY: EXPORTED_MODEL_ID},
    )


def default_model_path() -> Path:
    """The dlib ResNet weights installed with face-recognition-models."""
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


def convert_dlib_model(source: Path, *, fuse: bool = True) -> onnx.ModelProto:
    """Read dlib's ``.dat`` and build the equivalent ONNX graph in memory."""
    return build_graph(structure(read_dlib_network(source), source), fuse=fuse)


def convert_installed_model() -> tuple[Path, onnx.ModelProto]:
    """The installed dlib ResNet weights and their ONNX graph."""
    source = default_model_path()
    return source, convert_dlib_model(source)


def export_dlib_model(output: Path, source: Path | None = None, *, fuse: bool = True) -> Path:
    """Read dlib's ``.dat`` (the installed model when ``source`` is None), write ONNX."""
    model = convert_dlib_model(source if source is not None else default_model_path(), fuse=fuse)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(output))
    return output
