"""dlib's MMOD CNN face detector as an ONNX graph (REC-2: detection on any ONNX Runtime
execution provider, a GPU's included).

The model is ``mmod_human_face_detector.dat`` from face-recognition-models, the network of
dlib's ``dnn_mmod_face_detection_ex.cpp``::

    loss_mmod<con<1,9,9,1,1, rcon5<rcon5<rcon5<downsampler<
        input_rgb_image_pyramid<pyramid_down<6>>>>>>>>

where the downsampler is three ``relu<affine<con<5,5,stride 2>>>`` and ``rcon5`` is
``relu<affine<con<5,5,stride 1>>>``. The file is read with `lfr.vision.dlib_dat` (the
trained batch normalisations become the affine layers dlib itself makes of them) and the
graph holds the convolutions alone: its input is the image pyramid already tiled and
normalised (`lfr.vision.detection.mmod_onnx` builds it as dlib's input layer does), its
output the detector's score map, one channel per detector window. What the loss layer
needs to turn scores into boxes (the windows, the non-max suppression's overlap test)
and the input layer's means and tiling are read from the same file into `MmodNetwork`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from lfr.vision.dlib_dat import (
    AffineLayer,
    ConvLayer,
    DatStream,
    DlibModelError,
    LayerCursor,
    ReluLayer,
    open_dat,
    read_layers,
    skip_to_input,
)
from lfr.vision.dlib_graph import GraphBuilder, conv_shape, finish_model

INPUT_NAME = "pyramid"
OUTPUT_NAME = "scores"
MMOD_MODEL_ID = "dlib-mmod-human-face-detector"
PYRAMID_DOWN = 6
"""``pyramid_down<6>``: each pyramid level 5/6 the size of the one before. The type is not
in the file (only its instance's settings are), so it is the example network's."""

_NETWORK = "the MMOD network of dnn_mmod_face_detection_ex.cpp"
_INPUT_LAYERS = ("input_rgb_image_pyramid", "input_rgb_image_pyramid2")
_DOWNSAMPLING_LAYERS = 3
_RCON_LAYERS = 3


@dataclass(frozen=True)
class DetectorWindow:
    """A sliding window's size in pixels of a pyramid level (one output channel each)."""

    width: int
    height: int


@dataclass(frozen=True)
class MmodOptions:
    """What ``loss_mmod`` needs to decode the score map (``mmod_options``)."""

    windows: tuple[DetectorWindow, ...]
    overlap_iou: float
    """Two boxes are one face when their intersection over the rectangle bounding both
    exceeds this (dlib's ``test_box_overlap``)..."""
    overlap_covered: float
    """...or the intersection covers more than this share of either box."""


@dataclass(frozen=True)
class PyramidInput:
    """``input_rgb_image_pyramid``: (pixel - mean) / 256 per channel, the levels of
    ``pyramid_down<6>`` tiled with `padding` zeros between them and `outer_padding`
    around them."""

    means: tuple[float, float, float]
    padding: int
    outer_padding: int


@dataclass(frozen=True)
class ConvStep:
    """One convolution of the network with what follows it (None: nothing)."""

    conv: ConvLayer
    affine: AffineLayer | None
    relu: bool


@dataclass(frozen=True)
class MmodNetwork:
    """The detector read from its ``.dat`` file, checked to have the example's shape."""

    options: MmodOptions
    input: PyramidInput
    steps: tuple[ConvStep, ...]

    def accepts(self, height: int, width: int) -> bool:
        """Whether an input tensor of this size leaves an output (the convolutions
        without padding shrink it; a few pixels' image leaves none)."""
        for step in self.steps:
            height, width = conv_shape((3, height, width), step.conv)[1:]
            if min(height, width) < 1:
                return False
        return True

    def output_to_input(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((scale, offset) for rows, (scale, offset) for columns): an output position
        ``o`` lies at ``scale * o + offset`` of the input tensor, as dlib's
        ``output_tensor_to_input_tensor`` maps it through each convolution
        (``o * stride - padding + size / 2``, the half rounded down)."""
        mapping = []
        for axis in (0, 1):
            scale, offset = 1.0, 0.0
            for step in self.steps:  # input side first: compose outwards
                size = step.conv.weights.shape[2 + axis]
                stride, padding = step.conv.stride[axis], step.conv.padding[axis]
                scale, offset = scale * stride, offset + scale * (size // 2 - padding)
            mapping.append((scale, offset))
        return mapping[0], mapping[1]


# --------------------------------------------------------------------------- reader


def _read_windows(stream: DatStream, version: int) -> tuple[DetectorWindow, ...]:
    if version == 1:
        return (DetectorWindow(stream.int_("window width"), stream.int_("window height")),)
    count = stream.int_("detector window count")
    if not 1 <= count <= 64:
        raise stream.fail(f"implausible detector window count {count}")
    windows = []
    for _ in range(count):
        window_version = stream.int_("detector window version")
        if window_version not in (1, 2):
            raise stream.fail(f"detector window version {window_version}, expected 1 or 2")
        window = DetectorWindow(stream.int_("window width"), stream.int_("window height"))
        if window_version == 2:
            stream.string("window label")
        windows.append(window)
    return tuple(windows)


def _read_options(stream: DatStream) -> MmodOptions:
    version = stream.int_("mmod_options version")
    if not 1 <= version <= 4:
        raise stream.fail(f"mmod_options version {version}, expected 1 to 4")
    windows = _read_windows(stream, version)
    for name in ("loss per false alarm", "loss per missed target", "truth match IoU"):
        stream.float_(f"mmod_options {name}")
    overlap_iou = stream.float_("non-max suppression IoU")
    overlap_covered = stream.float_("non-max suppression coverage")
    stream.float_("ignore IoU")
    stream.float_("ignore coverage")
    if version >= 3:
        stream.take(1, "mmod_options image pyramid flag")  # a raw byte (uint8_t)
    if version >= 4:
        if stream.bool_("mmod_options bounding box regression"):
            raise stream.fail("bounding box regression is not supported")
        stream.float_("mmod_options bounding box regression lambda")
    return MmodOptions(windows=windows, overlap_iou=overlap_iou, overlap_covered=overlap_covered)


def _read_input(stream: DatStream, name: str) -> PyramidInput:
    means = (
        stream.float_("input mean red"),
        stream.float_("input mean green"),
        stream.float_("input mean blue"),
    )
    if name == "input_rgb_image_pyramid":  # the first version: dlib's default paddings
        return PyramidInput(means=means, padding=10, outer_padding=11)
    padding = stream.int_("pyramid padding")
    outer_padding = stream.int_("pyramid outer padding")
    return PyramidInput(means=means, padding=padding, outer_padding=outer_padding)


def _conv_step(cursor: LayerCursor, *, stride: int, last: bool = False) -> ConvStep:
    index = cursor.index
    conv = cursor.next(ConvLayer)
    if conv.stride != (stride, stride):
        raise DlibModelError(
            cursor.path, f"layer {index}: stride {conv.stride}, expected {stride}: not {_NETWORK}"
        )
    if last:
        return ConvStep(conv=conv, affine=None, relu=False)
    affine = cursor.next(AffineLayer)
    cursor.next(ReluLayer)
    return ConvStep(conv=conv, affine=affine, relu=True)


def _structure(stream: DatStream, options: MmodOptions) -> tuple[ConvStep, ...]:
    cursor = LayerCursor(layers=read_layers(stream), path=stream.path, network=_NETWORK)
    steps = [_conv_step(cursor, stride=2) for _ in range(_DOWNSAMPLING_LAYERS)]
    steps += [_conv_step(cursor, stride=1) for _ in range(_RCON_LAYERS)]
    steps.append(_conv_step(cursor, stride=1, last=True))
    if cursor.peek() is not None:
        raise DlibModelError(
            stream.path, f"unexpected layers after the detector's output (from {cursor.index})"
        )
    if steps[0].conv.weights.shape[1] != 3:
        raise DlibModelError(stream.path, "the first convolution does not read 3 colours")
    channels = steps[-1].conv.weights.shape[0]
    if channels != len(options.windows):
        raise DlibModelError(
            stream.path,
            f"the output has {channels} channels for {len(options.windows)} detector windows",
        )
    return tuple(steps)


def read_mmod_network(path: Path) -> MmodNetwork:
    """Parse dlib's MMOD detector file, or DlibModelError saying where it differs."""
    stream = open_dat(path)
    stream.int_("loss layer version")
    loss = stream.string("loss layer name")
    if loss != "loss_mmod_":
        raise stream.fail(f"loss {loss!r}: not an MMOD detector (loss_mmod_)")
    options = _read_options(stream)
    network_input = _read_input(stream, skip_to_input(stream, _INPUT_LAYERS))
    return MmodNetwork(options=options, input=network_input, steps=_structure(stream, options))


# --------------------------------------------------------------------------- graph


def build_mmod_graph(net: MmodNetwork) -> onnx.ModelProto:
    """The convolutions as an ONNX model: the tiled, normalised pyramid (float32,
    1×3×height×width) in, the score map (1×windows×rows×cols) out."""
    graph = GraphBuilder(fuse=True)
    x = INPUT_NAME
    for step in net.steps:
        x = graph.conv(x, step.conv, step.affine)
        if step.relu:
            x = graph.node("Relu", [x], "relu")
    graph.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME]))
    windows = len(net.options.windows)
    return finish_model(
        graph,
        "dlib_mmod_face_detector",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, "height", "width"])],
        [
            helper.make_tensor_value_info(
                OUTPUT_NAME, TensorProto.FLOAT, [1, windows, "rows", "cols"]
            )
        ],
        doc=(
            "dlib MMOD human face detector exported by lfr. Input: dlib's tiled image "
            "pyramid, (pixel - mean) / 256, float32 NCHW. Output: the MMOD score per "
            "detector window and position."
        ),
        properties={"lfr.model_id": MMOD_MODEL_ID},
    )


def default_mmod_path() -> Path:
    """The MMOD detector weights installed with face-recognition-models."""
    import face_recognition_models

    return Path(face_recognition_models.cnn_face_detector_model_location())


def convert_mmod_model(source: Path | None = None) -> tuple[MmodNetwork, onnx.ModelProto]:
    """The detector in `source` (the installed one when None) and its ONNX graph."""
    net = read_mmod_network(source if source is not None else default_mmod_path())
    return net, build_mmod_graph(net)
