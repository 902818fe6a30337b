"""Work `lfr serve` does by itself at intervals: retention (DP-1), audit checkpoints
(AUD-1). Each job is a service call in its own transaction, audited by the service; a job
that fails is logged and tried again at its next turn, and never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("lfr.schedules")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_s: float
    run: Callable[[], object]
    """Called in a worker thread; decides itself whether anything is due."""


class Scheduler:
    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(job), name=f"schedule-{job.name}") for job in self.jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(self, job: Job) -> None:
        while True:
            try:
                await asyncio.to_thread(job.run)
            except Exception:  # logged; the next turn tries again
                log.exception("scheduled job %s failed", job.name)
            await asyncio.sleep(job.every_s)
