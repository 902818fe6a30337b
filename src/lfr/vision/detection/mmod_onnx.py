"""dlib's MMOD CNN face detector run by ONNX Runtime (REC-2): the faces dlib's own
``mmod`` backend finds, on whichever execution provider the settings name — a GPU's
(``CUDAExecutionProvider``) where onnxruntime-gpu is installed, the CPU otherwise.

dlib-bin runs the network on the CPU alone and takes seconds per 720p frame. Here the
weights are exported by `lfr.vision.detection.mmod_export` (in memory, once per detector,
on its first `detect`: nothing is written to disk, as nothing of a camera worker's is),
and this module does what dlib does around the network, in numpy:

- the input layer (``input_rgb_image_pyramid``): the image, (pixel - mean) / 256, and
  its ``pyramid_down<6>`` levels, each 5/6 of the previous one, resampled bilinearly
  from it in that normalised space, tiled into one tensor with zeros between them — the
  network sees one image, so a window near a level's edge sees its neighbour as dlib's
  does, and the scores match dlib's to float rounding;
- the loss layer's decoding (``loss_mmod::to_label``): every score above the threshold
  is a detector window centred where that output position maps back to the tensor, then
  to the level it falls in and up to the image; boxes are kept in descending score order
  unless one already kept overlaps them (dlib's ``test_box_overlap``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, FilePath, field_validator

from lfr.vision._lazy import LazyModel
from lfr.vision.detection.base import RegionDetector, register_detector
from lfr.vision.detection.dlib_mmod import MmodSettings
from lfr.vision.detection.mmod_export import (
    INPUT_NAME,
    PYRAMID_DOWN,
    MmodNetwork,
    convert_mmod_model,
    default_mmod_path,
    read_mmod_network,
)
from lfr.vision.onnx_runtime import check_providers, create_session, providers_field
from lfr.vision.types import RGBImage

FloatArray = NDArray[np.float32]
Rect = tuple[int, int, int, int]
"""dlib's rectangle: (left, top, right, bottom), right and bottom inclusive."""

_MIN_LEVEL_HEIGHT = 5  # dlib stops the pyramid at levels lower than this


class MmodOnnxDetectorConfig(MmodSettings):
    """dlib's MMOD detector exported to ONNX: the `mmod` backend's faces and scores (to
    float rounding) on the execution providers named here."""

    type: Literal["mmod-onnx"] = "mmod-onnx"
    model_path: FilePath | None = Field(
        default=None,
        description=(
            "dlib's MMOD detector file (.dat). None: mmod_human_face_detector.dat from "
            "face-recognition-models, as the `mmod` backend uses."
        ),
    )
    providers: tuple[str, ...] = providers_field("detects")
    intra_op_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "Threads one frame's network run may use on the CPU. 0: all cores. Fewer "
            "leaves cores to other cameras and to description at the cost of latency."
        ),
    )

    @field_validator("model_path")
    @classmethod
    def _is_an_mmod_detector(cls, path: Path | None) -> Path | None:
        """The file is read with the settings (a few tens of ms): one that is not dlib's
        MMOD detector is refused now, naming the file, not in a camera worker."""
        if path is not None:
            read_mmod_network(path)  # DlibModelError (a ValueError) says where it differs
        return path


@dataclass(frozen=True)
class _Loaded:
    """The network's decoding facts and its ONNX Runtime session."""

    net: MmodNetwork
    session: Any


# --------------------------------------------------------------------------- input layer


def _level_sizes(rows: int, cols: int) -> list[tuple[int, int]]:
    """(rows, cols) of each pyramid level, the image first: each 5/6 of the one before,
    rounded down, down to `_MIN_LEVEL_HEIGHT` rows."""
    sizes = [(rows, cols)]
    rate = (PYRAMID_DOWN - 1.0) / PYRAMID_DOWN
    while True:
        rows, cols = math.floor(rate * rows), math.floor(rate * cols)
        if rows * cols == 0 or rows < _MIN_LEVEL_HEIGHT:
            return sizes
        sizes.append((rows, cols))


def _first_column_height(sizes: list[tuple[int, int]], padding: int) -> int:
    """How far down the levels go before the rest double back beside them: until the
    next level fits beside the previous one and the column holds half of the rest."""
    total_height = sum(h + padding for h, _ in sizes) - 2 * padding
    first_h, first_w = sizes[0]
    height, prev_width = 0, 0
    for h, w in sizes:
        if w <= first_w - prev_width - padding and (height - first_h) * 2 >= total_height - first_h:
            break
        height += h + padding
        prev_width = w
    return height - padding


