"""Production refuses secrets that cannot have come from a random source, and says so in
one line naming the setting (AUD-1, DP-2)."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from lfr.cli import app as cli_app
from lfr.settings import Environment, Settings, get_settings

FRESH = {
    "biometric_key": base64.b64encode(os.urandom(32)).decode(),
    "audit_signing_key": base64.b64encode(os.urandom(32)).decode(),
    "session_secret": base64.b64encode(os.urandom(36)).decode(),
}
ZEROS = base64.b64encode(bytes(32)).decode()
REPEATED = base64.b64encode(b"abcd" * 8).decode()


@pytest.mark.parametrize("setting", ["biometric_key", "audit_signing_key", "audit_chain_key"])
@pytest.mark.parametrize("weak", [ZEROS, REPEATED])
def test_production_refuses_low_entropy_keys_by_name(setting: str, weak: str) -> None:
    with pytest.raises(ValidationError, match=f"low-entropy.*LFR_{setting.upper()}"):
        Settings(environment=Environment.PRODUCTION, **{**FRESH, setting: weak})  # type: ignore[arg-type]


def test_production_refuses_a_typed_session_secret() -> None:
    given = {**FRESH, "session_secret": "password" * 5}
    with pytest.raises(ValidationError, match="LFR_SESSION_SECRET"):
        Settings(environment=Environment.PRODUCTION, **given)  # type: ignore[arg-type]


def test_random_keys_pass_and_development_keeps_its_built_in_ones() -> None:
    Settings(environment=Environment.PRODUCTION, **FRESH)  # type: ignore[arg-type]
    Settings(environment=Environment.DEVELOPMENT, biometric_key=ZEROS)  # type: ignore[arg-type]


def test_a_command_says_it_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """No traceback: one line naming every setting to fix."""
    monkeypatch.setenv("LFR_ENVIRONMENT", "production")
    monkeypatch.setenv("LFR_BIOMETRIC_KEY", ZEROS)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["audit", "public-key"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "LFR_AUDIT_SIGNING_KEY" in lines[0]
    assert "Traceback" not in result.output
