"""docs/examples/drive_deployment.py against a real `lfr serve` (a subprocess on a fresh
data folder, its camera worker playing the Hamilton clip): the JSON API alone takes a
deployment from application to review, with the two adjudication decisions taken by two
people (AUTH-1..5, WL-1..5, DEP-1, DEP-2, ADJ-2, ADJ-3, REV-1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lfr.settings import Settings
from lfr.web.bootstrap import prepare_database
from lfr.web.demo import seed_accounts
from tests.web.test_serve_cli import PROJECT, _wait_for, free_port

pytestmark = pytest.mark.slow

SCRIPT = PROJECT / "docs" / "examples" / "drive_deployment.py"
PARTS = (
    "applicant",
    "authoriser",
    "chief",
    "engineer",
    "gold",
    "silver",
    "bronze",
    "operator",
    "engagement",
    "reviewer",
)


def _accounts_file(data_dir: Path, target: Path) -> None:
    """The people of the force, created before the server starts (as an administrator
    would have), written in the form the script reads."""
    settings = Settings(environment="test", data_dir=data_dir)
    accounts = seed_accounts(prepare_database(settings))
    target.write_text(
        json.dumps(
            {
                part: {
                    "username": accounts[part].username,
                    "password": accounts[part].password,
                    "totp_secret": accounts[part].totp_secret,
                }
                for part in PARTS
            }
        )
    )


def test_the_example_script_drives_a_deployment_end_to_end(
    tmp_path: Path, faces_dir: Path, video_dir: Path
) -> None:
    data_dir = tmp_path / "data"
    accounts = tmp_path / "accounts.json"
    _accounts_file(data_dir, accounts)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "LFR_DATA_DIR": str(data_dir),
        "LFR_ENVIRONMENT": "test",
    }
    env.pop("LFR_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "lfr", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/public")
        script = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--base-url",
                base,
                "--accounts",
                str(accounts),
                "--image",
                str(faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png"),
                "--clip",
                str(video_dir / "short_hamilton_clip.mp4"),
                "--alert-timeout",
                "240",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=480,
            check=False,
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert script.returncode == 0, script.stdout + script.stderr
    summary = json.loads(script.stdout.strip().splitlines()[-1])
    assert summary["alert_state"] == "concluded"
    assert summary["deployment_status"] == "ended"
    assert summary["review_alerts"] >= 1
