"""Runs one worker process per camera of each running deployment (REC-1, REC-5, DEP-2).

* Each camera gets its own OS process (multiprocessing *spawn*: a clean interpreter, no
  inherited locks or threads, and the same behaviour on every platform), so a camera that
  crashes its decoder or the engine takes down only itself.
* A worker that dies unexpectedly is restarted with exponential backoff, and the crash is
  published as `HealthFigures` (status down, errors, last_error) so the deployment shows it.
* `halt` stops every worker of a deployment at once: all are signalled together (SIGTERM:
  the worker stops after the frame in hand), and any still alive after ``halt_grace_s``
  are killed. `halt` and `stop` are idempotent.

Messages reach the central bus one of two ways: through a pipe per worker, relayed by the
supervisor onto its bus (embedded default, memory bus), or published by the worker to NATS
itself (`lfr node`). The supervisor's own crash reports go on its bus either way.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from lfr.bus.base import AnyEnvelope, Bus, Delivery, Subscription
from lfr.bus.cameras import Camera
from lfr.bus.messages import HaltDeployment, Message, Signer
from lfr.bus.nats_bus import NatsSettings
from lfr.bus.subjects import Topic, check_token
from lfr.runtime.describer_service import DescriberLink, ServiceSpec, start_service
from lfr.runtime.spool import Spool
from lfr.runtime.worker import (
    ChildSpec,
    NatsOutlet,
    Outlet,
    PipeOutlet,
    WorkerTarget,
    child_main,
    down_figures,
)

# Re-exported: the supervisor and its settings are imported together by their callers.
from lfr.setting_groups import SupervisorSettings as SupervisorSettings
from lfr.vision.describers import DescriberConfig

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")


@dataclass
class _Worker:
    deployment_id: str
    camera: Camera
    job: Any
    process: BaseProcess | None = None
    started_at: float = 0.0
    crashes: int = 0
    consecutive: int = 0
    restart: asyncio.TimerHandle | None = None
    stopping: bool = False
    finished: bool = False


@dataclass
class _Service:
    """The machine's describer service, as the supervisor keeps it."""

    describer: DescriberConfig
    link: DescriberLink = field(default_factory=DescriberLink.fresh)
    """Where the next (or running) service listens: renewed as one dies, so that a
    worker started from then on waits for its successor, never for the dead one."""
    process: BaseProcess | None = None
    started_at: float = 0.0
    consecutive: int = 0
    restart: asyncio.TimerHandle | None = None
    stopping: bool = False


@dataclass
class WorkerState:
    """What the supervisor knows of one worker, for a health page or a test."""

    deployment_id: str
    camera: str
    alive: bool
    pid: int | None
    crashes: int
    finished: bool


