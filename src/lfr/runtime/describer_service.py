"""One describer per machine, shared by every camera worker on it (REC-1, REC-2, DEP-2).

Describing a face is the engine's dearest step after detection, and a camera's worker
describes a handful of faces at a time: one network run per frame, at batch 1 to 3. With
``supervisor.shared_describer`` on, the supervisor starts one more process, the
*describer service*, which owns the describer (the model loads once, not once per
camera). Each worker sends it the aligned chips of its faces (chips only, never a frame)
and waits for their descriptors; the service gathers the requests of every worker for at
most ``describer_max_wait_ms`` (or until every connected worker has asked, or
``describer_max_batch`` faces are waiting) and describes them in one run, which is what
lets a GPU work at the batch sizes it is fast at.

* **One code path.** A worker's engine describes through `SharedDescriber`, a `Describer`
  like any other: `Description` calls its `describe_faces`, which sends each face's chips
  in every crop the service's describer takes, and the service calls that describer's own
  `describe_faces` on them. The descriptors are the describer's own.
* **Transport.** A Unix socket (abstract on Linux: no file) that only holders of the
  owner's random key may connect to (`multiprocessing.connection`'s challenge); chips and
  descriptors travel in memory, pickled once each way, and nothing about a face is logged.
* **Life.** The service holds the same lifeline as a worker (`lfr.runtime.lifeline`): it
  ends when its owner dies or tells it to stop. A worker whose service is gone raises
  `DescriberServiceError` and exits; the supervisor restarts both, each with its backoff.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from lfr.runtime.lifeline import hold_lifeline
from lfr.vision.alignment import ChipAlignment
from lfr.vision.describers import Describer, DescriberConfig, build_describer
from lfr.vision.describers.base import Cropped, DescriberGoneError
from lfr.vision.types import Descriptor, RGBImage

log = logging.getLogger(__name__)

POLL_S = 0.1
"""How often the service looks for new workers and for its stop while none asks."""

CHIPS, FACES, STATS = "chips", "faces", "stats"
"""What a request asks: `describe` of chips, `describe_faces` of faces (a chip per crop
each), or the service's figures."""


class DescriberServiceError(RuntimeError):
    """The machine's describer service is gone or could not describe."""


class DescriberServiceGoneError(DescriberServiceError, DescriberGoneError):
    """The service's connection is lost: the worker stops (its camera pipeline lets this
    through, where it survives one frame's fault) and is restarted."""


@dataclass(frozen=True)
class DescriberLink:
    """How a worker reaches the service (pickled into the worker's `ChildSpec`)."""

    address: str
    authkey: bytes = field(repr=False)
    connect_timeout_s: float = 60.0
    """How long a worker waits for a service that is still loading its model or being
    restarted before it gives up (and crashes, to be restarted with backoff)."""

    @classmethod
    def fresh(cls) -> DescriberLink:
        """A new address and key: each start of the service gets its own."""
        token = secrets.token_hex(8)
        if sys.platform.startswith("linux"):
            address = f"\0lfr-describer-{os.getpid()}-{token}"  # abstract: no file
        else:
            address = os.path.join(tempfile.mkdtemp(prefix="lfr-describer-"), "socket")
        return cls(address, secrets.token_bytes(32))

    def connect(self) -> SharedDescriber:
        """The service's describer, once it answers; DescriberServiceError if it does not
        within `connect_timeout_s`."""
        deadline = time.monotonic() + self.connect_timeout_s
        while True:
            try:
                connection = Client(self.address, family="AF_UNIX", authkey=self.authkey)
                model_id, dimension, alignments = connection.recv()
                return SharedDescriber(connection, model_id, dimension, alignments)
            except (OSError, EOFError) as error:
                if time.monotonic() > deadline:
                    raise DescriberServiceError(
                        f"the machine's describer service did not answer within "
                        f"{self.connect_timeout_s:.0f} s ({type(error).__name__})"
                    ) from error
                time.sleep(0.2)


class SharedDescriber:
    """A `Describer` whose every description runs in the machine's describer service."""

    def __init__(
        self,
        connection: Connection,
        model_id: str,
        dimension: int,
        alignments: tuple[ChipAlignment, ...],
    ) -> None:
        self._connection = connection
        self._lock = threading.Lock()  # one request in flight per worker
        self.model_id = model_id
        self.dimension = dimension
        self._alignments = alignments

    @property
    def alignments(self) -> tuple[ChipAlignment, ...]:
        return self._alignments

    def describe(self, chips: Sequence[RGBImage]) -> Descriptor:
        return self._descriptors(CHIPS, list(chips))

    def describe_faces(self, faces: Sequence[Cropped]) -> Descriptor:
        chips = [tuple(face.chip_for(a) for a in self._alignments) for face in faces]
        return self._descriptors(FACES, chips)

    def stats(self) -> dict[str, float]:
        """The service's figures (`ServiceFigures`): runs, faces, batches shared by
        several workers, the largest batch, its CPU seconds."""
        figures: dict[str, float] = self._ask(STATS, [])
        return figures

    def close(self) -> None:
        self._connection.close()

    def _descriptors(self, kind: str, items: list[Any]) -> Descriptor:
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        descriptors: Descriptor = self._ask(kind, items)
        return descriptors

    def _ask(self, kind: str, items: list[Any]) -> Any:
        with self._lock:
            try:
                self._connection.send((kind, items))
                status, value = self._connection.recv()
            except (OSError, EOFError) as error:
                raise DescriberServiceGoneError(
                    "the machine's describer service is gone "
                    f"({type(error).__name__}): this worker stops and is restarted"
                ) from error
        if status != "ok":
            raise DescriberServiceError(f"the describer service could not describe: {value}")
        return value


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the describer service is started with (pickled by spawn)."""

    describer: DescriberConfig
    link: DescriberLink
    max_wait_s: float
    max_batch: int
    exit_deadline_s: float
    owner_link: Connection | None = None
    """The reading end of the owner's pipe (`lifeline`), as a worker has it."""
    owner_pid: int = field(default_factory=os.getpid)


