"""A real `lfr serve` in a subprocess on a fresh data folder, with the people of a force
created beforehand (as an administrator would have), for the tests that drive it over
HTTP; and the example script's client, loaded from docs/examples."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from lfr.settings import Settings
from lfr.web.bootstrap import prepare_database
from lfr.web.demo import DemoAccount, seed_accounts
from tests.web.test_serve_cli import PROJECT, _wait_for, free_port

EXAMPLE = PROJECT / "docs" / "examples" / "drive_deployment.py"


@dataclass(frozen=True)
class Served:
    url: str
    env: dict[str, str]
    accounts: dict[str, DemoAccount]


@contextmanager
def serving(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "data"
    accounts = seed_accounts(prepare_database(Settings(environment="test", data_dir=data_dir)))
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "LFR_DATA_DIR": str(data_dir),
        "LFR_ENVIRONMENT": "test",
    }
    env.pop("LFR_DATABASE_URL", None)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfr", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/public")
        yield Served(url, env, accounts)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def example_module() -> ModuleType:
    """docs/examples/drive_deployment.py, imported (its functions drive the API)."""
    spec = importlib.util.spec_from_file_location("drive_deployment", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
