"""The van on a flaky link: the link between a node and NATS is cut and restored.

A real TCP proxy stands between the node (its worker processes and its supervisor) and
the real NATS server; the test cuts it while the worker keeps emitting, then restores it.
Nothing the worker emitted meanwhile may be lost: the worker's outbox holds it and retries
until the link is back, and the stream delivers it to the services.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse

import pytest

from lfr.bus.cameras import Camera
from lfr.bus.nats_bus import NatsBus, NatsSettings
from lfr.bus.subjects import Topic
from lfr.runtime.supervisor import Supervisor

from . import targets
from .collect import Collector
from .test_supervisor import take_until


class CuttableLink:
    """A TCP proxy to the NATS server whose connections can be cut and re-allowed."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 4222)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(*self.upstream)
        self._writers |= {client_out, server_out}
        with contextlib.suppress(asyncio.CancelledError):  # the link was cut mid-way
            await asyncio.gather(
                self._pipe(client_in, server_out), self._pipe(server_in, client_out)
            )

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()


@pytest.mark.nats
@pytest.mark.slow
def test_what_a_node_emits_while_its_link_is_cut_arrives_when_the_link_returns(
    nats_settings: NatsSettings,
) -> None:
    async def scenario() -> set[int]:
        link = CuttableLink(nats_settings.url)
        await link.up()
        via_link = nats_settings.model_copy(update={"url": link.url})
        central, collector = await NatsBus.connect(nats_settings), Collector()
        await central.subscribe(Topic.HEALTH, collector.handler, durable="central")
        node_bus = await NatsBus.connect(via_link)
        supervisor = Supervisor(node_bus, targets.report_every_tick, nats=via_link)
        await supervisor.start("dep-1", [Camera("van-cam", "rtsp://van/cam")], job=None)

        before = await take_until(collector, lambda seen: len(seen) >= 5)
        await link.cut()
        await asyncio.sleep(2.0)  # the worker keeps emitting into a dead link
        await link.up()
        cut_at = before[-1].frames
        # Wait until figures from well after the restore arrive, then check for gaps.
        after = await take_until(collector, lambda seen: any(f.frames > cut_at + 60 for f in seen))
        await supervisor.stop()
        await node_bus.close()
        await central.close()
        await link.cut()
        return {f.frames for f in before + after}

    received = asyncio.run(scenario())
    assert set(range(1, max(received) + 1)) <= received  # none lost, duplicates allowed
