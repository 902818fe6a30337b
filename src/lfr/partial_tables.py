"""A nested table given in part keeps the rest of its field's default (`complete_partial_tables`).

A table such as ``[engine.detector]`` or ``LFR_NATS__STREAMS__MATCH__MAX_AGE_S`` names a
few values of a nested model whose field default is not its class's own (the engine
detects on frames at most 960 px wide; the match stream is a work queue). Validated
alone, the table would fall back to the class's defaults, silently, or fail for the
values it leaves out; completed from the field's default, it changes only what it names.
A table that chooses another backend (another ``type``) starts from that backend's own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def complete_partial_tables(model: type[BaseModel], data: Any) -> Any:
    """`data` for `model` with each nested table completed from its field's default; for
    a ``mode="before"`` model validator."""
    if not isinstance(data, dict):
        return data
    completed = dict(data)
    for name, given in data.items():
        field = model.model_fields.get(name)
        if field is None or not isinstance(given, dict):
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel) and _same_backend(default, given):
            completed[name] = {**default.model_dump(), **given}
    return completed


def _same_backend(default: BaseModel, given: dict[str, Any]) -> bool:
    """Whether `given` configures the default's own backend (names no other ``type``)."""
    kind = getattr(default, "type", None)
    return given.get("type", kind) == kind
