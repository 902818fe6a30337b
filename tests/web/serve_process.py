"""A real `lfr serve` in a subprocess on a fresh data folder, with the people of a force
created beforehand (as an administrator would have), for the tests that drive it over
HTTP; and the example script's client, loaded from docs/examples."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import uvicorn
from fastapi import FastAPI

from lfr.cli.serve import GRACEFUL_STOP_S
from lfr.demo import DemoAccount, seed_accounts
from lfr.keyring import prepare_database
from lfr.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "docs" / "examples" / "drive_deployment.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_in_thread(app: FastAPI, start_wait_s: float = 30.0) -> Iterator[str]:
    """`app` under uvicorn in a thread of this process, as `lfr serve` serves it (its
    lifespan starts and stops the recognition runtime): yields its URL, stops it on exit."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        # As `lfr serve`: a page left open on a live stream does not hold the stop.
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_wait_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=120)


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a person stops it; killed if it has not stopped within 30 s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
        wait_for(url + "/public")
        yield Served(url, env, accounts)
    finally:
        stop(server)


def example_module() -> ModuleType:
    """docs/examples/drive_deployment.py, imported (its functions drive the API)."""
    spec = importlib.util.spec_from_file_location("drive_deployment", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
