"""`lfr config show` names each value's source and masks secrets; `lfr serve --config`
builds the system from the file (the engine, supervisor and web settings it runs)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lfr.cli import app
from lfr.effective_settings import MASK, shown
from lfr.settings import get_settings, use_settings_file


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("LFR_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    use_settings_file(None)
    get_settings.cache_clear()


def test_config_show_names_sources_and_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    config = tmp_path / "lfr.toml"
    config.write_text("[engine]\ntop_k = 3\n", encoding="utf-8")
    monkeypatch.setenv("LFR_BIOMETRIC_KEY", key)
    monkeypatch.setenv("LFR_DATABASE_URL", "postgresql+psycopg://lfr:pa55-word@db/lfr")
    monkeypatch.setenv("LFR_SUPERVISOR__HALT_GRACE_S", "3")
    result = CliRunner().invoke(app, ["config", "show", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert key not in result.stdout
    assert "pa55-word" not in result.stdout
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["biometric_key"]["value"] == MASK
    assert rows["biometric_key"]["source"] == "environment"
    assert rows["database_url"]["value"] == f"postgresql+psycopg://lfr:{MASK}@db/lfr"
    assert rows["supervisor.halt_grace_s"] == {
        "name": "supervisor.halt_grace_s",
        "variable": "LFR_SUPERVISOR__HALT_GRACE_S",
        "value": 3.0,
        "source": "environment",
        "description": rows["supervisor.halt_grace_s"]["description"],
    }
    assert "halt" in rows["supervisor.halt_grace_s"]["description"]
    assert rows["engine.top_k"]["source"] == "file"
    assert rows["config_file"]["source"] == "argument"
    assert rows["web.lockout_minutes"]["source"] == "default"


def test_config_show_as_text_gives_value_source_and_description() -> None:
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index("engine.alert_threshold = 0.955  (default; LFR_ENGINE__ALERT_THRESHOLD)")
    assert "Fused calibrated score" in lines[at + 1]
    assert "session_secret = " + json.dumps(MASK) in result.stdout


def test_config_show_for_a_node_asks_no_service_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LFR_ENVIRONMENT", "production")
    refused = CliRunner().invoke(app, ["config", "show"])
    assert refused.exit_code == 2
    assert "LFR_BIOMETRIC_KEY" in refused.stderr
    shown = CliRunner().invoke(app, ["config", "show", "--node", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = {row["name"]: row for row in json.loads(shown.stdout)}
    assert rows["environment"]["value"] == "production"


def test_a_file_with_an_unknown_key_stops_the_command_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "lfr.toml"
    config.write_text("[web]\nsession_idle_minute = 20\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "show", "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {config}: unknown setting web.session_idle_minute"


def test_serve_builds_the_system_from_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import lfr.system

    built: list[lfr.system.System] = []
    original_build = lfr.system.build

    def recording_build(*args: Any, **kwargs: Any) -> lfr.system.System:
        built.append(original_build(*args, **kwargs))
        return built[-1]

    served: list[object] = []
    monkeypatch.setattr(lfr.system, "build", recording_build)
    monkeypatch.setattr(uvicorn, "run", lambda application, **_: served.append(application))
    config = tmp_path / "lfr.toml"
    config.write_text(
        f"data_dir = '{tmp_path / 'data'}'\n"
        "[engine]\nalert_threshold = 0.97\n[engine.detector]\nupsample = 1\n"
        "[supervisor]\nrestart_max_s = 12.0\nshared_describer = true\n"
        "describer_max_wait_ms = 7.0\n[web]\nmax_failed_sign_ins = 3\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 0, result.output
    (system,) = built
    assert served == [system.app]
    recognition = system.recognition
    assert recognition is not None
    engine = recognition.reconciler.planner.base_config
    assert (engine.alert_threshold, engine.detector.upsample) == (0.97, 1)
    supervisor = recognition.runtime.supervisor_settings
    assert (supervisor.restart_max_s, supervisor.shared_describer) == (12.0, True)
    assert supervisor.describer_max_wait_ms == 7.0
    assert recognition.runtime.describer == engine.describer  # what the service would run
    assert system.context.web_settings.max_failed_sign_ins == 3
    # What reads the process's settings itself (policy, cipher) reads the same file.
    assert get_settings().engine.alert_threshold == 0.97


@pytest.mark.parametrize(
    ("connect_wait", "first_connect_s"), [([], 40.0), (["--connect-wait", "2"], 2.0)]
)
def test_node_runs_the_configured_engine_supervisor_and_bus_client(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    connect_wait: list[str],
    first_connect_s: float,
) -> None:
    """A node reads the tree without the service's secrets (here in production); the
    threshold it matches with is the release's, replacing the configured one."""
    import lfr.cli.node
    from lfr.bus.identity import NodeIdentity, service_public_key, service_signer

    started: list[tuple[Any, ...]] = []

    class RecordedNode:
        def __init__(self, *arguments: Any) -> None:
            started.append(arguments)

        async def run(self) -> str:
            return "halted: recorded"

    monkeypatch.setattr(lfr.cli.node, "Node", RecordedNode)
    monkeypatch.setenv("LFR_ENVIRONMENT", "production")
    monkeypatch.setenv("LFR_ENGINE__ALERT_THRESHOLD", "0.97")
    monkeypatch.setenv("LFR_SUPERVISOR__HALT_GRACE_S", "5")
    monkeypatch.setenv("LFR_NATS__FIRST_CONNECT_S", "40")
    NodeIdentity.generate().save(tmp_path / "node.key")
    service_key = service_public_key(service_signer(os.urandom(32)))
    arguments = ["node", "--nats", "nats://bus.internal:4222", "--deployment", "dep-1"]
    arguments += ["--key", str(tmp_path / "node.key"), "--camera", "stage=video.mp4"]
    arguments += ["--service-key", service_key, *connect_wait]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    ((_, _, _, source, bus, supervisor, *_),) = started
    assert source.config.alert_threshold == 0.97
    assert supervisor.halt_grace_s == 5.0
    assert (bus.url, bus.first_connect_s) == ("nats://bus.internal:4222", first_connect_s)


