"""Typed settings, read from the environment with the ``LFR_`` prefix (or a ``.env`` file).

Every field says what it is for; unknown keys are refused so that a typo in a deployment's
configuration is an error, not a silently ignored line.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LFR_", env_file=".env", extra="forbid")

    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="development allows built-in keys; production refuses to start with them.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded default keeps its SQLite database and keys.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
