"""Secrets in settings: built-in keys only in development and test (DP-2, AUD-1)."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from lfr.settings import Environment, Settings

FRESH = {
    "biometric_key": base64.b64encode(os.urandom(32)).decode(),
    "audit_signing_key": base64.b64encode(os.urandom(32)).decode(),
    "session_secret": base64.b64encode(os.urandom(36)).decode(),
}


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
def test_development_and_test_may_use_built_in_keys(environment: Environment) -> None:
    settings = Settings(environment=environment)
    assert settings.default_secrets_in_use() == [
        "biometric_key",
        "audit_signing_key",
        "session_secret",
    ]
    settings.require_production_secrets()


@pytest.mark.parametrize("left_default", sorted(FRESH))
def test_production_refuses_each_built_in_secret_by_name(left_default: str) -> None:
    given = {name: value for name, value in FRESH.items() if name != left_default}
    with pytest.raises(ValidationError, match=f"LFR_{left_default.upper()}"):
        Settings(environment=Environment.PRODUCTION, **given)  # type: ignore[arg-type]


def test_production_starts_with_fresh_secrets() -> None:
    settings = Settings(environment=Environment.PRODUCTION, **FRESH)  # type: ignore[arg-type]
    assert settings.biometric_key_bytes() == base64.b64decode(FRESH["biometric_key"])


@pytest.mark.parametrize(
    ("value", "reason"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_malformed_keys_are_refused_naming_the_setting(value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=f"biometric_key: .*{reason}"):
        Settings(biometric_key=value)  # type: ignore[arg-type]


def test_database_url_defaults_to_sqlite_under_data_dir(tmp_path: os.PathLike[str]) -> None:
    assert Settings(data_dir=tmp_path).database_url == f"sqlite:///{tmp_path}/lfr.db"


@pytest.mark.parametrize(("setting", "value"), [("biometric_previous_keys", ["c2hvcnQ="])])
def test_retired_keys_must_be_32_bytes_too(setting: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"{setting}: "):
        Settings(**{setting: value})  # type: ignore[arg-type]
