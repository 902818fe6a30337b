"""A TensorFlow.js graph model (``model.json`` + weight shards) converted to ONNX, for the
operators of MobileNet-style face describers — without TensorFlow.

TF.js's graph format is a JSON `modelTopology` (TensorFlow's GraphDef as JSON: nodes
with `op`, `input`, `attr`) and a `weightsManifest` naming each constant's shape, dtype
and quantisation, whose bytes follow one another in the listed `.bin` files. This module
reads both with the standard library and numpy and writes the sub-graph that computes
one chosen output as ONNX, for these operators only: `Placeholder`, `Const`, `Conv2D`,
`DepthwiseConv2dNative` (NHWC, SAME or VALID padding, no dilation), `Add`, `AddV2`,
`Mul`, `Sub`, `Relu`, `Relu6`, `Minimum`, `Maximum` and `Mean` over the spatial axes. Any
other operator on the way to the output is refused with its name, so a model outside
this set fails at import, never at run time.

The ONNX graph takes the TF.js input as it is (float32, NHWC) and transposes it to NCHW
once; kernels become OIHW (a depthwise kernel `kh×kw×C×m` a grouped convolution of C
groups), per-channel constants `C×1×1`, and TF's SAME padding is ONNX's `SAME_UPPER`
(both put the odd pixel of padding at the end). Float16-quantised weights (TF.js's
`quantization: {dtype: float16}`) are widened to float32, as TF.js does when it loads
them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lfr.vision.describers.onnx import MODEL_ID_METADATA_KEY

Array = NDArray[Any]

_BINARY = {
    "Add": "Add",
    "AddV2": "Add",
    "Mul": "Mul",
    "Sub": "Sub",
    "Minimum": "Min",
    "Maximum": "Max",
}
"""TF's element-wise operators and their ONNX names (both broadcast the same way)."""
_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8}


