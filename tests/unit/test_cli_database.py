"""CLI commands open the installation's database from any folder inside it, and never
create an empty one by accident (a command run elsewhere says how to point at it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lfr.cli import app
from lfr.cli._database import NoDatabaseError, existing_database_url
from lfr.settings import Settings, get_settings


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


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "8799"]])
def test_a_database_that_does_not_answer_at_start_is_one_line_not_a_traceback(
    command: list[str],
    elsewhere: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`lfr serve` or `lfr db upgrade` against a database server that is not there says so
    in one line (the driver's reason, the password never shown) and exits 1."""
    import uvicorn

    import lfr.cli

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: served.append(True))
    monkeypatch.setenv("LFR_DATABASE_URL", "postgresql+psycopg://lfr:s3cret@127.0.0.1:1/lfr")
    monkeypatch.setattr("sys.argv", ["lfr", *command])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            lfr.cli.main()
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 1
    said = capsys.readouterr().err
    assert "Traceback" not in said
    (line,) = said.strip().splitlines()[-1:]
    assert line.startswith("error: the database (LFR_DATABASE_URL) cannot be reached: ")
    assert "127.0.0.1" in line
    assert "s3cret" not in said
    assert served == []


@pytest.mark.parametrize(
    ("under", "reason"),
    [("a-file/data", "cannot be created (Not a directory)"), ("a-file", "is a file, not a folder")],
)
def test_a_data_folder_that_cannot_be_made_is_one_line_naming_the_setting(
    under: str, reason: str, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LFR_DATA_DIR under a file, or a file itself (or anywhere the folder cannot be made),
    stops `lfr serve` in one line naming the setting and why, not an OSError traceback
    (nor "cannot be created (File exists)" for a file in its place)."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: None)
    (elsewhere / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("LFR_DATA_DIR", str(elsewhere / under))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "8799"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"error: invalid settings: data_dir (LFR_DATA_DIR) {elsewhere}")
    assert line.endswith(f"{elsewhere / under}: {reason}")
    assert "Traceback" not in result.output
