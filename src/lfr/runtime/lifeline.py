"""A camera worker never outlives the process that owns it, and stops promptly when told
(REC-1, DEP-2).

A worker process recognises faces only while someone can halt it. Its owner (the
supervisor of `lfr serve` or `lfr node`) may die without a word (``kill -9``, an out of
memory kill, a crash), so the worker watches for that itself:

* **Parent-death signal** (Linux): the kernel sends the worker SIGTERM the moment its
  owner's thread that started it exits (`prctl(PR_SET_PDEATHSIG)`).
* **Owner watch** (every platform, and the backstop on Linux): a thread checks twice a
  second that the worker's parent is still the process that started it; an orphan is
  re-parented, so a changed parent id means the owner is gone.

Either way, or on SIGTERM from the supervisor, the worker's ``stop`` is set (the engine
finishes the frame in hand and flushes) and an exit deadline is armed: a worker still
running when it passes (stuck in a long computation, a blocked read) ends at once with
`os._exit`. SIGTERM reaches that watching thread through the interpreter's wake-up pipe
(`signal.set_wakeup_fd`), written the moment the signal arrives, rather than through a
Python handler alone, which runs only when the main thread next returns to the
interpreter: a worker busy in native code still stops in time.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

WATCH_S = 0.5
"""How often the watching thread checks that the owner is alive."""

EXIT_CODE_OVERDUE = 70
"""The exit status of a worker that had to be ended by its own deadline."""

_PR_SET_PDEATHSIG = 1


def hold_lifeline(owner_pid: int, stop: threading.Event, exit_deadline_s: float) -> None:
    """Called first thing in the worker process, on its main thread: ties the worker's
    life to `owner_pid` and to SIGTERM."""
    kernel_watches = _ask_for_parent_death_signal()
    if os.getppid() != owner_pid:  # the owner died before the signal was asked for
        _exit_now("its owner was gone before it started")
    signals = _signal_pipe(stop)
    watch = threading.Thread(
        target=_watch,
        args=(owner_pid, stop, exit_deadline_s, signals),
        name="lifeline",
        daemon=True,
    )
    watch.start()
    log.debug("lifeline held (parent-death signal: %s)", kernel_watches)


def _signal_pipe(stop: threading.Event) -> int:
    """A pipe the interpreter writes each signal's number to the moment it arrives, in
    whichever thread the kernel delivers it (`signal.set_wakeup_fd`); the Python handler
    itself runs later, on the main thread, when that thread is next free."""
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    return reader


def _ask_for_parent_death_signal() -> bool:
    """SIGTERM from the kernel when the owner dies (Linux); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(owner_pid: int, stop: threading.Event, deadline_s: float, signals: int) -> None:
    why = _until_told_or_orphaned(owner_pid, signals)
    log.info("worker stopping: %s", why)
    stop.set()
    time.sleep(deadline_s)
    _exit_now(f"still running {deadline_s:.1f} s after it was told to stop ({why})")


def _until_told_or_orphaned(owner_pid: int, signals: int) -> str:
    while True:
        readable, _, _ = select.select([signals], [], [], WATCH_S)
        if readable and signal.SIGTERM in os.read(signals, 64):
            return "SIGTERM"
        if os.getppid() != owner_pid:
            return "its owner died"


def _exit_now(why: str) -> None:
    log.error("worker ended at once: %s", why)
    logging.shutdown()
    os._exit(EXIT_CODE_OVERDUE)