def tile_rects(
    rows: int, cols: int, padding: int, outer_padding: int
) -> tuple[list[Rect], int, int]:
    """Where each pyramid level of an image `rows`×`cols` lies in the tiled tensor, and
    the tensor's height and width (dlib's ``compute_tiled_image_pyramid_details``): the
    levels down a first column, the smaller ones back up a second beside them."""
    sizes = _level_sizes(rows, cols)
    height = _first_column_height(sizes, padding)
    first_w = sizes[0][1]
    rects: list[Rect] = []
    y = outer_padding
    for h, w in sizes:
        if y >= height + outer_padding:
            break
        rects.append((outer_padding, y, outer_padding + w - 1, y + h - 1))
        y += h + padding
    y -= padding
    for h, w in sizes[len(rects) :]:
        right, bottom = outer_padding + first_w - 1, y - 1
        rect = (right - (w - 1), bottom - (h - 1), right, bottom)
        if _intersects(rects[0], rect):
            break  # dlib drops the levels that would overlap the image itself
        rects.append(rect)
        y -= h + padding
    return rects, height + 2 * outer_padding, first_w + 2 * outer_padding


def _intersects(a: Rect, b: Rect) -> bool:
    return max(a[0], b[0]) <= min(a[2], b[2]) and max(a[1], b[1]) <= min(a[3], b[3])


def resize_bilinear(image: FloatArray, rows: int, cols: int) -> FloatArray:
    """`image` (channels×height×width) resampled to rows×cols as dlib's ``resize_image``
    does: corners onto corners (scale (n - 1) / (m - 1)), bilinear, in float."""

    def axis(size_in: int, size_out: int) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]:
        scale = (size_in - 1) / max(size_out - 1, 1)
        position = np.arange(size_out, dtype=np.float64) * scale
        low = np.floor(position).astype(np.intp)
        high = np.minimum(low + 1, size_in - 1)
        return low, high, (position - low).astype(np.float32)

    top, bottom, fy = axis(image.shape[1], rows)
    left, right, fx = axis(image.shape[2], cols)
    # Rows first, then columns: the same weights as dlib's four-corner sum, in half the
    # gathers (equal to it within float rounding, 2e-7).
    # np.take: ten times faster than fancy indexing along the last axis.
    fy_ = fy[None, :, None]
    vertical = np.take(image, top, axis=1) * (1 - fy_)
    vertical += np.take(image, bottom, axis=1) * fy_
    fx_ = fx[None, None, :]
    resized = np.take(vertical, left, axis=2) * (1 - fx_)
    resized += np.take(vertical, right, axis=2) * fx_
    return np.asarray(resized, dtype=np.float32)


def tiled_pyramid(image: RGBImage, net: MmodNetwork) -> tuple[FloatArray, list[Rect]]:
    """The network's input tensor (1×3×H×W) for `image` and where each level lies."""
    rows, cols = image.shape[:2]
    spec = net.input
    rects, height, width = tile_rects(rows, cols, spec.padding, spec.outer_padding)
    tensor = np.zeros((3, height, width), dtype=np.float32)
    means = np.asarray(spec.means, dtype=np.float32).reshape(3, 1, 1)
    left, top, right, bottom = rects[0]
    planes = image.transpose(2, 0, 1).astype(np.float32)
    tensor[:, top : bottom + 1, left : right + 1] = (planes - means) / np.float32(256)
    for previous, rect in itertools.pairwise(rects):
        source = tensor[:, previous[1] : previous[3] + 1, previous[0] : previous[2] + 1]
        level_rows, level_cols = rect[3] - rect[1] + 1, rect[2] - rect[0] + 1
        tensor[:, rect[1] : rect[3] + 1, rect[0] : rect[2] + 1] = resize_bilinear(
            source, level_rows, level_cols
        )
    return tensor[None], rects


# --------------------------------------------------------------------------- loss layer


