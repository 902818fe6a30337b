"""`lfr serve` on a fresh machine: migrates a new SQLite database in the data folder, prints
the bootstrap administrator's one-time password, serves the public page and signs in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.serve_process import PROJECT, free_port, stop, wait_for


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    """`lfr serve` on `port` with a fresh SQLite data folder under `tmp_path`, its output
    (stdout and stderr together) on a pipe."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "LFR_DATA_DIR": str(tmp_path / "data"),
        "LFR_ENVIRONMENT": "test",
    }
    env.pop("LFR_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "lfr", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def test_serve_first_run(tmp_path: Path) -> None:
    port = free_port()
    process = _serve(tmp_path, port)
    output: list[str] = []
    try:
        password = _read_until_password(process, output)
        assert (tmp_path / "data" / "lfr.db").exists()
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/public")
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
        stop(process)
    log = "".join(output) + (process.stdout.read() if process.stdout else "")
    assert "database migrated to the newest revision" in log
    assert "lfr listening on" in log


def test_sigterm_stops_serve_cleanly_with_status_0(tmp_path: Path) -> None:
    """A service manager's stop: the graceful shutdown, then exit status 0 (as after
    Ctrl-C), not 143 with the resource tracker's "leaked semaphore" warning."""
    port = free_port()
    process = _serve(tmp_path, port)
    try:
        wait_for(f"http://127.0.0.1:{port}/public")
        process.send_signal(signal.SIGTERM)
        log, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, log
    assert "Application shutdown complete" in log
    assert "leaked semaphore" not in log


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
