"""Face describers behind a Protocol, chosen by configuration `type` (REC-2).

Backends: ``dlib`` (dlib ResNet from face-recognition-models, the default) and ``onnx``
(any ONNX face-recognition model run by ONNX Runtime, e.g. the dlib ResNet exported by
``lfr model export-dlib``, several times faster). Adding a
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
    """The describer `config` describes (dlib with defaults when None). Cheap: the model
    is read on the first `describe`."""
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