class Supervisor:
    """Starts, watches, restarts and halts camera worker processes; use from one event loop."""

    def __init__(
        self,
        bus: Bus,
        target: WorkerTarget,
        *,
        nats: NatsSettings | None = None,
        settings: SupervisorSettings | None = None,
        signer: Signer | None = None,
        spool: Spool | None = None,
        describer: DescriberConfig | None = None,
    ) -> None:
        """``nats`` set: workers publish to NATS themselves; unset: through the supervisor.
        ``signer``: a node's key, which its workers sign what they publish with.
        ``spool``: a node's folder (and key) where each camera's unsent alerts are kept.
        ``describer``: the describer of the workers' engines, which the describer
        service runs for all of them with ``settings.shared_describer``."""
        self._bus = bus
        self._signer = signer
        self._spool = spool
        self._target = target
        self._nats = nats
        self._settings = settings or SupervisorSettings()
        self._workers: dict[tuple[str, str], _Worker] = {}
        self._halting: dict[str, asyncio.Future[None]] = {}
        self._relay: _PipeRelay | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Each worker watches the reading end; the writing end is this process's alone
        # and closes only when it dies (`lifeline`).
        self._owner_link, self._owner_link_writer = _SPAWN.Pipe(duplex=False)
        self._service = self._describer_service(describer)

    def _describer_service(self, describer: DescriberConfig | None) -> _Service | None:
        if not self._settings.shared_describer:
            return None
        if describer is None:
            raise ValueError("supervisor.shared_describer: the supervisor needs the describer")
        return _Service(describer)

    async def start(self, deployment_id: str, cameras: Sequence[Camera], job: Any) -> None:
        """Start one worker per camera; cameras already running are left as they are, and
        one whose source had ended is started again."""
        check_token(deployment_id, "deployment id")
        self._loop = asyncio.get_running_loop()
        if self._service is not None and self._service.process is None:
            self._start_service(self._service)
        for camera in cameras:
            worker = self._workers.get((deployment_id, camera.name))
            if worker is None or worker.finished:
                worker = self._workers[(deployment_id, camera.name)] = _Worker(
                    deployment_id, camera, job
                )
                self._spawn(worker)

    async def halt(self, deployment_id: str) -> None:
        """Stop every worker of the deployment at once (DEP-2); returns when all are gone.

        Idempotent: a call while a halt is under way waits for that one; a later call
        finds nothing to stop.
        """
        halting = self._halting.get(deployment_id)
        if halting is None:
            workers = [w for (d, _), w in self._workers.items() if d == deployment_id]
            for worker in workers:  # out of the table at once: nothing restarts them now
                del self._workers[(deployment_id, worker.camera.name)]
            halting = asyncio.ensure_future(self._stop_workers(workers))
            self._halting[deployment_id] = halting
            halting.add_done_callback(lambda _: self._halting.pop(deployment_id, None))
        await asyncio.shield(halting)  # a cancelled caller does not cancel the halt

    async def stop(self) -> None:
        """Halt every deployment (all together) and stop relaying; idempotent."""
        deployments = {d for d, _ in self._workers} | set(self._halting)
        await asyncio.gather(*(self.halt(d) for d in deployments))
        if self._service is not None:
            await self._stop_service(self._service)
        if self._relay is not None:
            await asyncio.to_thread(self._relay.stop)
            self._relay = None

    async def follow_halts(
        self,
        durable: str,
        *,
        deployment_id: str | None = None,
        on_halt: Callable[[HaltDeployment], None] | None = None,
    ) -> Subscription:
        """Obey `HaltDeployment` messages on the bus (all deployments', or one's).

        The one path by which a halt reaches workers, wherever they run: the services
        publish the halt; this supervisor (embedded) and every node's act on it. The
        message is acknowledged only once the workers are stopped.
        """

        async def on_control(envelope: AnyEnvelope, _delivery: Delivery) -> None:
            if isinstance(envelope.payload, HaltDeployment):
                await self.halt(envelope.payload.deployment_id)
                log.info("halted %s: %s", envelope.payload.deployment_id, envelope.payload.reason)
                if on_halt is not None:
                    on_halt(envelope.payload)

        return await self._bus.subscribe(
            Topic.CONTROL, on_control, durable=durable, deployment_id=deployment_id
        )

    def states(self, deployment_id: str | None = None) -> list[WorkerState]:
        return [
            WorkerState(
                w.deployment_id,
                w.camera.name,
                w.process is not None and w.process.is_alive(),
                w.process.pid if w.process is not None else None,
                w.crashes,
                w.finished,
            )
            # A copy: pages and probes ask from other threads while the event loop adds
            # and removes workers (iterating the dict itself failed there, under load).
            for w in list(self._workers.values())
            if deployment_id in (None, w.deployment_id)
        ]

    def _spawn(self, worker: _Worker) -> None:
        worker.restart = None
        outlet, reader = self._outlet(worker)
        spec = ChildSpec(
            target=self._target,
            deployment_id=worker.deployment_id,
            camera=worker.camera.name,
            source=worker.camera.source,
            job=worker.job,
            prefix=self._bus.prefix,
            outlet=outlet,
            signer=self._signer,
            exit_deadline_s=exit_deadline(self._settings),
            owner_link=self._owner_link,
            describer=self._service.link if self._service is not None else None,
        )
        name = f"lfr-worker-{worker.deployment_id}-{worker.camera.name}"
        process = _SPAWN.Process(target=child_main, args=(spec,), name=name, daemon=True)
        process.start()
        if isinstance(outlet, PipeOutlet):
            outlet.connection.close()  # the child holds the writing end now
        worker.process, worker.started_at = process, time.monotonic()
        if reader is not None:
            self._relay_for().add(reader)
        assert self._loop is not None
        self._loop.add_reader(process.sentinel, self._on_exit, worker, process)
        log.info("started worker %s (pid %s)", name, process.pid)

    def _outlet(self, worker: _Worker) -> tuple[Outlet, Connection | None]:
        if self._nats is not None:
            spool = self._spool
            if spool is not None:  # one folder per camera: a restart finds its own alerts
                folder = spool.folder / worker.deployment_id / worker.camera.name
                spool = replace(spool, folder=folder)
            # Flushing must fit inside the halt grace, or the halt kills a worker mid-flush.
            outlet = NatsOutlet(self._nats, flush_s=self._settings.halt_grace_s / 2, spool=spool)
            return outlet, None
        reader, writer = _SPAWN.Pipe(duplex=False)
        return PipeOutlet(writer), reader

    def _relay_for(self) -> _PipeRelay:
        if self._relay is None:
            assert self._loop is not None
            self._relay = _PipeRelay(self._bus, self._loop)
        return self._relay

    @property
    def describer_link(self) -> DescriberLink | None:
        """How a process of this machine reaches the describer service (None: it runs
        none)."""
        return self._service.link if self._service is not None else None

    @property
    def describer_pid(self) -> int | None:
        """The describer service's process, while one runs (`shared_describer`)."""
        process = self._service.process if self._service is not None else None
        return process.pid if process is not None and process.is_alive() else None

    def _start_service(self, service: _Service) -> None:
        """Start the describer service; workers wait for it to answer."""
        service.restart = None
        spec = ServiceSpec(
            service.describer,
            service.link,
            max_wait_s=self._settings.describer_max_wait_ms / 1000,
            max_batch=self._settings.describer_max_batch,
            exit_deadline_s=exit_deadline(self._settings),
            owner_link=self._owner_link,
        )
        process = service.process = start_service(spec, _SPAWN)
        service.started_at = time.monotonic()
        assert self._loop is not None
        self._loop.add_reader(process.sentinel, self._on_service_exit, service, process)

    def _on_service_exit(self, service: _Service, process: BaseProcess) -> None:
        """The service died while workers may need it: they crash on their next faces
        (each reported and restarted as any crash); it restarts with its own backoff."""
        assert self._loop is not None
        self._loop.remove_reader(process.sentinel)
        if service.stopping:
            return
        process.join()
        self._schedule_service_restart(service, f"exited with code {process.exitcode}")

    def _schedule_service_restart(self, service: _Service, what: str) -> None:
        ran, service.consecutive, delay = self._crash_streak(
            service.started_at, service.consecutive
        )
        service.link = DescriberLink.fresh()
        log.error("the describer service %s after %.1f s; restart in %.1f s", what, ran, delay)
        assert self._loop is not None
        service.restart = self._loop.call_later(delay, self._restart_service, service)

    def _restart_service(self, service: _Service) -> None:
        """A restart that cannot even start counts as a crash (as a worker's)."""
        try:
            self._start_service(service)
        except Exception as error:
            service.started_at = time.monotonic()
            self._schedule_service_restart(service, f"could not start ({type(error).__name__})")

    async def _stop_service(self, service: _Service) -> None:
        service.stopping = True
        if service.restart is not None:
            service.restart.cancel()
        process = service.process
        if process is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(process.sentinel)
        process.terminate()
        await asyncio.to_thread(_join_or_kill, [process], self._settings.halt_grace_s)
        # A later start starts a new one.
        service.process, service.stopping, service.link = None, False, DescriberLink.fresh()

    def _crash_streak(self, started_at: float, consecutive: int) -> tuple[float, int, float]:
        """For a process started at `started_at` that just crashed: how long it ran, its
        crashes in a row (one that ran `stable_after_s` starts afresh), and the wait
        before its restart (doubling with each, up to `restart_max_s`)."""
        ran = time.monotonic() - started_at
        consecutive = 1 if ran >= self._settings.stable_after_s else consecutive + 1
        delay = min(
            self._settings.restart_initial_s * 2.0 ** (consecutive - 1),
            self._settings.restart_max_s,
        )
        return ran, consecutive, delay

    def _on_exit(self, worker: _Worker, process: BaseProcess) -> None:
        assert self._loop is not None
        self._loop.remove_reader(process.sentinel)
        if worker.stopping or worker.process is not process:
            return  # a halt is reaping it (two threads must not wait for one child)
        process.join()
        if process.exitcode == 0:
            worker.finished = True
            log.info("worker %s finished", process.name)
            return
        self._schedule_restart(worker, f"worker process exited with code {process.exitcode}")

    def _schedule_restart(self, worker: _Worker, what: str) -> None:
        ran, worker.consecutive, delay = self._crash_streak(worker.started_at, worker.consecutive)
        worker.crashes += 1
        reason = f"{what} after {ran:.1f} s; restart {worker.crashes} in {delay:.1f} s"
        log.warning("camera %s of %s: %s", worker.camera.name, worker.deployment_id, reason)
        figures = down_figures(worker.deployment_id, worker.camera.name, worker.crashes, reason)
        self._publish_soon(figures)
        assert self._loop is not None
        worker.restart = self._loop.call_later(delay, self._respawn, worker)

    def _respawn(self, worker: _Worker) -> None:
        """Restart a crashed worker; a restart that cannot even start counts as a crash."""
        try:
            self._spawn(worker)
        except Exception as error:
            log.error("could not restart %s: %s", worker.camera.name, type(error).__name__)
            worker.started_at = time.monotonic()
            what = f"worker process could not start ({type(error).__name__})"
            self._schedule_restart(worker, what)

    def _publish_soon(self, message: Message) -> None:
        task = asyncio.ensure_future(self._publish_logged(message))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _publish_logged(self, message: Message) -> None:
        try:
            await self._bus.publish(message)
        except Exception as error:  # a report lost must not stop supervision
            log.error("could not publish a worker's health: %s", type(error).__name__)

    async def _stop_workers(self, workers: list[_Worker]) -> None:
        """Signal all at once, wait for all together, kill whoever outlives the grace."""
        for worker in workers:
            worker.stopping = True
            if worker.restart is not None:
                worker.restart.cancel()
            if worker.process is not None and worker.process.is_alive():
                worker.process.terminate()
        alive = [w.process for w in workers if w.process is not None]
        await asyncio.to_thread(_join_or_kill, alive, self._settings.halt_grace_s)
        assert self._loop is not None or not alive
        for process in alive:
            if self._loop is not None:
                self._loop.remove_reader(process.sentinel)


