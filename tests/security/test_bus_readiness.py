"""Readiness follows the bus, and pages do not wait for it (issue 23, item 4).

Found: `/readyz` stayed 200 through a broker outage once the service had connected; a
service started while NATS was down answered no HTTP for about 15 s (its first-connection
bound). Both against a real `nats-server` this test starts and stops."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lfr.bus.nats_tuning import NatsTuning
from lfr.runtime.engine import run_camera_engine
from lfr.system import attach_recognition
from lfr.web.app import create_app
from lfr.web.context import WebContext

pytestmark = pytest.mark.db

WAIT_S = 90.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NatsServer:
    """A JetStream `nats-server` of this test's own, on a port of its own."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self._store = store
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server")
        assert binary, "nats-server is needed (Debian package nats-server)"
        command = [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self._store)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _until(self._answers, "nats-server listening")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=WAIT_S)
            self._process = None

    def _answers(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_S:g} s: {what}")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


def _on(context: WebContext, url: str, **tuning: float) -> WebContext:
    update = {"nats_url": url, "nats": NatsTuning(**tuning)}  # type: ignore[arg-type]
    return replace(context, settings=context.settings.model_copy(update=update))


def _bus_state(client: TestClient) -> tuple[int, str]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json()["bus"]


def test_readyz_follows_a_broker_outage(web_context: WebContext, nats_server: NatsServer) -> None:
    context = _on(web_context, nats_server.url)
    attach_recognition(context, run_camera_engine)
    with TestClient(create_app(context)) as client:
        _until(lambda: _bus_state(client) == (200, "ok"), "ready once the bus is reached")
        nats_server.stop()
        _until(lambda: _bus_state(client) == (503, "reconnecting"), "503 through the outage")
        nats_server.start()
        _until(lambda: _bus_state(client) == (200, "ok"), "ready again with the broker back")


def test_pages_are_served_at_once_while_the_bus_connects(web_context: WebContext) -> None:
    """Nothing listens at the bus's address and the first connection may keep trying for
    10 minutes: the service answers meanwhile (the readiness check says "connecting")."""
    context = _on(web_context, f"nats://127.0.0.1:{_free_port()}", first_connect_s=600)
    attach_recognition(context, run_camera_engine)
    answers: list[tuple[int, tuple[int, str]]] = []

    def serve() -> None:
        with TestClient(create_app(context)) as client:
            answers.append((client.get("/healthz").status_code, _bus_state(client)))

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    serving.join(timeout=WAIT_S)
    assert not serving.is_alive(), "no HTTP answered while the bus was connecting"
    assert answers == [(200, (503, "connecting"))]
