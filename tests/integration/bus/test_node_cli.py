"""`lfr node`: a real node process publishing to real NATS, and obeying a halt (DEP-2)."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lfr.bus.messages import HaltDeployment
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.cli import app
from lfr.crypto import BiometricCipher
from lfr.runtime.release import seal_release
from lfr.settings import get_settings
from lfr.vision.describers import describer_model_id
from lfr.vision.matcher import TemplateSet
from lfr.vision.pipeline import EngineConfig
from lfr.vision.types import HealthFigures, ListKind

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
@pytest.mark.parametrize("watchlist_from", ["folder", "release"])
def test_a_node_publishes_health_to_nats_and_stops_when_the_deployment_is_halted(
    tmp_path: Path,
    faces_dir: Path,
    video_dir: Path,
    nats_settings: NatsSettings,
    watchlist_from: str,
) -> None:
    """DEP-2, and WL-1 for a node given no folder: it receives the sealed watchlist the
    service released for its deployment, encrypted under the node key."""
    command = [sys.executable, "-m", "lfr", "node", "--nats", nats_settings.url]
    command += ["--deployment", "dep-1", "--name", "test-node", "--prefix", nats_settings.prefix]
    command += ["--camera", f"stage={video_dir / 'short_hamilton_clip.mp4'}"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if watchlist_from == "folder":
        watchlist = tmp_path / "watchlist"
        watchlist.mkdir()
        (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
        command += ["--watchlist", str(watchlist)]
        expected = "watchlist: 1 subject(s) enrolled, 0 refused"
    else:
        node_key = os.urandom(32)
        environment["LFR_NODE_KEY"] = base64.b64encode(node_key).decode()
        asyncio.run(release_one_template(nats_settings, node_key))
        expected = "watchlist released: 1 template(s), threshold 0.950"
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
    assert expected in output
    assert "node test-node stopped: halted: crowd safety" in output


async def release_one_template(nats_settings: NatsSettings, node_key: bytes) -> None:
    """What the service publishes for a running deployment (lfr.web.control)."""
    model_id = describer_model_id(EngineConfig().describer)
    template = np.random.default_rng(0).normal(size=(1, 128)).astype(np.float32)
    templates = TemplateSet(("entry-1",), (ListKind.WATCHLIST,), template, model_id)
    window_end = datetime.now(UTC) + timedelta(hours=1)
    release = seal_release("dep-1", templates, 0.95, window_end, BiometricCipher(node_key))
    service = await NatsBus.connect(nats_settings)
    await service.publish(release)
    await service.close()


@pytest.mark.parametrize(
    ("extra", "env", "complaint"),
    [
        ([], {}, "set LFR_NODE_KEY"),
        (["--threshold", "0.9"], {"LFR_NODE_KEY": "A" * 43 + "="}, "carries the authorised"),
    ],
)
def test_without_a_watchlist_folder_the_node_needs_the_node_key_and_no_threshold(
    extra: list[str], env: dict[str, str], complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WL-1: a node receives the sealed watchlist only with the service's node key, and
    matches with the threshold the release carries."""
    monkeypatch.delenv("LFR_NODE_KEY", raising=False)
    get_settings.cache_clear()
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--camera", "cam-1=video.mp4", *extra]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400", **env})
    get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert complaint in result.output


@pytest.mark.nats
def test_a_node_restarted_after_the_halt_does_not_start(
    tmp_path: Path, faces_dir: Path, video_dir: Path, nats_settings: NatsSettings
) -> None:
    """DEP-2: a node that took the halt and is started again under the same name (so its
    durable consumer has the halt behind it) still sees the halt and starts nothing."""
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")

    async def halt_and_take_it() -> None:
        bus, collector = await NatsBus.connect(nats_settings), Collector()
        await bus.publish(HaltDeployment(deployment_id="dep-1", reason="crowd safety"))
        await bus.subscribe(
            Topic.CONTROL, collector.handler, durable="node-dep-1-van", deployment_id="dep-1"
        )
        await collector.take(1)  # the node's consumer has the halt acknowledged
        await bus.close()

    asyncio.run(halt_and_take_it())
    arguments = ["node", "--nats", nats_settings.url, "--prefix", nats_settings.prefix]
    arguments += ["--deployment", "dep-1", "--name", "van", "--watchlist", str(watchlist)]
    arguments += ["--camera", f"stage={video_dir / 'face-demographics-walking-and-pause.gif'}"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "node van stopped: halted: crowd safety" in result.output