@pytest.mark.parametrize(
    ("options", "threshold", "upsample"),
    [([], 0.97, 1), (["--threshold", "0.9", "--upsample", "2"], 0.9, 2)],
)
def test_watch_runs_the_configured_engine_with_what_the_command_names(
    monkeypatch: pytest.MonkeyPatch, options: list[str], threshold: float, upsample: int
) -> None:
    import typer

    import lfr.cli.watch

    built: list[Any] = []

    class RecordedEngine:
        @staticmethod
        def from_config(config: Any) -> None:
            built.append(config)
            raise typer.Exit(3)  # the engine is all this test needs to see

    monkeypatch.setattr(lfr.cli.watch, "Engine", RecordedEngine)
    monkeypatch.setenv("LFR_ENGINE__ALERT_THRESHOLD", "0.97")
    monkeypatch.setenv("LFR_ENGINE__DETECTOR__UPSAMPLE", "1")
    result = CliRunner().invoke(app, ["watch", "video.mp4", "--watchlist", ".", *options])
    assert result.exit_code == 3, result.output
    (config,) = built
    assert (config.alert_threshold, config.detector.upsample) == (threshold, upsample)
    assert config.detector.max_detect_width == 960  # the engine's, not the class default


def test_a_set_of_values_is_shown_in_one_order() -> None:
    """Found: `web.camera_source_kinds` came out in another order each run (a set)."""
    kinds = frozenset({"rtsp", "device", "node", "file"})
    assert shown(kinds) == ["device", "file", "node", "rtsp"]


