"""`lfr node`: a real node process publishing to real NATS, and obeying a halt (DEP-2)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lfr.bus.identity import NodeIdentity, NodeSigner, service_public_key, service_signer
from lfr.bus.messages import HaltDeployment
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.cli import app
from lfr.runtime.release import seal_release
from lfr.vision.describers import describer_model_id
from lfr.vision.matcher import TemplateSet
from lfr.vision.pipeline import EngineConfig
from lfr.vision.types import HealthFigures, ListKind

from .collect import Collector

EXIT_BOUND_S = 60.0
"""Bound on the node exiting after the halt (its grace is 2 s); for failure only."""


def key_file(folder: Path) -> str:
    """A node key made as `lfr fleet keygen` makes one."""
    path = folder / "node.key"
    if not path.exists():
        NodeIdentity.generate().save(path)
    return str(path)


@pytest.mark.parametrize(
    ("camera", "complaint"),
    [
        ("cam.1=video.mp4", "cannot name a bus subject"),
        ("cam-1", "expected NAME=SOURCE"),
    ],
)
def test_a_bad_camera_is_refused_naming_it(tmp_path: Path, camera: str, complaint: str) -> None:
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--key", key_file(tmp_path)]
    arguments += ["--camera", camera, "--watchlist", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "--camera" in result.output
    assert complaint in result.output


def test_an_empty_watchlist_is_refused(tmp_path: Path) -> None:
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--key", key_file(tmp_path)]
    arguments += ["--camera", "cam-1=video.mp4", "--watchlist", str(tmp_path)]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "no usable watchlist image" in result.output


def test_an_unreachable_nats_server_is_a_clear_error(tmp_path: Path, faces_dir: Path) -> None:
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
    arguments = ["node", "--nats", "nats://127.0.0.1:1", "--deployment", "dep-1"]
    arguments += ["--key", key_file(tmp_path)]
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
    identity = NodeIdentity.generate()
    identity.save(tmp_path / "node.key")
    command = [sys.executable, "-m", "lfr", "node", "--nats", nats_settings.url]
    command += ["--deployment", "dep-1", "--name", "test-node", "--prefix", nats_settings.prefix]
    command += ["--camera", f"stage={video_dir / 'short_hamilton_clip.mp4'}"]
    command += ["--key", str(tmp_path / "node.key")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if watchlist_from == "folder":
        watchlist = tmp_path / "watchlist"
        watchlist.mkdir()
        (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
        command += ["--watchlist", str(watchlist)]
        expected = "watchlist: 1 subject(s) enrolled, 0 refused"
    else:
        asyncio.run(release_one_template(nats_settings, identity, SERVICE))
        command += ["--service-key", service_public_key(SERVICE)]
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


SERVICE = service_signer(os.urandom(32))
"""A service's release key (derived from its audit signing key, here a random one)."""


async def release_one_template(
    nats_settings: NatsSettings, identity: NodeIdentity, signer: NodeSigner
) -> None:
    """What the service publishes to the node of a running deployment (the reconciler),
    signed with `signer`."""
    model_id = describer_model_id(EngineConfig().describer)
    template = np.random.default_rng(0).normal(size=(1, 128)).astype(np.float32)
    templates = TemplateSet(("entry-1",), (ListKind.WATCHLIST,), template, model_id)
    window_end = datetime.now(UTC) + timedelta(hours=1)
    release = seal_release("dep-1", templates, 0.95, window_end, "test-node", identity.public())
    service = await NatsBus.connect(nats_settings, signer=signer)
    await service.publish(release)
    await service.close()


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ([], "no such key file (make one: lfr fleet keygen)"),
        (["--key", "KEY", "--threshold", "0.9"], "carries the authorised"),
        (["--key", "KEY"], "give --service-key"),
        (["--key", "KEY", "--service-key", "lfr-service-1:c2hvcnQ"], "the service's key must"),
    ],
)
def test_a_node_needs_its_key_and_no_threshold_of_its_own_with_a_release(
    tmp_path: Path, extra: list[str], complaint: str
) -> None:
    """WL-1/DP-2: a node runs with its own key (the release is encrypted to it, its messages
    signed with it), and matches with the threshold the release carries."""
    NodeIdentity.generate().save(tmp_path / "node.key")
    extra = [str(tmp_path / "node.key") if part == "KEY" else part for part in extra]
    if "--key" not in extra:
        extra += ["--key", str(tmp_path / "missing.key")]
    arguments = ["node", "--nats", "nats://127.0.0.1:4222", "--deployment", "dep-1"]
    arguments += ["--camera", "cam-1=video.mp4", *extra]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
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
    arguments += ["--key", key_file(tmp_path)]
    arguments += ["--deployment", "dep-1", "--name", "van", "--watchlist", str(watchlist)]
    arguments += ["--camera", f"stage={video_dir / 'face-demographics-walking-and-pause.gif'}"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "node van stopped: halted: crowd safety" in result.output


@pytest.mark.nats
def test_a_release_not_signed_by_the_service_is_refused(
    tmp_path: Path, nats_settings: NatsSettings
) -> None:
    """WL-1: anyone who may publish on the bus could encrypt a watchlist to a node's public
    key; the node takes only a release signed by the service."""
    identity = NodeIdentity.generate()
    identity.save(tmp_path / "node.key")
    forger = service_signer(os.urandom(32))
    asyncio.run(release_one_template(nats_settings, identity, forger))
    arguments = ["node", "--nats", nats_settings.url, "--prefix", nats_settings.prefix]
    arguments += [
        "--deployment",
        "dep-1",
        "--name",
        "test-node",
        "--key",
        str(tmp_path / "node.key"),
    ]
    arguments += ["--camera", "stage=video.mp4", "--service-key", service_public_key(SERVICE)]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert "not signed by the service" in result.output


@pytest.mark.nats
def test_a_node_takes_its_subject_prefix_from_the_settings(
    tmp_path: Path, faces_dir: Path, video_dir: Path, nats_settings: NatsSettings
) -> None:
    """DEP-2: without --prefix, the node listens where the settings say (LFR_NATS_PREFIX, as
    `lfr config show --node` reports it), so the service's halt on that prefix reaches it."""

    async def halt() -> None:
        bus = await NatsBus.connect(nats_settings)
        await bus.publish(HaltDeployment(deployment_id="dep-1", reason="crowd safety"))
        await bus.close()

    asyncio.run(halt())
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").symlink_to(faces_dir / "face_recognition-examples" / "obama.jpg")
    arguments = ["node", "--nats", nats_settings.url, "--key", key_file(tmp_path)]
    arguments += ["--deployment", "dep-1", "--name", "van", "--watchlist", str(watchlist)]
    arguments += ["--camera", f"stage={video_dir / 'face-demographics-walking-and-pause.gif'}"]
    environment = {"COLUMNS": "400", "LFR_NATS_PREFIX": nats_settings.prefix}
    result = CliRunner().invoke(app, arguments, env=environment)
    assert result.exit_code == 0, result.output
    assert "node van stopped: halted: crowd safety" in result.output
