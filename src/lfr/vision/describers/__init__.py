"""Face describers behind a Protocol, chosen by configuration `type` (REC-2).

Backends: ``dlib`` (dlib ResNet from face-recognition-models, the default; run by ONNX
Runtime unless ``runtime: dlib``) and ``onnx`` (any ONNX face-recognition model, e.g. one a
force licenses). Adding a
backend is adding one module that defines its config (a pydantic model with a `type`
literal) and a builder decorated with `register_describer`, then naming its config in
`DescriberConfig` below. Models load lazily, under a lock, on the first `describe`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter

from lfr.vision.describers.base import Describer, builder_for, l2_normalise, register_describer
from lfr.vision.describers.dlib_resnet import DlibDescriber, DlibDescriberConfig
from lfr.vision.describers.onnx import (
    OnnxDescriber,
    OnnxDescriberConfig,
    inspect_model,
    load_model,
)

DescriberConfig = Annotated[DlibDescriberConfig | OnnxDescriberConfig, Field(discriminator="type")]
"""Any describer's configuration; ``{"type": "dlib"}`` (the default) picks dlib ResNet,
``{"type": "onnx", "model_path": ...}`` an ONNX model."""

DESCRIBER_CONFIG_ADAPTER: TypeAdapter[DescriberConfig] = TypeAdapter(DescriberConfig)


def build_describer(config: DescriberConfig | None = None) -> Describer:
    """The describer `config` describes (dlib with defaults when None). The inference
    session starts on the first `describe`; the default (dlib weights on ONNX Runtime)
    converts the weights here, which takes a fraction of a second."""
    chosen = config if config is not None else DlibDescriberConfig()
    return builder_for(chosen.type)(chosen)


def describer_model_id(config: DescriberConfig | None = None) -> str:
    """The model id `build_describer(config)` would have, without building it (no weight
    conversion, no session): what a template set is checked against before any worker
    starts."""
    chosen = config if config is not None else DlibDescriberConfig()
    if isinstance(chosen, DlibDescriberConfig):
        return DlibDescriber.model_id
    return chosen.model_id or inspect_model(chosen, load_model(Path(chosen.model_path))).model_id


__all__ = [
    "DESCRIBER_CONFIG_ADAPTER",
    "Describer",
    "DescriberConfig",
    "DlibDescriber",
    "DlibDescriberConfig",
    "OnnxDescriber",
    "OnnxDescriberConfig",
    "build_describer",
    "describer_model_id",
    "l2_normalise",
    "register_describer",
]
