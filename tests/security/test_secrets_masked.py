"""Secrets are masked everywhere they appear (issue 23, item 4; DP-2).

Found: `lfr config show` showed a `?password=` in the database URL and the second password
of a NATS URL list; the log printed the NATS URL with its password."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import pytest
from typer.testing import CliRunner

from lfr.bus.nats_bus import BusUnavailableError, NatsBus, NatsSettings
from lfr.cli import app as cli_app
from lfr.domain.redaction import MASK, redacted
from lfr.keyring import prepare_database
from lfr.settings import Settings, get_settings

SECRETS = ("db-secret-1", "nats-secret-1", "nats-secret-2")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql+psycopg://lfr@db/lfr?password=s3", f"postgresql+psycopg://lfr@db/lfr?password={MASK}"),
        ("postgresql://lfr:s3@db/lfr?sslmode=require&PASSWORD=s4", f"postgresql://lfr:{MASK}@db/lfr?sslmode=require&PASSWORD={MASK}"),
        ("nats://a:s1@h1:4222,nats://b:s2@h2:4222", f"nats://a:{MASK}@h1:4222,nats://b:{MASK}@h2:4222"),
        ("nats://h1:4222, b:s2@h2:4222", f"nats://h1:4222, b:{MASK}@h2:4222"),
        ("sqlite:///data/lfr.db", "sqlite:///data/lfr.db"),
        ("rtsp://cam.example/stream", "rtsp://cam.example/stream"),
    ],
)  # fmt: skip
def test_every_password_of_a_url_is_masked(text: str, shown: str) -> None:
    assert redacted(text) == shown


def test_config_show_masks_query_passwords_and_every_server_of_a_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LFR_DATABASE_URL", "postgresql+psycopg://lfr@db/lfr?password=db-secret-1")
    monkeypatch.setenv(
        "LFR_NATS_URL", "nats://a:nats-secret-1@h1:4222,nats://b:nats-secret-2@h2:4222"
    )
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["config", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "nats://b:" in result.output
    for secret in SECRETS:
        assert secret not in result.output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_bus_is_reported_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _closed_port()
    url = f"nats://svc:nats-secret-1@127.0.0.1:{port},nats://svc:nats-secret-2@127.0.0.1:{port}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BusUnavailableError) as raised:
        asyncio.run(NatsBus.connect(NatsSettings(url=url, first_connect_s=2)))
    said = str(raised.value) + caplog.text
    assert f"127.0.0.1:{port}" in said
    for secret in SECRETS:
        assert secret not in said


@pytest.mark.skipif(
    not os.environ.get("LFR_TEST_POSTGRES_URL"), reason="needs LFR_TEST_POSTGRES_URL"
)
def test_the_database_url_is_logged_without_its_password(
    caplog: pytest.LogCaptureFixture, tmp_path: os.PathLike[str]
) -> None:
    base = os.environ["LFR_TEST_POSTGRES_URL"]
    url = f"{base}{'&' if '?' in base else '?'}password=db-secret-1"
    caplog.set_level(logging.INFO)
    prepare_database(Settings(environment="test", data_dir=tmp_path, database_url=url))  # type: ignore[arg-type]
    assert "database:" in caplog.text
    assert "db-secret-1" not in caplog.text
