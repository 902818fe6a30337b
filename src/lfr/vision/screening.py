"""A fast approximate first pass for 1:N search against large watchlists (REC-2).

Exact search reads the whole float32 template matrix for every probe (512 MB at a million
128-d templates: 50–90 ms per probe on two cores, bound by memory bandwidth). Screening
reads a compact copy instead and keeps a generous candidate set, which the gallery then
re-scores exactly on the float32 matrix. Returned scores are therefore exact; a result
can differ from exact search only if a true top-k subject falls outside the candidates.

The compact copy: templates are centred on their mean and rotated onto their principal
components; components holding (together) less than `DROPPED_VARIANCE` of the variance
are dropped (dlib descriptors span about 78 of their 128 dimensions, so the copy is
about 78 bytes a template); each component is scaled to int8. Probes are quantised to 7
bits, so that the int8 kernel's 16-bit pair sums cannot saturate on AVX2 without VNNI.
The dot products run in ONNX Runtime's integer matrix product (numpy has no fast int8
kernel), which reads a quarter to a sixth of the bytes of exact search.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from pydantic import BaseModel, ConfigDict, Field

DROPPED_VARIANCE = 1e-6
"""Share of the templates' variance the screen may ignore (its smallest components)."""

_PROBE_LEVELS = 63
"""Probe components are quantised to -63 … 63 (7 bits), stored offset by `_PROBE_ZERO`."""
_PROBE_ZERO = 64
_CHUNK = 65_536


class Screening(BaseModel):
    """When and how large galleries are searched through a screen (see the module's text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_templates: int = Field(
        default=200_000,
        ge=1,
        description=(
            "Galleries with at least this many templates are screened; smaller ones are "
            "searched exactly. Below about 200k templates exact search costs under 10 ms "
            "a probe, so the screen's build time (about 10 s at 1M) and memory (the "
            "int8 copy twice over, runtime and packed: about 310 MB at 1M 128-d "
            "templates, beside the 512 MB float32 matrix) buy little."
        ),
    )
    candidates: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description=(
            "Subjects kept by the screen and re-scored exactly (at least k, and with "
            "cohort normalisation also the cohort). Raising it costs time (each costs "
            "one exact template comparison, about 0.1 µs, plus sorting); lowering it "
            "risks missing the true best match when the screen's rounding reorders it "
            "below the cut. Measured at 1M templates: 100 already gave the exact top 5 "
            "for 300 lfw-like probes, 256 for 200 random ones (the worst case)."
        ),
    )


class ScreenIndex:
    """The int8 copy of a template matrix and the integer product that screens it."""

    def __init__(self, templates: NDArray[np.float32]) -> None:
        self.centre = templates.mean(axis=0, dtype=np.float64).astype(np.float32)
        self.basis = _principal_basis(templates, self.centre)
        codes, self.scale = _quantise(templates, self.centre, self.basis)
        self._session = _integer_product(codes)

    @property
    def components(self) -> int:
        return int(self.basis.shape[1])

    def products(
        self, probes: NDArray[np.float32]
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
        """For unit probes: integer products (n_probes, n_templates), each probe's step and
        offset; approximate cosine = offset + step × product. Within a probe the products
        rank templates as the approximate cosines do, so ranking needs no conversion."""
        projected = (probes @ self.basis) * self.scale
        step = np.maximum(np.abs(projected).max(axis=1), 1e-12) / _PROBE_LEVELS
        levels = np.rint(projected / step[:, None]).astype(np.int16) + _PROBE_ZERO
        products = self._session.run(None, {"probe": levels.astype(np.uint8)})[0]
        # score = probe·centre + probe·(template - centre); the second term is the product.
        offset = probes @ self.centre
        return np.asarray(products, dtype=np.int32), step.astype(np.float32), offset

    def scores(self, probes: NDArray[np.float32]) -> NDArray[np.float32]:
        """(n_probes, n_templates) approximate cosine similarities of unit probes."""
        products, step, offset = self.products(probes)
        return to_scores(products, step, offset)


def to_scores(
    products: NDArray[np.int32], step: NDArray[np.float32], offset: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Approximate cosines from `ScreenIndex.products`."""
    scores = products.astype(np.float32)
    scores *= step[:, None]
    scores += offset[:, None]
    return scores


def _principal_basis(
    templates: NDArray[np.float32], centre: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Columns: the principal directions of the templates, largest first, leaving out the
    smallest ones that hold together at most `DROPPED_VARIANCE` of the variance."""
    second_moment = np.zeros((templates.shape[1],) * 2, dtype=np.float64)
    for start in range(0, len(templates), _CHUNK):
        block = (templates[start : start + _CHUNK] - centre).astype(np.float64)
        second_moment += block.T @ block
    variances, directions = np.linalg.eigh(second_moment)
    variances, directions = variances[::-1].clip(min=0), directions[:, ::-1]
    total = float(variances.sum())
    dropped_from_tail = np.cumsum(variances[::-1])[::-1]  # variance of components i …
    keep = int(np.count_nonzero(dropped_from_tail > DROPPED_VARIANCE * total)) if total else 1
    return np.ascontiguousarray(directions[:, : max(keep, 1)], dtype=np.float32)


def _quantise(
    templates: NDArray[np.float32], centre: NDArray[np.float32], basis: NDArray[np.float32]
) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """(components × templates) int8 codes and each component's step."""
    extent = np.zeros(basis.shape[1], dtype=np.float32)
    for start in range(0, len(templates), _CHUNK):
        projected = (templates[start : start + _CHUNK] - centre) @ basis
        np.maximum(extent, np.abs(projected).max(axis=0), out=extent)
    scale = np.maximum(extent, 1e-12) / 127
    codes = np.empty((basis.shape[1], len(templates)), dtype=np.int8)
    for start in range(0, len(templates), _CHUNK):
        projected = (templates[start : start + _CHUNK] - centre) @ basis
        codes[:, start : start + _CHUNK] = np.rint(projected / scale).T
    return codes, scale.astype(np.float32)


def _integer_product(codes: NDArray[np.int8]) -> ort.InferenceSession:
    """An ONNX Runtime session computing (probe levels - zero) @ codes in int32; the codes
    are a constant, so the runtime packs them once for its int8 kernel."""
    components, count = codes.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["probe", "codes", "zero"], ["product"])],
        "screen",
        [helper.make_tensor_value_info("probe", TensorProto.UINT8, [None, components])],
        [helper.make_tensor_value_info("product", TensorProto.INT32, [None, count])],
        [
            numpy_helper.from_array(codes, "codes"),
            numpy_helper.from_array(np.array(_PROBE_ZERO, dtype=np.uint8), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Threads that spin while waiting for work lose their time slice to the camera
    # workers on a busy machine; measured: same best time, steadier median without.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    ort.disable_telemetry_events()  # as for the describer: nothing leaves the machine
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
