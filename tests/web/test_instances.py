"""Two `lfr serve` instances on one PostgreSQL database and one NATS JetStream act as one
(REC-1, REC-5, DEP-2, ADJ-1): started together on an empty database; one worker per
camera; each pass of a watchlisted face alerts once; both consoles receive every alert,
and both instances show the camera's health; `kill -9` of the instance running the camera
stops its worker within 10 s and the survivor takes the camera over; a halt is complete
only once every worker has stopped.

Real processes throughout: `python -m lfr serve` twice, their camera workers, the
recognition engine on the rehearsal clip (looped, so the camera never ends), NATS and
PostgreSQL. Needs LFR_TEST_POSTGRES_URL (a fresh database beside it is created).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from lfr.audit import AuditCheckpoint, AuditEntry
from lfr.bus.nats_bus import NatsSettings
from lfr.db.fleet import ControlOutboxRow
from lfr.db.governance import AlertRow
from lfr.db.leases import LeaseRow, camera_lease
from lfr.db.session import SessionFactory, make_engine, transaction
from lfr.db.web_sessions import SessionStage
from lfr.demo import seed_accounts, seed_rehearsal
from lfr.demo.media import DemoMedia
from lfr.domain.people import Actor
from lfr.runtime.leases import LEASE_S
from lfr.services import deployments, fleet
from lfr.services.retention import RUN_ACTION
from lfr.services.watchlists import VisionEnroler
from lfr.settings import Settings
from lfr.system import build
from lfr.web.context import WebContext
from lfr.web.sessions import COOKIE_NAME
from tests.db_fixtures import POLICY, POSTGRES_ENV
from tests.integration.bus.conftest import nats_settings
from tests.integration.bus.test_supervisor import is_gone
from tests.web.serve_process import PROJECT, free_port

pytestmark = [
    pytest.mark.nats,
    pytest.mark.slow,
    pytest.mark.skipif(POSTGRES_ENV not in os.environ, reason=f"needs {POSTGRES_ENV}"),
]

__all__ = ["nats_settings"]  # a fixture used here

GONE_WITHIN_S = 10.0
"""What an operator is promised: no worker runs 10 s after its instance died."""
START_WAIT_S = 120.0
"""An instance's start, a worker's models, an alert: generous on a loaded 2-core machine."""
CAMERA = "demo-cam"
STOP_WAIT_S = 45.0
"""Ctrl-C to stopped, consoles open: the graceful bound (5 s), then the workers' halt."""


@dataclass
class Instance:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def workers(self) -> list[int]:
        """The camera worker processes this instance runs (its child processes that run
        a multiprocessing spawn)."""
        return [pid for pid in children_of(self.process.pid) if is_worker(pid)]


@dataclass
class Console:
    """An operator's open live stream on one instance: the alert ids it was sent."""

    instance: Instance
    cookie: str
    alerts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        cookies = {COOKIE_NAME: self.cookie}
        timeout = httpx.Timeout(10, read=None)
        self._client = httpx.Client(base_url=self.instance.url, cookies=cookies, timeout=timeout)

    def open(self) -> None:
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        client = self._client
        # Until closed, or its instance is killed: the stream then breaks off.
        with (
            contextlib.suppress(httpx.HTTPError, RuntimeError),
            client.stream("GET", "/console/stream") as response,
        ):
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    url = json.loads(line.removeprefix("data: "))["url"]
                    self.alerts.add(url.split("/")[3])  # /console/alerts/<id>/card


def shows_camera_figures(console: Console, deployment: str) -> bool:
    """Whether the instance's health fragment shows figures received for the camera (their
    age), not "waiting" for its first report."""
    with httpx.Client(base_url=console.instance.url, cookies={COOKIE_NAME: console.cookie}) as c:
        page = c.get(f"/deployments/{deployment}/health", timeout=10).text
    row = page.partition('class="camera-health"')[2].partition("</tr>")[0]
    return "s ago" in row and "waiting" not in row


def children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def is_worker(pid: int) -> bool:
    try:
        return b"--multiprocessing-fork" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def until(what: str, check: Callable[[], object], within_s: float = START_WAIT_S) -> object:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {within_s:.0f} s: {what}")


@pytest.fixture
def empty_database() -> str:
    """A database of its own, dropped and created empty for this test."""
    base = make_url(os.environ[POSTGRES_ENV])
    url = base.set(database=f"{base.database}_instances")
    admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def serve(name: str, env: dict[str, str], tmp_path: Path) -> Instance:
    port = free_port()
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "lfr", "serve", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    return Instance(name, process, f"http://127.0.0.1:{port}", log)


