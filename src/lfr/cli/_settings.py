"""How a command reads the settings (not a command module): the one tree of `lfr.settings`,
with the ``--config`` file when given, or a one-line error and exit status 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from lfr.settings import (
    Settings,
    SettingsFileError,
    StandaloneSettings,
    environment_error_line,
    get_settings,
    settings_error_line,
    use_settings_file,
)
from lfr.vision.engine_config import EngineConfig

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=(
            "TOML settings file (as LFR_CONFIG_FILE); environment variables override it, "
            "keys that are no setting are refused."
        ),
    ),
]

_Loaded = TypeVar("_Loaded", bound=Settings)


def load_settings(config_file: Path | None = None) -> Settings:
    """The process's settings (with `config_file`, for every later reader too)."""
    if config_file is not None:
        use_settings_file(config_file)
    return _or_exit(get_settings)


def load_standalone_settings(config_file: Path | None = None) -> StandaloneSettings:
    """The settings of a process that holds no service secret (`lfr node`, `lfr watch`)."""
    if config_file is None:
        return _or_exit(StandaloneSettings)
    return _or_exit(lambda: StandaloneSettings(config_file=config_file))


def require_available_hardware(engine: EngineConfig) -> None:
    """Refuse, before anything starts, an execution provider this installation lacks
    (`engine.describer.providers`, `engine.detector.providers`, a fusion part's) or GPU
    decoding this machine cannot do (`engine.decoding.hardware`): one line naming the
    setting and exit status 2, rather than workers that crash or cameras that never open."""
    from lfr.vision.decoding import hardware_problem
    from lfr.vision.onnx_runtime import unavailable_providers

    problems = unavailable_providers(engine.model_dump(), "engine")
    decoding = hardware_problem(engine.decoding)
    if decoding is not None:
        problems.append(
            f"engine.decoding.hardware {engine.decoding.hardware!r}: {decoding}; set it to "
            "'none' to decode on the CPU"
        )
    if problems:
        typer.echo(f"error: invalid settings: {'; '.join(problems)}", err=True)
        raise typer.Exit(2)


def require_data_dir(settings: Settings) -> None:
    """Make the data folder (`lfr serve`, `lfr db upgrade` create the database there), or
    one line naming the setting and exit status 2 when it cannot be made."""
    problem = None
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        problem = "is a file, not a folder"
    else:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"cannot be created ({error.strerror or type(error).__name__})"
    if problem is not None:
        typer.echo(
            f"error: invalid settings: data_dir (LFR_DATA_DIR) {settings.data_dir.resolve()}: "
            f"{problem}",
            err=True,
        )
        raise typer.Exit(2)


def _or_exit(load: Callable[[], _Loaded]) -> _Loaded:
    try:
        return load()
    except ValidationError as error:
        typer.echo(f"error: invalid settings: {settings_error_line(error)}", err=True)
        raise typer.Exit(2) from error
    except SettingsFileError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    except SettingsError as error:  # a value in the environment that cannot be decoded
        typer.echo(f"error: invalid settings: {environment_error_line(error)}", err=True)
        raise typer.Exit(2) from error
