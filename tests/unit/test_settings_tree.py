"""One settings tree: nested groups from the environment and a TOML file, unknown keys
refused naming the file, the precedence arguments > environment > file > defaults, and
the authority's threshold above whatever the engine is configured with (AUTH-2, REC-2)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from lfr.db.governance import DeploymentRow
from lfr.effective_settings import MASK, Source, effective_settings, without_password
from lfr.settings import (
    Settings,
    SettingsFileError,
    StandaloneSettings,
    get_settings,
    use_settings_file,
)
from lfr.vision.engine_config import DEFAULT_DETECT_WIDTH
from lfr.vision.quality import QualityGate
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No LFR_ variable or .env file of the machine's leaks into a test."""
    for name in [name for name in os.environ if name.startswith("LFR_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    use_settings_file(None)
    get_settings.cache_clear()


def settings_file(folder: Path, text: str) -> Path:
    path = folder / "lfr.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nested_environment_variables_set_each_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LFR_ENGINE__ALERT_THRESHOLD", "0.97")
    monkeypatch.setenv("LFR_ENGINE__DETECTOR__UPSAMPLE", "1")
    monkeypatch.setenv("LFR_SUPERVISOR__HALT_GRACE_S", "4.5")
    monkeypatch.setenv("LFR_WEB__SESSION_IDLE_MINUTES", "20")
    settings = Settings()
    assert settings.engine.alert_threshold == 0.97
    assert settings.supervisor.halt_grace_s == 4.5
    assert settings.web.session_idle_minutes == 20
    # Part of the detector changed: the engine's other detector settings stay.
    assert settings.engine.detector.upsample == 1
    assert settings.engine.detector.max_detect_width == DEFAULT_DETECT_WIDTH


def test_the_bus_client_is_tuned_from_the_nats_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from lfr.system import nats_settings

    monkeypatch.setenv("LFR_NATS_URL", "nats://bus.internal:4222")
    monkeypatch.setenv("LFR_NATS__FIRST_CONNECT_S", "45")
    monkeypatch.setenv("LFR_NATS__CONSUMER__MAX_DELIVER", "3")
    bus = nats_settings(Settings())
    assert bus is not None
    assert (bus.url, bus.first_connect_s, bus.consumer.max_deliver) == (
        "nats://bus.internal:4222",
        45.0,
        3,
    )
    assert bus.consumer.ack_wait_s == 30.0  # the rest of the consumer table: its defaults


def test_a_table_given_in_part_keeps_the_rest_of_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The enrolment gate and the match stream are not their classes' defaults: a partial
    table changes what it names and nothing else (WL-5 gate, REC-4 work queue)."""
    monkeypatch.setenv("LFR_ENGINE__ENROLMENT_GATE__MIN_SHARPNESS", "50")
    monkeypatch.setenv("LFR_NATS__STREAMS__MATCH__MAX_AGE_S", "3600")
    settings = Settings()
    expected_gate = QualityGate.for_enrolment().model_copy(update={"min_sharpness": 50.0})
    assert settings.engine.enrolment_gate == expected_gate
    match = settings.nats.streams.match
    assert (match.work_queue, match.max_age_s, match.max_per_subject) == (True, 3600.0, -1)


def test_a_table_naming_another_backend_starts_from_its_defaults() -> None:
    settings = Settings(engine={"detector": {"type": "mmod"}})  # type: ignore[arg-type]
    assert settings.engine.detector.type == "mmod"
    assert settings.engine.detector.max_detect_width is None


def test_an_unknown_nested_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LFR_ENGINE__TRESHOLD", "0.97")
    with pytest.raises(ValidationError, match=r"engine\.treshold"):
        Settings()


def test_a_file_sets_the_groups_beneath_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = settings_file(
        tmp_path,
        "[engine]\nalert_threshold = 0.95\ntop_k = 7\n"
        "[web]\nlockout_minutes = 20\nmax_failed_sign_ins = 4\n",
    )
    monkeypatch.setenv("LFR_CONFIG_FILE", str(path))
    monkeypatch.setenv("LFR_ENGINE__ALERT_THRESHOLD", "0.97")
    monkeypatch.setenv("LFR_WEB__LOCKOUT_MINUTES", "30")
    settings = Settings(web={"lockout_minutes": 40})  # type: ignore[arg-type]
    assert settings.engine.alert_threshold == 0.97  # environment over file
    assert settings.engine.top_k == 7  # file over default
    assert settings.web.lockout_minutes == 40  # argument over environment
    assert settings.web.max_failed_sign_ins == 4  # file, beside an argument in its table
    assert settings.web.session_idle_minutes == 30  # default

    arguments = {"web": {"lockout_minutes": 40}}
    sources = {row.name: row.source for row in effective_settings(settings, arguments)}
    assert sources["web.lockout_minutes"] is Source.ARGUMENT
    assert sources["engine.alert_threshold"] is Source.ENVIRONMENT
    assert sources["engine.top_k"] is Source.FILE
    assert sources["web.max_failed_sign_ins"] is Source.FILE
    assert sources["web.session_idle_minutes"] is Source.DEFAULT
    assert sources["config_file"] is Source.ENVIRONMENT


def test_each_setting_names_the_variable_that_sets_it() -> None:
    rows = {row.name: row for row in effective_settings(Settings())}
    assert rows["web.lockout_minutes"].variable == "LFR_WEB__LOCKOUT_MINUTES"
    assert rows["database_url"].variable == "LFR_DATABASE_URL"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[engine]\ntreshold = 0.97\n", "engine.treshold"),
        ("[wbe]\nlockout_minutes = 20\n", "wbe"),
        ("databse_url = 'sqlite://'\n", "databse_url"),
        ("[supervisor]\nhalt_grace_s = 2.0\nrestart_every_s = 1\n", "supervisor.restart_every_s"),
    ],
)
def test_a_file_with_an_unknown_key_is_refused_naming_file_and_key(
    tmp_path: Path, text: str, named: str
) -> None:
    path = settings_file(tmp_path, text)
    with pytest.raises(SettingsFileError) as refused:
        Settings(config_file=path)
    assert str(refused.value) == f"{path}: unknown setting {named}"


def test_a_value_the_setting_refuses_is_named_with_the_file(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "alert_retention_days = 0\n[web]\nlockout_minutes = 'x'\n")
    with pytest.raises(SettingsFileError) as refused:
        Settings(config_file=path)
    message = str(refused.value)
    assert message.startswith(f"{path}: alert_retention_days: Input should be greater than")
    assert "; web.lockout_minutes: Input should be a valid integer" in message


def test_a_missing_or_malformed_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match="no such settings file"):
        Settings(config_file=tmp_path / "absent.toml")
    broken = settings_file(tmp_path, "[engine\n")
    with pytest.raises(SettingsFileError, match=re.escape(f"{broken}: not a readable TOML file")):
        Settings(config_file=broken)


def test_a_configured_threshold_may_be_stricter_never_laxer() -> None:
    stricter = Settings(engine={"alert_threshold": 0.98})  # type: ignore[arg-type]
    assert stricter.engine.alert_threshold == 0.98
    with pytest.raises(ValidationError, match="only an authority's condition"):
        Settings(engine={"alert_threshold": DEFAULT_ALERT_THRESHOLD - 0.05})  # type: ignore[arg-type]


def test_a_standalone_process_reads_the_tree_without_the_services_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LFR_ENVIRONMENT", "production")
    monkeypatch.setenv("LFR_SUPERVISOR__RESTART_MAX_S", "10")
    with pytest.raises(ValidationError, match="LFR_BIOMETRIC_KEY"):
        Settings()
    assert StandaloneSettings().supervisor.restart_max_s == 10


def test_the_chosen_file_reaches_every_reader_of_the_process_settings(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "alert_retention_days = 45\n")
    use_settings_file(path)
    assert get_settings().alert_retention_days == 45
    use_settings_file(None)
    assert get_settings().alert_retention_days == 31


def test_secrets_are_masked_in_what_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LFR_DATABASE_URL", "postgresql+psycopg://lfr:pa55-word@db:5432/lfr")
    rows = {row.name: row for row in effective_settings(Settings())}
    assert rows["database_url"].value == f"postgresql+psycopg://lfr:{MASK}@db:5432/lfr"
    assert rows["biometric_key"].value == MASK
    assert rows["session_secret"].value == MASK
    assert all("pa55-word" not in str(row.value) for row in rows.values())


def test_a_url_without_a_password_is_shown_as_it_is() -> None:
    assert without_password("nats://nats.example:4222") == "nats://nats.example:4222"


def test_every_setting_shown_has_a_description() -> None:
    rows = effective_settings(Settings())
    undescribed = [row.name for row in rows if not row.description and row.name[-5:] != ".type"]
    assert undescribed == []
    assert {"engine.alert_threshold", "supervisor.halt_grace_s", "web.max_upload_bytes"} <= {
        row.name for row in rows
    }


def test_the_authorised_threshold_beats_the_configured_engine_threshold(
    tmp_path: Path,
) -> None:
    """The planner of `build()` runs the configured engine, except what the deployment
    recorded (REC-2, AUTH-2): the authority's threshold, lower or higher than the
    configured one, else the configured one as resolved from these settings."""
    from lfr.reports.recognition import RecognitionSettings, resolve_recognition
    from lfr.runtime.engine import run_camera_engine
    from lfr.system import build

    settings = Settings(data_dir=tmp_path, engine={"alert_threshold": 0.98})  # type: ignore[arg-type]
    recognition = build(settings, target=run_camera_engine).recognition
    assert recognition is not None
    planner = recognition.reconciler.planner
    resolving = RecognitionSettings.from_settings(settings)
    for authorised, runs_at in ((0.95, 0.95), (0.99, 0.99), (None, 0.98)):
        recorded = resolve_recognition(resolving, authorised).config
        row = DeploymentRow(alert_threshold=authorised, recognition=recorded.model_dump_json())
        assert planner.config_for(row).alert_threshold == runs_at