def ready(instance: Instance) -> bool:
    if instance.process.poll() is not None:
        raise AssertionError(f"{instance.name} exited:\n{instance.log.read_text()[-3000:]}")
    try:
        return httpx.get(instance.url + "/readyz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def two_instances(
    tmp_path: Path, empty_database: str, nats_settings: NatsSettings
) -> Iterator[tuple[Instance, Instance]]:
    """Both started at the same moment on the empty database (each migrates it)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT / "src"),
        "LFR_ENVIRONMENT": "test",
        "LFR_DATA_DIR": str(tmp_path / "data"),
        "LFR_DATABASE_URL": empty_database,
        "LFR_NATS_URL": nats_settings.url,
        "LFR_NATS_PREFIX": nats_settings.prefix,
        "LFR_SUPERVISOR__LOOP_FILES": "true",  # the camera never ends
    }
    instances = (serve("A", env, tmp_path), serve("B", env, tmp_path))
    try:
        for instance in instances:
            until(f"{instance.name} ready", partial(ready, instance))
        yield instances
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGINT)
        stuck = []
        for instance in instances:
            try:  # open consoles are cut after the graceful stop's bound
                instance.process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                stuck.append(instance.name)
        assert stuck == [], f"{stuck} did not stop within {STOP_WAIT_S} s of Ctrl-C"


def lease_holder(db: SessionFactory, deployment_id: str) -> str | None:
    with transaction(db) as session:
        row = session.get(LeaseRow, camera_lease(deployment_id, CAMERA))
        return row.holder if row is not None else None


def alert_ids(db: SessionFactory) -> list[str]:
    with transaction(db) as session:
        return list(session.scalars(select(AlertRow.id).order_by(AlertRow.captured_at)))


def alert_times(db: SessionFactory) -> list[float]:
    with transaction(db) as session:
        return [t.timestamp() for t in session.scalars(select(AlertRow.first_seen))]


def test_two_instances_act_as_one(
    two_instances: tuple[Instance, Instance],
    empty_database: str,
    tmp_path: Path,
    faces_dir: Path,
    video_dir: Path,
    enroler: VisionEnroler,
) -> None:
    settings = Settings(environment="test", data_dir=tmp_path / "data", database_url=empty_database)
    context = build(settings).context  # as each instance's `lfr serve` builds it, keys and all
    db = context.db
    accounts = seed_accounts(db)
    actors = {name: account.actor for name, account in accounts.items()}
    media = DemoMedia(
        faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png",
        video_dir / "short_hamilton_clip.mp4",  # Miranda passes once in its 9 s
    )
    rehearsal = seed_rehearsal(db, actors, media, enroler)
    deployment = rehearsal.deployment_id
    consoles = [
        Console(instance, signed_in(context, actors["operator"].user_id))
        for instance in two_instances
    ]
    for console in consoles:
        console.open()
    # The consoles stay open: the instance still running must stop all the same.
    watch_two_instances(two_instances, db, actors, deployment, consoles)


def watch_two_instances(
    two_instances: tuple[Instance, Instance],
    db: SessionFactory,
    actors: dict[str, Actor],
    deployment: str,
    consoles: list[Console],
) -> None:
    with transaction(db) as session:
        deployments.start_deployment(session, actors["silver"], deployment, policy=POLICY)

    # One worker for the camera, on the instance holding its lease.
    holder = until("a camera lease held", lambda: lease_holder(db, deployment))
    owner, survivor = sorted(two_instances, key=lambda i: f"-{i.process.pid}-" not in str(holder))
    until("the owner's worker runs", owner.workers)
    assert survivor.workers() == []

    # Each pass alerts once (one worker), and both consoles receive every alert.
    until("two passes alerted", lambda: len(alert_ids(db)) >= 2, within_s=START_WAIT_S)
    stored = set(alert_ids(db))
    for console in consoles:
        until(
            f"{console.instance.name}'s console has every alert",
            partial(stored.issubset, console.alerts),
            30,
        )
    # Camera health reaches both instances too: the one without the worker shows its figures.
    for console in consoles:
        until(
            f"{console.instance.name} shows the camera's figures",
            partial(shows_camera_figures, console, deployment),
            30,
        )
    times = sorted(alert_times(db))
    assert all(b - a > 4.0 for a, b in itertools.pairwise(times)), times  # no twins
    assert survivor.workers() == []

    # kill -9 of the owner: its worker is gone within 10 s; the survivor takes over.
    [worker] = owner.workers()
    owner.process.kill()
    owner.process.wait()
    killed_at = time.monotonic()
    until("the orphan is gone", lambda: is_gone(worker), within_s=GONE_WITHIN_S)
    assert time.monotonic() - killed_at < GONE_WITHIN_S
    until("the survivor runs the camera", survivor.workers, within_s=LEASE_S + START_WAIT_S)
    taken_by = str(lease_holder(db, deployment))
    assert f"-{survivor.process.pid}-" in taken_by
    before = len(alert_ids(db))
    until("the survivor's worker alerts", lambda: len(alert_ids(db)) > before)
    survivor_console = next(c for c in consoles if c.instance is survivor)
    until(
        "the survivor's console has it", lambda: set(alert_ids(db)) <= survivor_console.alerts, 30
    )

    # A halt is complete only once every worker is stopped.
    [running] = survivor.workers()
    with transaction(db) as session:
        deployments.halt_deployment(session, actors["silver"], deployment, "test over")

    def halt_complete() -> bool:
        with transaction(db) as session:
            delivery = fleet.halt_delivery(session, deployment)
            return delivery is not None and delivery.complete

    until("the halt is complete", halt_complete, within_s=60)
    assert is_gone(running)
    with transaction(db) as session:
        [owed] = session.scalars(select(ControlOutboxRow))
        assert json.loads(owed.nodes) == [f"instance:{taken_by}"]  # the survivor acknowledged

    # Retention and the hourly checkpoint ran once, though both instances schedule them.
    with transaction(db) as session:
        runs = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == RUN_ACTION)
        )
        checkpoints = session.scalar(select(func.count()).select_from(AuditCheckpoint))
    assert (runs, checkpoints) == (1, 1)


def signed_in(context: WebContext, user_id: str) -> str:
    """A signed-in session for the user (the sign-in steps are tested on their own)."""
    with transaction(context.db) as session:
        token, _view = context.sessions.create(
            session, user_id=user_id, stage=SessionStage.SIGNED_IN, second_factor=True
        )
    return token
