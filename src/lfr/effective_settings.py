"""Every effective setting, where its value came from and what it is for (`lfr config show`).

The sources are read again, one by one, in the order of precedence `Settings` merges them
in (arguments, the environment, ``.env``, the settings file); a value none of them gives
is the default. Secrets are never shown: secret strings, and the password of a URL
(``postgresql+psycopg://lfr:…@db/lfr``), are masked (DP-2, AUD-1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

from lfr.domain.redaction import MASK, redacted
from lfr.settings import Settings, read_settings_file

__all__ = ["MASK", "EffectiveSetting", "Source", "effective_settings", "shown", "without_password"]


class Source(StrEnum):
    """Where an effective value came from, highest precedence first."""

    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    ENV_FILE = "environment (.env)"
    FILE = "file"
    DEFAULT = "default"


@dataclass(frozen=True)
class EffectiveSetting:
    name: str
    """Dotted, as in the settings file: ``engine.alert_threshold``."""
    value: Any
    """As JSON would hold it, secrets masked."""
    source: Source
    description: str

    @property
    def variable(self) -> str:
        """The environment variable that sets it: ``LFR_ENGINE__ALERT_THRESHOLD``."""
        return "LFR_" + self.name.replace(".", "__").upper()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variable": self.variable,
            "value": self.value,
            "source": self.source.value,
            "description": self.description,
        }


def effective_settings(
    settings: Settings, arguments: Mapping[str, Any] | None = None
) -> list[EffectiveSetting]:
    """Each leaf of `settings` (nested groups flattened), with its source. `arguments`:
    what the program passed to `Settings(...)` itself (``config_file`` for ``--config``)."""
    given = _given_by_source(type(settings), arguments or {}, settings.config_file)
    return [
        EffectiveSetting(".".join(path), shown(value), _source_of(path, given), description)
        for path, value, description in _leaves(settings)
    ]


def _given_by_source(
    settings_cls: type[Settings], arguments: Mapping[str, Any], config_file: Path | None
) -> list[tuple[Source, Mapping[str, Any]]]:
    return [
        (Source.ARGUMENT, arguments),
        (Source.ENVIRONMENT, EnvSettingsSource(settings_cls)()),
        (Source.ENV_FILE, DotEnvSettingsSource(settings_cls)()),
        (Source.FILE, read_settings_file(config_file) if config_file is not None else {}),
    ]


def _source_of(path: tuple[str, ...], given: list[tuple[Source, Mapping[str, Any]]]) -> Source:
    return next((source for source, values in given if _gives(values, path)), Source.DEFAULT)


def _gives(values: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether `values` sets `path`: the leaf itself, or a table above it given whole
    (a model passed as an argument, a JSON object in one variable)."""
    value: Any = values
    for part in path:
        if not isinstance(value, Mapping):
            return True
        if part not in value:
            return False
        value = value[part]
    return True


def _leaves(
    model: BaseModel, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = (*prefix, name)
        if isinstance(value, BaseModel):
            yield from _leaves(value, path)
        else:
            yield path, value, field.description or ""


def shown(value: Any) -> Any:
    """`value` as JSON would hold it, with secret strings and URL passwords masked."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, list | tuple):
        return [shown(item) for item in value]
    if isinstance(value, frozenset | set):  # one order every run (a set's varies)
        return sorted(shown(item) for item in value)
    jsonable = to_jsonable_python(value)
    if isinstance(jsonable, str) and "://" in jsonable:
        return without_password(jsonable)
    return jsonable


def without_password(url: str) -> str:
    """`url` (or a comma-separated list of URLs) with every password masked: in a user
    part, and in a query parameter (``?password=``)."""
    return redacted(url)
