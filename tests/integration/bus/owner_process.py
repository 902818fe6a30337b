"""A real supervisor in a process of its own, for the tests that kill it: it starts one
worker of the named target (`tests.integration.bus.targets`), prints the worker's pid on
one line once the worker has reported (its target is running), then waits to be killed.

    python -m tests.integration.bus.owner_process run_until_stopped
"""

from __future__ import annotations

import asyncio
import sys

from lfr.bus.base import AnyEnvelope, Delivery
from lfr.bus.cameras import Camera
from lfr.bus.memory import MemoryBus
from lfr.bus.subjects import Topic
from lfr.runtime.supervisor import Supervisor, SupervisorSettings
from lfr.runtime.worker import WorkerTarget

from . import targets


async def own_one_worker(target: WorkerTarget) -> None:
    bus = MemoryBus()
    reported = asyncio.Event()

    async def on_health(_envelope: AnyEnvelope, _delivery: Delivery) -> None:
        reported.set()

    await bus.subscribe(Topic.HEALTH, on_health, durable="owner")
    supervisor = Supervisor(bus, target, settings=SupervisorSettings(halt_grace_s=1.0))
    await supervisor.start("dep-1", [Camera("cam-1", "file.mp4")], job=None)
    await reported.wait()
    [state] = supervisor.states("dep-1")
    print(state.pid, flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(own_one_worker(getattr(targets, sys.argv[1])))
