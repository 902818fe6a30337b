"""Face describers behind a Protocol, chosen by configuration `type` (REC-2).

Backends: ``dlib`` (dlib ResNet from face-recognition-models, the default; run by ONNX
Runtime unless ``runtime: dlib``) and ``onnx`` (any ONNX face-recognition model, e.g. one a
force licenses). The package **discovers** its backends: every module here is imported
(but `base`, names starting with ``_`` and the ``*_export`` helpers), and each that
registers a describer joins `DescriberConfig`. Adding a backend is adding one module that
defines its settings (a `DescriberSettings` with a `type` literal, including the crop its
model takes, `lfr.vision.alignment`), a builder decorated with
``register_describer("<type>", <Settings>)``, and, for a model it ships, its `ModelCard`
(default threshold, calibration and equitability files). Models load lazily, under a
lock, on the first `describe`.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias, Union

from pydantic import Field, TypeAdapter

from lfr.vision.describers.base import (
    Describer,
    DescriberSettings,
    ModelCard,
    builder_for,
    l2_normalise,
    model_card,
    register_describer,
    registered_configs,
)


def _discover() -> None:
    """Import every describer module of this package (each registers itself)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        name = module.name
        if name == "base" or name.startswith("_") or name.endswith("_export"):
            continue
        import_module(f"{__name__}.{name}")


_discover()

from lfr.vision.describers.dlib_resnet import (  # noqa: E402 (after discovery, on purpose)
    DlibDescriber,
    DlibDescriberConfig,
)
from lfr.vision.describers.fusion import (  # noqa: E402
    FusionDescriberConfig,
    fused_model_id,
)
from lfr.vision.describers.onnx import (  # noqa: E402
    OnnxDescriber,
    OnnxDescriberConfig,
    inspect_model,
    load_model,
)

if TYPE_CHECKING:
    DescriberConfig: TypeAlias = DescriberSettings
else:
    DescriberConfig = Annotated[
        Union[registered_configs()],  # noqa: UP007 (a tuple of classes found at run time)
        Field(discriminator="type"),
    ]
"""Any registered describer's configuration, told apart by `type`: ``{"type": "dlib"}``
(the default) picks dlib ResNet, ``{"type": "onnx", "model_path": ...}`` an ONNX model.
(Type checkers see the settings every describer shares.)"""

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
    if chosen.MODEL_ID is not None:
        return chosen.MODEL_ID
    if isinstance(chosen, OnnxDescriberConfig):
        return (
            chosen.model_id or inspect_model(chosen, load_model(Path(chosen.model_path))).model_id
        )
    if isinstance(chosen, FusionDescriberConfig):
        return fused_model_id(
            [
                (
                    describer_model_id(DESCRIBER_CONFIG_ADAPTER.validate_python(p.describer)),
                    p.weight,
                )
                for p in chosen.parts
            ]
        )
    return build_describer(chosen).model_id


def check_describer_models(config: DescriberConfig) -> None:
    """Read and inspect every model file `config` names (an onnx or faceres describer, each
    part of a fusion) without starting a session, so that a missing, unreadable or
    ill-fitting file fails when the settings are read, naming the file (`OnnxModelError`),
    never later in a camera worker. dlib's weights come with the package."""
    if isinstance(config, DlibDescriberConfig):
        return
    if isinstance(config, FusionDescriberConfig):
        for part in config.parts:
            check_describer_models(DESCRIBER_CONFIG_ADAPTER.validate_python(part.describer))
        return
    build_describer(config)


__all__ = [
    "DESCRIBER_CONFIG_ADAPTER",
    "Describer",
    "DescriberConfig",
    "DescriberSettings",
    "DlibDescriber",
    "DlibDescriberConfig",
    "ModelCard",
    "OnnxDescriber",
    "OnnxDescriberConfig",
    "build_describer",
    "check_describer_models",
    "describer_model_id",
    "l2_normalise",
    "model_card",
    "register_describer",
]
