"""A real supervisor in a process of its own, for the tests that kill it: it starts one
worker of the named target (`tests.integration.bus.targets`), prints the worker's pid on
one line once the worker has reported (its target is running), then waits to be killed.
With ``shared``, it runs the machine's describer service too, and prints its pid on a
second line.

    python -m tests.integration.bus.owner_process run_until_stopped
    python -m tests.integration.bus.owner_process describe_until_stopped shared
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
from lfr.vision.engine_config import EngineConfig

from . import targets


async def own_one_worker(target: WorkerTarget, shared_describer: bool) -> None:
    bus = MemoryBus()
    reported = asyncio.Event()

    async def on_health(_envelope: AnyEnvelope, _delivery: Delivery) -> None:
        reported.set()

    await bus.subscribe(Topic.HEALTH, on_health, durable="owner")
    settings = SupervisorSettings(halt_grace_s=1.0, shared_describer=shared_describer)
    supervisor = Supervisor(bus, target, settings=settings, describer=EngineConfig().describer)
    await supervisor.start("dep-1", [Camera("cam-1", "file.mp4")], job=None)
    await reported.wait()
    [state] = supervisor.states("dep-1")
    print(state.pid, flush=True)
    if shared_describer:
        print(supervisor.describer_pid, flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(own_one_worker(getattr(targets, sys.argv[1]), sys.argv[2:] == ["shared"]))