def start_service(spec: ServiceSpec, context: SpawnContext) -> BaseProcess:
    """Start the describer service process (`context`: the spawn context, as workers)."""
    process = context.Process(target=service_main, args=(spec,), name="lfr-describer", daemon=True)
    process.start()
    log.info("started the describer service (pid %s)", process.pid)
    return process


def service_main(spec: ServiceSpec) -> None:
    """Entry point of the describer service: serve until told to stop or orphaned."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle
    link = None if spec.owner_link is None else spec.owner_link.fileno()
    hold_lifeline(spec.owner_pid, stop, spec.exit_deadline_s, link)
    describer = build_describer(spec.describer)
    listener = Listener(spec.link.address, family="AF_UNIX", authkey=spec.link.authkey)
    batcher = Batcher(describer, spec.max_wait_s, spec.max_batch)
    threading.Thread(target=batcher.accept_all, args=(listener,), daemon=True).start()
    log.info("describer service ready (%s)", describer.model_id)
    batcher.serve(stop)


@dataclass
class ServiceFigures:
    """What the service has done, for `SharedDescriber.stats` and the tests."""

    runs: int = 0
    faces: int = 0
    shared_runs: int = 0
    """Runs that described the faces of more than one worker together."""
    largest_batch: int = 0

    def counted(self, workers: int, faces: int) -> None:
        self.runs += 1
        self.faces += faces
        self.shared_runs += workers > 1
        self.largest_batch = max(self.largest_batch, faces)

    def report(self) -> dict[str, float]:
        return {**self.__dict__, "cpu_s": time.process_time()}


Request = tuple[Connection, str, list[Any]]


class _Chips:
    """A face as the service receives it: its chip in each crop of the describer."""

    def __init__(self, alignments: tuple[ChipAlignment, ...], chips: tuple[RGBImage, ...]):
        self._chips = dict(zip(alignments, chips, strict=True))

    def chip_for(self, alignment: ChipAlignment) -> RGBImage:
        return self._chips[alignment]


class Batcher:
    """Gathers the workers' requests and describes them together."""

    def __init__(self, describer: Describer, max_wait_s: float, max_batch: int) -> None:
        self._describer = describer
        self._max_wait_s = max_wait_s
        self._max_batch = max_batch
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self.figures = ServiceFigures()

    def accept_all(self, listener: Listener) -> None:
        """Each worker that connects is told the describer's facts, then served."""
        facts = (self._describer.model_id, self._describer.dimension, self._describer.alignments)
        while True:
            try:
                connection = listener.accept()
                connection.send(facts)
            except (OSError, EOFError) as error:  # a caller without the key, or gone
                log.warning("describer service refused a connection: %s", type(error).__name__)
                continue
            with self._lock:
                self._connections.append(connection)

    def serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            requests = self._gather()
            for kind in (CHIPS, FACES):
                self._run([r for r in requests if r[1] == kind], kind)

    def _gather(self) -> list[Request]:
        """The first request, then whatever others arrive within `max_wait_s`, until
        every connected worker has asked or `max_batch` faces wait."""
        requests = self._received(wait(self._open(), timeout=POLL_S))
        deadline = time.monotonic() + self._max_wait_s
        while requests and sum(len(r[2]) for r in requests) < self._max_batch:
            asked = {r[0] for r in requests}
            idle = [c for c in self._open() if c not in asked]
            left = deadline - time.monotonic()
            if not idle or left <= 0:
                break
            requests += self._received(wait(idle, timeout=left))
        return requests

    def _open(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    def _received(self, ready: Sequence[Any]) -> list[Request]:
        requests = []
        for connection in ready:
            try:
                kind, items = connection.recv()
            except (OSError, EOFError):  # the worker has gone
                self._forget(connection)
                continue
            if kind == STATS:
                self._reply(connection, "ok", self.figures.report())
            else:
                requests.append((connection, kind, items))
        return requests

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        connection.close()

    def _run(self, requests: list[Request], kind: str) -> None:
        """One describer run for all; should it fail, each request alone, so that one
        worker's bad chip fails that worker only."""
        if not requests:
            return
        try:
            descriptors = self._describe(kind, [item for r in requests for item in r[2]])
        except Exception as error:
            if len(requests) > 1:
                for request in requests:
                    self._run([request], kind)
                return
            self._reply(requests[0][0], "error", f"{type(error).__name__}: {error}")
            return
        self.figures.counted(len(requests), len(descriptors))
        start = 0
        for connection, _, items in requests:
            self._reply(connection, "ok", descriptors[start : start + len(items)])
            start += len(items)

    def _describe(self, kind: str, items: list[Any]) -> Descriptor:
        if kind == CHIPS:
            return self._describer.describe(items)
        alignments = self._describer.alignments
        return self._describer.describe_faces([_Chips(alignments, chips) for chips in items])

    def _reply(self, connection: Connection, status: str, value: Any) -> None:
        try:
            connection.send((status, value))
        except OSError:  # the worker went while its faces were described
            self._forget(connection)
