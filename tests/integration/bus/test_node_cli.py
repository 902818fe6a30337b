"""`lfr node`: a real node process publishing to real NATS, and obeying a halt (DEP-2)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lfr.bus.messages import HaltDeployment
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.cli import app
from lfr.vision.types import HealthFigures

from .collect import Collector

EXIT_BOUND_S = 60.0
"""Bound on the node exiting after the halt (its grace is 2 s); for failure only."""


@pytest.mark.parametrize(
    ("camera", "complaint"),
    [
        ("cam.1=video.mp4", "cannot name a bus subject"),
        ("cam-1", "expected NAME=SOURCE"),
    ],
)
def test_a_bad_camera_is_refused_naming_it(tmp_path: Path, camera: str, complaint: str) -> None:
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--camera", camera, "--watchlist", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "--camera" in result.output
    assert complaint in result.output


def test_an_empty_watchlist_is_refused(tmp_path: Path) -> None:
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--camera", "cam-1=video.mp4", "--watchlist", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "no usable watchlist image" in result.output


def test_an_unreachable_nats_server_is_a_clear_error(tmp_path: Path, faces_dir: Path) -> None:
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
    arguments = ["node", "--nats", "nats://127.0.0.1:1", "--deployment", "dep-1"]
    arguments += ["--camera", "cam-1=video.mp4", "--watchlist", str(watchlist)]
    arguments += ["--connect-wait", "2"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 1
    assert "cannot reach NATS at nats://127.0.0.1:1 within 2 s" in result.output


@pytest.mark.nats
@pytest.mark.slow
def test_a_node_publishes_health_to_nats_and_stops_when_the_deployment_is_halted(
    tmp_path: Path, faces_dir: Path, video_dir: Path, nats_settings: NatsSettings
) -> None:
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
    command = [sys.executable, "-m", "lfr", "node", "--nats", nats_settings.url]
    command += ["--deployment", "dep-1", "--name", "test-node", "--prefix", nats_settings.prefix]
    command += ["--camera", f"stage={video_dir / 'short_hamilton_clip.mp4'}"]
    command += ["--watchlist", str(watchlist)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    node = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, text=True
    )
    try:

        async def scenario() -> HealthFigures:
            central, collector = await NatsBus.connect(nats_settings), Collector()
            await central.subscribe(Topic.HEALTH, collector.handler, durable="central")
            [(envelope, _)] = await collector.take(1)  # the worker is up and publishing
            await central.publish(HaltDeployment(deployment_id="dep-1", reason="crowd safety"))
            await central.close()
            assert isinstance(envelope.payload, HealthFigures)
            return envelope.payload

        figures = asyncio.run(asyncio.wait_for(scenario(), EXIT_BOUND_S))
        output, _ = node.communicate(timeout=EXIT_BOUND_S)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    assert (figures.deployment_id, figures.camera) == ("dep-1", "stage")
    assert node.returncode == 0, output
    assert "watchlist: 1 subject(s) enrolled, 0 refused" in output
    assert "node test-node stopped: halted: crowd safety" in output
