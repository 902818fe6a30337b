"""`lfr db upgrade`, `lfr users add|train`, `lfr audit verify|checkpoint|export` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from lfr.cli import app
from lfr.db.base import utcnow
from lfr.db.session import make_engine, make_session_factory, transaction
from lfr.db.web_sessions import OneTimePassword
from lfr.domain.people import Role
from lfr.services import people
from lfr.settings import get_settings
from tests.db_fixtures import keyed_engine, remove_append_only_guard

pytestmark = pytest.mark.db

LOCK = people.AccountLock(5, timedelta(minutes=15))


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunnerOn]:
    monkeypatch.setenv("LFR_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunnerOn(database_url)
    get_settings.cache_clear()


class CliRunnerOn:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args))

    def sql(self, statement: str) -> None:
        engine = make_engine(self.url)
        with engine.begin() as connection:
            connection.execute(text(statement))
        engine.dispose()


def _bootstrap(cli: CliRunnerOn) -> str:
    assert cli("db", "upgrade").exit_code == 0
    added = cli(
        "users",
        "add",
        "supt",
        "--name",
        "Supt. Example",
        "--rank",
        "superintendent",
        "--role",
        "authorising_officer",
    )
    assert added.exit_code == 0, added.output
    trained = cli(
        "users", "train", "supt", "--role", "authorising-officer", "--expires", "2099-01-01"
    )
    assert trained.exit_code == 0, trained.output
    return added.output


def test_users_add_prints_a_one_time_password_that_signs_in(cli: CliRunnerOn) -> None:
    output = _bootstrap(cli)
    password = output.split("one-time password: ")[1].strip()
    factory = make_session_factory(keyed_engine(cli.url))
    with transaction(factory) as session:
        signed_in = people.authenticate(session, "supt", password, lock=LOCK)
        assert signed_in.user is not None
        assert people.is_trained(session, signed_in.user.id, Role.AUTHORISING_OFFICER, utcnow())
        # One use only: after the second factor, the first sign-in must replace it.
        assert session.get(OneTimePassword, signed_in.user.id) is not None
    factory.kw["bind"].dispose()
    assert cli("audit", "verify").output.startswith("ok: 2 entries verified")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "x", "--name", "X", "--rank", "general"], "--rank"),
        (["users", "add", "x", "--name", "X", "--rank", "staff", "--role", "boss"], "--role"),
        (["users", "train", "nobody", "--role", "gold", "--expires", "2099-01-01"], "nobody"),
        (["users", "train", "supt", "--role", "gold", "--expires", "soon"], "--expires"),
    ],
)
def test_bad_input_is_refused_naming_the_option(
    cli: CliRunnerOn, args: list[str], message: str
) -> None:
    _bootstrap(cli)
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_audit_verify_exits_1_and_says_where(cli: CliRunnerOn) -> None:
    """AUD-1: `lfr audit verify` names the altered entry."""
    _bootstrap(cli)
    remove_append_only_guard(cli.url)
    cli.sql("UPDATE audit_entry SET summary = 'nothing happened' WHERE sequence = 2")
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "entry 2: content altered" in result.output


@pytest.mark.parametrize(
    "command", [("audit", "export"), ("audit", "checkpoint", "--output")], ids=" ".join
)
def test_a_file_that_cannot_be_written_is_named_without_a_traceback(
    cli: CliRunnerOn, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """`lfr audit export` / `checkpoint --output` into a missing folder said so with a
    FileNotFoundError traceback (the checkpoint already stored); now it names the path,
    exits 2 and stores no checkpoint."""
    _bootstrap(cli)
    unwritable = tmp_path / "no-such-folder" / "out.json"
    result = cli(*command, str(unwritable))
    assert result.exit_code == 2
    assert f"cannot write {unwritable}" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    engine = make_engine(cli.url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM audit_checkpoint")).scalar()
    engine.dispose()
    assert stored == 0


def test_checkpoint_lets_an_outsider_verify_an_export(cli: CliRunnerOn, tmp_path: Path) -> None:
    """AUD-1: with the export, the checkpoint and only the public key, tampering shows."""
    _bootstrap(cli)
    checkpoint_file, log_file = tmp_path / "checkpoint.json", tmp_path / "log.jsonl"
    made = cli("audit", "checkpoint", "--output", str(checkpoint_file))
    assert made.exit_code == 0
    assert json.loads(checkpoint_file.read_text())["sequence"] == 2
    public_key = cli("audit", "public-key").output.strip()
    assert cli("audit", "export", str(log_file)).exit_code == 0
    outside = [
        "audit",
        "verify",
        "--log",
        str(log_file),
        "--checkpoint",
        str(checkpoint_file),
        "--public-key",
        public_key,
    ]
    assert cli(*outside).exit_code == 0

    lines = log_file.read_text().splitlines()
    log_file.write_text("\n".join(lines[:1]) + "\n")  # the last entry withheld
    withheld = cli(*outside)
    assert withheld.exit_code == 1
    assert "entry 2: checkpoint beyond log" in withheld.output


def test_an_empty_export_is_refused_not_verified(cli: CliRunnerOn, tmp_path: Path) -> None:
    """Found: an export that had failed (an empty file) verified as "ok: 0 entries"."""
    _bootstrap(cli)
    empty = tmp_path / "export.jsonl"
    empty.write_text("")
    result = cli("audit", "verify", "--log", str(empty))
    assert result.exit_code == 2
    assert "holds no audit entries" in result.output
    assert "ok" not in result.output


def test_a_checkpoint_signed_by_another_key_is_refused(cli: CliRunnerOn, tmp_path: Path) -> None:
    _bootstrap(cli)
    checkpoint_file = tmp_path / "checkpoint.json"
    cli("audit", "checkpoint", "--output", str(checkpoint_file))
    other_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    result = cli("audit", "verify", "--checkpoint", str(checkpoint_file), "--public-key", other_key)
    assert result.exit_code == 1
    assert "checkpoint signature" in result.output


@pytest.mark.parametrize(
    "malformed", ["notbase64", "AAAA", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR"]
)
def test_a_malformed_public_key_is_refused_not_reported_as_tampering(
    cli: CliRunnerOn, tmp_path: Path, malformed: str
) -> None:
    """AUD-1: a mistyped `--public-key` (not base64, or not 32 bytes) said TAMPERED at every
    checkpoint of an untouched log; it is refused as the option's value (exit 2)."""
    _bootstrap(cli)
    checkpoint_file = tmp_path / "checkpoint.json"
    cli("audit", "checkpoint", "--output", str(checkpoint_file))
    result = cli("audit", "verify", "--checkpoint", str(checkpoint_file), "--public-key", malformed)
    assert result.exit_code == 2, result.output
    assert "--public-key" in result.output
    assert "TAMPERED" not in result.output


def test_cameras_set_and_list_hide_a_streams_password(cli: CliRunnerOn) -> None:
    """REC-1 from the console: a source is set (audited), listed without its credentials,
    and a bad name is refused naming the rule."""
    assert cli("db", "upgrade").exit_code == 0
    done = cli("cameras", "set", "north-gate", "rtsp://viewer:s3cret@10.0.0.7/stream1")
    assert done.exit_code == 0, done.output
    listed = cli("cameras", "list")
    assert "north-gate" in listed.output
    assert "rtsp://***@10.0.0.7/stream1" in listed.output
    assert "s3cret" not in listed.output + done.output
    refused = cli("cameras", "set", "not a name", "device:0")
    assert refused.exit_code == 1
    assert "REC-1" in refused.output
    engine = keyed_engine(cli.url)
    with transaction(make_session_factory(engine)) as session:
        actions = session.execute(
            text("SELECT action FROM audit_entry WHERE object_id = 'north-gate'")
        ).scalars()
        assert list(actions) == ["camera.configure"]
    engine.dispose()
