"""CLI commands open the installation's database from any folder inside it, and never
create an empty one by accident (a command run elsewhere says how to point at it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lfr.cli import app
from lfr.cli._database import NoDatabaseError, existing_database_url
from lfr.settings import Settings


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LFR_DATA_DIR", "LFR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_command_run_where_there_is_no_database_creates_none(elsewhere: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 2
    assert "nothing was created" in result.stderr
    assert "LFR_DATA_DIR" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_the_default_database_is_found_from_a_subfolder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "lfr.db").touch()
    inside = elsewhere / "docs" / "notes"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    url = existing_database_url(Settings())
    assert url == f"sqlite:///{elsewhere.resolve() / 'data' / 'lfr.db'}"


def test_a_database_named_in_the_settings_is_never_looked_for_elsewhere(
    elsewhere: Path,
) -> None:
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "lfr.db").touch()
    with pytest.raises(NoDatabaseError):
        existing_database_url(Settings(data_dir=elsewhere / "other"), start=elsewhere)