def _round(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """``std::lround``: halves away from zero."""
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def _nearest_levels(rects: list[Rect], points: NDArray[np.int64]) -> NDArray[np.intp]:
    """dlib's ``nearest_rect``: the first level containing each (x, y), else the nearest."""
    boxes = np.asarray(rects, dtype=np.int64)  # levels × (l, t, r, b)
    x, y = points[:, 0:1], points[:, 1:2]
    inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    dx = np.clip(x, boxes[:, 0], boxes[:, 2]) - x
    dy = np.clip(y, boxes[:, 1], boxes[:, 3]) - y
    distance = np.hypot(dx, dy)
    chosen = np.where(inside.any(axis=1), inside.argmax(axis=1), distance.argmin(axis=1))
    return np.asarray(chosen, dtype=np.intp)


def candidates(
    scores: FloatArray, net: MmodNetwork, rects: list[Rect], threshold: float
) -> list[tuple[Rect, float]]:
    """Every output position scoring above `threshold` as a box in image pixels (dlib's
    ``tensor_to_dets``), highest score first."""
    (row_scale, row_offset), (col_scale, col_offset) = net.output_to_input()
    found: list[tuple[Rect, float]] = []
    for channel, window in enumerate(net.options.windows):
        rows, cols = np.nonzero(scores[channel] > threshold)
        if rows.size == 0:
            continue
        centre = np.stack([cols * col_scale + col_offset, rows * row_scale + row_offset], axis=1)
        half = np.array([(window.width - 1) / 2, (window.height - 1) / 2])
        levels = _nearest_levels(rects, np.floor(centre + 0.5).astype(np.int64))
        origins = np.asarray(rects, dtype=np.float64)[levels, :2]
        corners = np.concatenate([centre - half - origins, centre + half - origins], axis=1)
        ratio = PYRAMID_DOWN / (PYRAMID_DOWN - 1.0)
        for level in range(int(levels.max()) + 1):  # dlib's point_up, once per level
            up = levels > level
            corners[up] = corners[up] * ratio + 0.3
        boxes = _round(corners)
        values = scores[channel][rows, cols]
        found += [
            ((int(b[0]), int(b[1]), int(b[2]), int(b[3])), float(v))
            for b, v in zip(boxes, values, strict=True)
        ]
    found.sort(key=lambda item: item[1], reverse=True)
    return found


def _area(rect: Rect) -> int:
    return max(0, rect[2] - rect[0] + 1) * max(0, rect[3] - rect[1] + 1)


def overlaps(a: Rect, b: Rect, iou: float, covered: float) -> bool:
    """dlib's ``test_box_overlap``: the intersection over the rectangle bounding both
    above `iou`, or over either box above `covered`."""
    inner = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    if inner == 0:
        return False
    outer = _area((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
    return inner / outer > iou or inner / _area(a) > covered or inner / _area(b) > covered


def suppress(found: list[tuple[Rect, float]], net: MmodNetwork) -> list[tuple[Rect, float]]:
    """Non-max suppression: each box in turn is kept unless a kept one overlaps it."""
    options = net.options
    kept: list[tuple[Rect, float]] = []
    for rect, score in found:
        if not any(
            overlaps(k, rect, options.overlap_iou, options.overlap_covered) for k, _ in kept
        ):
            kept.append((rect, score))
    return kept


# --------------------------------------------------------------------------- detector


class MmodOnnxDetector(RegionDetector):
    """The exported network behind the common region and scale handling: the model is
    exported and its session created on the first `detect` (ONNX Runtime's `run` may be
    called from several threads at once, so no lock is held around it)."""

    def __init__(self, config: MmodOnnxDetectorConfig) -> None:
        super().__init__(config)
        self._config = config
        source = config.model_path if config.model_path is not None else default_mmod_path()
        # Refused here, when the settings are applied, rather than on the first frame.
        check_providers(config.providers, Path(source))
        self._source = Path(source)
        self._model: LazyModel[_Loaded] = LazyModel(self._load)

    def _load(self) -> _Loaded:
        net, model = convert_mmod_model(self._source)
        session = create_session(
            model.SerializeToString(),
            self._source,
            providers=self._config.providers,
            intra_op_threads=self._config.intra_op_threads,
        )
        return _Loaded(net=net, session=session)

    def _detect_in(self, image: RGBImage) -> list[tuple[tuple[int, int, int, int], float]]:
        loaded = self._model.get()
        times = self._config.upsample
        tensor, rects = tiled_pyramid(upsampled(image, times), loaded.net)
        if not loaded.net.accepts(tensor.shape[2], tensor.shape[3]):
            return []  # a region a few pixels across: too small for the network (and any face)
        scores = loaded.session.run(None, {INPUT_NAME: tensor})[0][0]
        found = suppress(
            candidates(scores, loaded.net, rects, self._config.min_confidence), loaded.net
        )
        return [(_exclusive(rect_down(rect, times)), score) for rect, score in found]


def upsampled(image: RGBImage, times: int) -> RGBImage:
    """`image` doubled `times` times as dlib's Python detector does it (``pyramid_up``
    with ``pyramid_down<2>``): each time to (2·rows + 1)×(2·cols + 2), corners onto
    corners, bilinear, byte for byte as dlib's ``resize_image`` of RGB images computes it."""
    for _ in range(times):
        image = _double(image)
    return image


def _double(image: RGBImage) -> RGBImage:
    """One doubling. dlib computes four columns at a time in float32 SSE arithmetic
    (positions accumulated in float32, results truncated) and the last few columns in
    double; its rounding is reproduced, since a byte rounded the other way moves a score
    by up to 1e-3."""
    rows, cols = image.shape[:2]
    out_rows, out_cols = 2 * rows + 1, 2 * cols + 2
    y_scale = (rows - 1) / max(out_rows - 1, 1)
    x_scale = (cols - 1) / max(out_cols - 1, 1)
    y = _accumulated(-y_scale, y_scale, out_rows)  # dlib adds the step row by row
    top = np.floor(y).astype(np.intp)
    bottom = np.minimum(top + 1, rows - 1)
    out = np.empty((out_rows, out_cols, 3), dtype=np.uint8)
    left, right_weight = _sse_columns(cols, out_cols, x_scale)
    upper, lower = image[top].astype(np.float32), image[bottom].astype(np.float32)
    below = (y - top).astype(np.float32)[:, None, None]
    above = (1 - (y - top)).astype(np.float32)[:, None, None]
    right_w = right_weight[None, :, None]
    left_w = np.float32(1) - right_w
    value = (above * left_w) * upper[:, left] + (above * right_w) * upper[:, left + 1]
    value += (below * left_w) * lower[:, left]
    value += (below * right_w) * lower[:, left + 1]
    done = left.size
    out[:, :done] = value.astype(np.int32).astype(np.uint8)
    x = _accumulated(-x_scale + done * x_scale, x_scale, out_cols - done)
    out[:, done:] = _double_columns(image, top, bottom, y - top, x)
    return out


def _accumulated(start: float, step: float, count: int) -> NDArray[np.float64]:
    """``start + step``, ``start + step + step``, … added one at a time, as a loop does."""
    terms = np.concatenate([[start], np.full(count, step)])
    return np.cumsum(terms)[1:]


def _sse_columns(cols: int, out_cols: int, x_scale: float) -> tuple[NDArray[np.intp], FloatArray]:
    """The columns dlib's SSE loop computes (groups of four, until a group's last right
    neighbour would leave the image): each one's left source column and the weight of
    the right one, in float32 as it computes them."""
    groups = out_cols // 4 + 1
    steps = np.empty((groups + 1, 4), dtype=np.float32)
    steps[0] = (-4 * x_scale + np.arange(4) * x_scale).astype(np.float32)
    steps[1:] = np.float32(4 * x_scale)
    x = np.cumsum(steps, axis=0, dtype=np.float32)[1:]
    left = x.astype(np.int32)  # truncation, as _mm_cvttps_epi32
    outside = np.nonzero(left[:, 3] + 1 >= cols)[0]
    count = int(outside[0]) if outside.size else groups
    x, left = x[:count].reshape(-1), left[:count].reshape(-1)
    return left.astype(np.intp), x - left.astype(np.float32)


def _double_columns(
    image: RGBImage,
    top: NDArray[np.intp],
    bottom: NDArray[np.intp],
    below: NDArray[np.float64],
    x: NDArray[np.float64],
) -> RGBImage:
    """The last columns, which dlib computes in double and truncates."""
    cols = image.shape[1]
    left = np.floor(x).astype(np.intp)
    right = np.minimum(left + 1, cols - 1)
    right_w = (x - left)[None, :, None]
    t = below[:, None, None]
    upper, lower = image[top].astype(np.float64), image[bottom].astype(np.float64)
    upper_row = (1 - right_w) * upper[:, left] + right_w * upper[:, right]
    lower_row = (1 - right_w) * lower[:, left] + right_w * lower[:, right]
    return np.asarray(((1 - t) * upper_row + t * lower_row).astype(np.uint8), dtype=np.uint8)


def rect_down(rect: Rect, times: int) -> Rect:
    """A rectangle of the image upsampled `times` times in the image's own pixels
    (``pyramid_down<2>::rect_down``: halved, less its filter's offset, then rounded)."""
    if times == 0:
        return rect
    corners = np.array(rect, dtype=np.float64)
    for _ in range(times):
        corners = corners / 2.0 - np.array([1.25, 0.75, 1.25, 0.75])
    left, top, right, bottom = (int(v) for v in _round(corners))
    return left, top, right, bottom


def _exclusive(rect: Rect) -> tuple[int, int, int, int]:
    """dlib's rectangle (right and bottom inclusive) as ours (exclusive)."""
    return rect[0], rect[1], rect[2] + 1, rect[3] + 1


@register_detector("mmod-onnx")
def build_mmod_onnx(config: MmodOnnxDetectorConfig) -> MmodOnnxDetector:
    return MmodOnnxDetector(config)