class TfjsModelError(ValueError):
    """The TF.js model cannot be converted; says which file and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class TfjsNode:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: Mapping[str, Any]


def read_weights(model_json: Path, manifest: Sequence[Mapping[str, Any]]) -> dict[str, Array]:
    """Every weight of the manifest by name, float16 quantisation widened to float32."""
    weights: dict[str, Array] = {}
    for group in manifest:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = [int(s) for s in entry["shape"]]
            quantisation = entry.get("quantization")
            stored = quantisation["dtype"] if quantisation else entry["dtype"]
            if stored not in _DTYPES or (quantisation and "scale" in quantisation):
                raise TfjsModelError(model_json, f"weight {entry['name']}: {stored} not supported")
            dtype = np.dtype(_DTYPES[stored]).newbyteorder("<")
            count = int(np.prod(shape)) if shape else 1
            end = offset + count * dtype.itemsize
            if end > len(data):
                raise TfjsModelError(model_json, f"weight {entry['name']}: shards end early")
            values = np.frombuffer(data[offset:end], dtype=dtype).reshape(shape)
            target = entry["dtype"] if entry["dtype"] in ("float32", "int32") else "float32"
            weights[entry["name"]] = values.astype(_DTYPES[target])
            offset = end
    return weights


def _nodes(model_json: Path, topology: Mapping[str, Any]) -> dict[str, TfjsNode]:
    nodes = {}
    for node in topology.get("node", []):
        inputs = tuple(i.split(":")[0].lstrip("^") for i in node.get("input", []))
        nodes[node["name"]] = TfjsNode(node["name"], node["op"], inputs, node.get("attr", {}))
    if not nodes:
        raise TfjsModelError(model_json, "no graph nodes (not a TF.js graph model)")
    return nodes


def _text(attr: Mapping[str, Any], key: str) -> str:
    return base64.b64decode(attr[key]["s"]).decode() if key in attr else ""


def _ints(attr: Mapping[str, Any], key: str) -> list[int]:
    return [int(i) for i in attr.get(key, {}).get("list", {}).get("i", [])]


class _Converter:
    """Builds the ONNX nodes for the sub-graph that computes one output."""

    def __init__(self, path: Path, nodes: Mapping[str, TfjsNode], weights: Mapping[str, Array]):
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.path = path
        self.nodes = nodes
        self.weights = weights
        self.onnx_nodes: list[Any] = []
        self.initialisers: list[Any] = []
        self.done: dict[str, str] = {}
        self.input_name = ""

    def constant(self, name: str) -> Array:
        node = self.nodes.get(name)
        if node is None or node.op != "Const" or name not in self.weights:
            raise TfjsModelError(self.path, f"{name}: expected a constant with weights")
        return self.weights[name]

    def initialiser(self, name: str, value: Array) -> str:
        self.initialisers.append(self._numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def convert(self, name: str) -> str:
        """The ONNX value name that holds TF node `name`'s output (NCHW for images)."""
        if name in self.done:
            return self.done[name]
        node = self.nodes.get(name)
        if node is None:
            raise TfjsModelError(self.path, f"node {name!r} is not in the graph")
        handlers: dict[str, Callable[[TfjsNode], str]] = {
            "Placeholder": self._placeholder,
            "Conv2D": self._conv2d,
            "DepthwiseConv2dNative": self._depthwise,
            "Relu": self._relu,
            "Relu6": self._relu6,
            "Mean": self._mean,
        }
        if node.op in _BINARY:
            result = self._binary(node, _BINARY[node.op])
        elif node.op in handlers:
            result = handlers[node.op](node)
        else:
            raise TfjsModelError(self.path, f"node {name}: operator {node.op} is not supported")
        self.done[name] = result
        return result

    def _emit(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        self.onnx_nodes.append(self._helper.make_node(op, list(inputs), [output], **attrs))
        return output

    def _placeholder(self, node: TfjsNode) -> str:
        if self.input_name:
            raise TfjsModelError(self.path, "more than one input on the way to the output")
        self.input_name = node.name
        return self._emit("Transpose", [node.name], f"{node.name}/nchw", perm=[0, 3, 1, 2])

    def _padding(self, node: TfjsNode) -> str:
        padding = _text(node.attr, "padding")
        if padding not in ("SAME", "VALID"):
            raise TfjsModelError(self.path, f"node {node.name}: padding {padding!r}")
        if _text(node.attr, "data_format") not in ("", "NHWC"):
            raise TfjsModelError(self.path, f"node {node.name}: only NHWC is supported")
        if any(d != 1 for d in _ints(node.attr, "dilations")):
            raise TfjsModelError(self.path, f"node {node.name}: dilation is not supported")
        return "SAME_UPPER" if padding == "SAME" else "VALID"

    def _strides(self, node: TfjsNode) -> list[int]:
        strides = _ints(node.attr, "strides") or [1, 1, 1, 1]
        return strides[1:3]

    def _conv2d(self, node: TfjsNode) -> str:
        pad = self._padding(node)
        kernel = self.constant(node.inputs[1])  # kh, kw, in, out
        weight = self.initialiser(f"{node.name}/W", kernel.transpose(3, 2, 0, 1))
        source = self.convert(node.inputs[0])
        return self._emit(
            "Conv",
            [source, weight],
            node.name,
            auto_pad=pad,
            strides=self._strides(node),
            kernel_shape=list(kernel.shape[:2]),
        )

    def _depthwise(self, node: TfjsNode) -> str:
        pad = self._padding(node)
        kernel = self.constant(node.inputs[1])  # kh, kw, channels, multiplier
        kh, kw, channels, multiplier = kernel.shape
        weight = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        name = self.initialiser(f"{node.name}/W", weight)
        source = self.convert(node.inputs[0])
        return self._emit(
            "Conv",
            [source, name],
            node.name,
            auto_pad=pad,
            strides=self._strides(node),
            kernel_shape=[kh, kw],
            group=channels,
        )

    def _operand(self, name: str, owner: str) -> str:
        """A graph value, or a constant made fit for NCHW broadcasting (a per-channel
        vector becomes C×1×1; scalars stay)."""
        node = self.nodes.get(name)
        if node is not None and node.op == "Const":
            value = self.constant(name).astype(np.float32)
            if value.ndim == 1 and value.size > 1:
                value = value.reshape(-1, 1, 1)
            elif value.size == 1:
                value = value.reshape(())
            elif value.ndim > 1:
                raise TfjsModelError(self.path, f"node {owner}: constant {name} {value.shape}")
            return self.initialiser(f"{name}/nchw", value)
        return self.convert(name)

    def _binary(self, node: TfjsNode, op: str) -> str:
        left, right = (self._operand(i, node.name) for i in node.inputs[:2])
        return self._emit(op, [left, right], node.name)

    def _relu(self, node: TfjsNode) -> str:
        return self._emit("Relu", [self.convert(node.inputs[0])], node.name)

    def _relu6(self, node: TfjsNode) -> str:
        source = self.convert(node.inputs[0])
        low = self.initialiser(f"{node.name}/low", np.array(0.0, np.float32))
        high = self.initialiser(f"{node.name}/high", np.array(6.0, np.float32))
        return self._emit("Clip", [source, low, high], node.name)

    def _mean(self, node: TfjsNode) -> str:
        axes = sorted(int(a) for a in np.atleast_1d(self.constant(node.inputs[1])))
        if axes != [1, 2]:
            raise TfjsModelError(self.path, f"node {node.name}: Mean over {axes}, not [1, 2]")
        keep = bool(node.attr.get("keep_dims", {}).get("b", False))
        source = self.convert(node.inputs[0])
        if keep:
            raise TfjsModelError(self.path, f"node {node.name}: keep_dims is not supported")
        return self._emit("ReduceMean", [source], node.name, axes=[2, 3], keepdims=0)


def convert_tfjs_model(model_json: Path, output: str, model_id: str) -> Any:
    """The ONNX model (in memory) computing TF.js node `output` of `model_json`, its
    input float32 NHWC as in TF.js, with `model_id` in its metadata."""
    from onnx import TensorProto, checker, helper, shape_inference

    try:
        model = json.loads(model_json.read_text())
        topology, manifest = model["modelTopology"], model["weightsManifest"]
    except (OSError, ValueError, KeyError) as error:
        raise TfjsModelError(model_json, f"not a TF.js graph model ({error})") from error
    nodes = _nodes(model_json, topology)
    converter = _Converter(model_json, nodes, read_weights(model_json, manifest))
    result = converter.convert(output.split(":")[0])
    placeholder = nodes[converter.input_name]
    dims = [int(d.get("size", -1)) for d in placeholder.attr["shape"]["shape"]["dim"]]
    shape = [d if d > 0 else "batch" for d in dims]
    image = helper.make_tensor_value_info(converter.input_name, TensorProto.FLOAT, shape)

    def model_with_output(dims: list[Any]) -> Any:
        graph = helper.make_graph(
            converter.onnx_nodes,
            "tfjs",
            [image],
            [helper.make_tensor_value_info(result, TensorProto.FLOAT, dims)],
            initializer=converter.initialisers,
        )
        built = helper.make_model(
            graph, producer_name="lfr", opset_imports=[helper.make_opsetid("", 13)]
        )
        built.ir_version = 8
        return built

    # The output's width comes from ONNX's own shape inference of the converted graph.
    inferred = shape_inference.infer_shapes(model_with_output(["batch", None]))
    width = inferred.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    onnx_model = model_with_output(["batch", width or None])
    helper.set_model_props(onnx_model, {MODEL_ID_METADATA_KEY: model_id})
    checker.check_model(onnx_model)
    return onnx_model