_background: set[asyncio.Future[None]] = set()

OWNERLESS_EXIT_S = 8.0
"""The longest a worker runs on after its owner died or it was told to stop: within the
10 s an operator is promised (REC-1, DEP-2), whatever the halt grace."""


def exit_deadline(settings: SupervisorSettings) -> float:
    """When a worker told to stop ends itself: after the supervisor's own kill at the halt
    grace (which reaps it first while the supervisor lives), and never later than
    `OWNERLESS_EXIT_S`."""
    return min(settings.halt_grace_s + 1.0, OWNERLESS_EXIT_S)


def _join_or_kill(processes: list[BaseProcess], grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            log.warning("worker %s outlived the halt grace: killed", process.name)
            process.kill()
            process.join()


@dataclass
class _PipeRelay:
    """One thread that reads every worker's pipe and publishes each message on the bus."""

    bus: Bus
    loop: asyncio.AbstractEventLoop
    readers: set[Connection] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    POLL_S = 0.2  # how soon a newly added pipe is watched, and the thread notices stop
    PUBLISH_WAIT_S = 30.0  # a bus that takes longer is broken; the relay moves on

    def add(self, reader: Connection) -> None:
        with self._lock:
            self.readers.add(reader)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="worker-relay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._relay_ready(self.POLL_S)
        # Stopped after the workers: what they sent before exiting is still relayed.
        while self.readers and self._relay_ready(0):
            pass
        for reader in self.readers:
            reader.close()

    def _relay_ready(self, timeout: float) -> bool:
        with self._lock:
            readers = list(self.readers)
        if not readers:
            time.sleep(timeout)
            return False
        ready = wait(readers, timeout=timeout)
        for reader in ready:
            self._relay_one(reader)  # type: ignore[arg-type]
        return bool(ready)

    def _relay_one(self, reader: Connection) -> None:
        try:
            frame = reader.recv_bytes()
        except (EOFError, OSError):
            # The worker has exited and everything it sent has been read.
            with self._lock:
                self.readers.discard(reader)
            reader.close()
            return
        subject, _, data = frame.partition(b"\n")
        publish = self.bus.publish_raw(subject.decode(), data)
        future = asyncio.run_coroutine_threadsafe(publish, self.loop)
        try:
            future.result(self.PUBLISH_WAIT_S)
        except Exception as error:  # one lost message must not stop the relay
            log.error("could not relay a worker's message: %s", type(error).__name__)
