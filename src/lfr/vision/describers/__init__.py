"""Face describers behind a Protocol, chosen by configuration `type` (REC-2).

Backends: ``dlib`` (dlib ResNet from face-recognition-models, the default; run by ONNX
Runtime unless ``runtime: dlib``) and ``onnx`` (any ONNX face-recognition model, e.g. one a
force licenses). Adding a
backend is adding one module that defines its config (a pydantic model with a `type`
literal) and a builder decorated with `register_describer`, then naming its config in
`DescriberConfig` below. Models load lazily, under a lock, on the first `describe`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from lfr.vision.describers.base import Describer, builder_for, l2_normalise, register_describer
from lfr.vision.describers.dlib_resnet import DlibDescriber, DlibDescriberConfig
from lfr.vision.describers.onnx import OnnxDescriber, OnnxDescriberConfig

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


__all__ = [
    "DESCRIBER_CONFIG_ADAPTER",
    "Describer",
    "DescriberConfig",
    "DlibDescriber",
    "DlibDescriberConfig",
    "OnnxDescriber",
    "OnnxDescriberConfig",
    "build_describer",
    "l2_normalise",
    "register_describer",
]
