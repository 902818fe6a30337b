"""`lfr serve` on a fresh machine: migrates a new SQLite database in the data folder, prints
the bootstrap administrator's one-time password, serves the public page and signs in."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_first_run(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "LFR_DATA_DIR": str(tmp_path / "data"),
        "LFR_ENVIRONMENT": "test",
    }
    env.pop("LFR_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "lfr", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    output: list[str] = []
    try:
        password = _read_until_password(process, output)
        assert (tmp_path / "data" / "lfr.db").exists()
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/public")
        with httpx.Client(base_url=base) as client:
            form = client.get("/sign-in")
            token = re.findall(r'name="csrf_token" value="([^"]+)"', form.text)[0]
            response = client.post(
                "/sign-in",
                data={"username": "admin", "password": password, "csrf_token": token},
            )
            assert response.status_code == 303
            assert response.headers["location"] == "/sign-in/second-factor"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = "".join(output) + (process.stdout.read() if process.stdout else "")
    assert "database migrated to the newest revision" in log
    assert "lfr listening on" in log


def _read_until_password(process: subprocess.Popen[str], output: list[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("One-time password: "):
            return line.removeprefix("One-time password: ").strip()
    raise AssertionError("no one-time password printed:\n" + "".join(output))


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")