@pytest.mark.parametrize(
    ("variables", "setting"),
    [
        (
            {"LFR_ENGINE__DESCRIBER__PROVIDERS": '["CUDAExecutionProvider"]'},
            "engine.describer.providers",
        ),
        (
            {
                "LFR_ENGINE__DETECTOR__TYPE": "mmod-onnx",
                "LFR_ENGINE__DETECTOR__PROVIDERS": '["NoSuchExecutionProvider"]',
            },
            "engine.detector.providers",
        ),
    ],
)
@pytest.mark.parametrize("command", ["serve", "node", "watch"])
def test_an_execution_provider_this_installation_lacks_stops_the_command_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    setting: str,
    command: str,
) -> None:
    """REC-5: a provider this onnxruntime lacks (a GPU's without onnxruntime-gpu) is one
    line naming the setting, before anything starts; not a service whose every camera
    worker and describer service crashes with a traceback at each restart."""
    line = _refused_at_start(tmp_path, monkeypatch, variables, command)
    assert line.startswith(f"error: invalid settings: {setting}: ")
    assert "not available" in line
    assert "CPUExecutionProvider" in line  # what there is


@pytest.mark.parametrize("command", ["serve", "node", "watch"])
def test_gpu_decoding_on_a_machine_without_a_gpu_stops_the_command_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """REC-5: NVDEC decoding asked of a machine without an NVIDIA GPU is one line naming
    the setting and how to decode on the CPU, before anything starts; not cameras that
    never open."""
    from lfr.vision.decoding import DecodingConfig, hardware_problem

    if hardware_problem(DecodingConfig(decoder="pyav", hardware="cuda")) is None:
        pytest.skip("this machine decodes on an NVIDIA GPU")
    variables = {
        "LFR_ENGINE__DECODING__DECODER": "pyav",
        "LFR_ENGINE__DECODING__HARDWARE": "cuda",
    }
    line = _refused_at_start(tmp_path, monkeypatch, variables, command)
    assert line.startswith("error: invalid settings: engine.decoding.hardware 'cuda': ")
    assert "NVIDIA GPU" in line
    assert "set it to 'none'" in line


def _refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], command: str
) -> str:
    """`command` run with `variables`: it must stop with exit status 2 and one line on
    stderr (returned), having started and created nothing."""
    import uvicorn

    import lfr.cli.node
    import lfr.cli.watch
    import lfr.system

    started: list[str] = []
    monkeypatch.setattr(lfr.system, "build", lambda *_, **__: started.append("build"))
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: started.append("uvicorn"))
    monkeypatch.setattr(lfr.cli.node, "Node", lambda *_: started.append("node"))
    monkeypatch.setattr(lfr.cli.watch, "Engine", None)  # never reached
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LFR_DATA_DIR", str(tmp_path / "data"))
    arguments = {
        "serve": ["serve"],
        "node": [
            *("node", "--nats", "nats://bus.internal:4222", "--deployment", "dep-1"),
            *("--key", str(tmp_path / "node.key"), "--camera", "stage=video.mp4"),
        ],
        "watch": ["watch", "video.mp4", "--watchlist", "."],
    }[command]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "Traceback" not in result.output
    assert started == []
    assert not (tmp_path / "data").exists()  # nothing created
    return str(line)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LFR_ALLOWED_HOSTS": "lfr.police.example"}, "LFR_ALLOWED_HOSTS"),
        (
            {
                "LFR_ENGINE__DETECTOR__TYPE": "mmod-onnx",
                "LFR_ENGINE__DETECTOR__PROVIDERS": "CPUExecutionProvider",
            },
            "LFR_ENGINE__DETECTOR__PROVIDERS",
        ),
    ],
)
def test_a_list_in_the_environment_not_written_as_json_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    """A list setting given a bare word in the environment is refused in one line naming
    the variable and the JSON it takes, not a pydantic-settings traceback."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: invalid settings: {named}: ")
    assert "JSON" in line
    assert "Traceback" not in result.output


def test_a_list_in_the_dotenv_file_not_written_as_json_names_its_variable(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "LFR_ENGINE__DETECTOR__TYPE=mmod-onnx\nLFR_ENGINE__DETECTOR__PROVIDERS=CPUExecutionProvider\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: invalid settings: LFR_ENGINE__DETECTOR__PROVIDERS: ")
