"""A camera worker never outlives the process that owns it, and stops promptly when told
(REC-1, DEP-2).

A worker process recognises faces only while someone can halt it. The machine's describer
service (`lfr.runtime.describer_service`) holds the same lifeline, the same way. Its owner (the
supervisor of `lfr serve` or `lfr node`) may die without a word (``kill -9``, an out of
memory kill, a crash), so the worker watches for that itself:

* **Parent-death signal** (Linux): the kernel sends the worker SIGTERM the moment its
  owner's thread that started it exits (`prctl(PR_SET_PDEATHSIG)`).
* **Owner link** (every platform): the owner holds the only writing end of a pipe whose
  reading end each worker watches; the kernel closes it whatever way the owner dies, and
  the worker reads end-of-file at once.
* **Owner watch** (every platform, and the backstop of both): a thread checks twice a
  second that the worker's parent is still the process that started it; an orphan is
  re-parented, so a changed parent id means the owner is gone.

Any of these, or SIGTERM from the supervisor, sets the worker's ``stop`` (the engine
finishes the frame in hand and flushes) and arms two exit deadlines: a worker still
running when the first passes (stuck in a long computation, a blocked read) ends at once
with `os._exit` from the watching thread; should that thread itself be held (the
interpreter shutting down freezes a daemon thread, a lock it needs never comes back), the
kernel ends the process a second later (`signal.setitimer` with SIGALRM's default action,
which runs no Python at all).

SIGTERM reaches that watching thread through the interpreter's wake-up pipe
(`signal.set_wakeup_fd`), written the moment the signal arrives, rather than through a
Python handler alone, which runs only when the main thread next returns to the
interpreter: a worker busy in native code still stops in time.

``kill -USR1 <worker pid>`` writes every thread's Python stack to the worker's stderr
(`faulthandler`), for a worker that does not do what it should.
"""

from __future__ import annotations

import ctypes
import faulthandler
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

KERNEL_MARGIN_S = 1.0
"""How long after its own deadline the kernel ends a worker whose watching thread could
not (killed by SIGALRM)."""

_PR_SET_PDEATHSIG = 1


def hold_lifeline(
    owner_pid: int, stop: threading.Event, exit_deadline_s: float, owner_link: int | None = None
) -> None:
    """Called first thing in the worker process, on its main thread: ties the worker's
    life to `owner_pid`, to the reading end `owner_link` of the owner's pipe (where
    given) and to SIGTERM."""
    kernel_watches = _ask_for_parent_death_signal()
    if os.getppid() != owner_pid:  # the owner died before the signal was asked for
        _exit_now("its owner was gone before it started")
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the kernel's deadline ends the process
    signals = _signal_pipe()
    watch = threading.Thread(
        target=_watch,
        args=(owner_pid, stop, exit_deadline_s, signals, owner_link),
        name="lifeline",
        daemon=True,
    )
    watch.start()
    log.debug("lifeline held (parent-death signal: %s)", kernel_watches)


def _signal_pipe() -> int:
    """A pipe the interpreter writes each signal's number to the moment it arrives, in
    whichever thread the kernel delivers it (`signal.set_wakeup_fd`).

    The Python handler does nothing: the watching thread reads the pipe and sets ``stop``.
    A handler runs on the main thread between two of its bytecodes, which may be inside
    ``stop.wait()`` holding the event's own (non-reentrant) lock; ``stop.set()`` there
    would wait for that lock forever, and the watching thread's ``stop.set()`` with it."""
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    signal.signal(signal.SIGTERM, _ignore)  # a Python handler, so the pipe is written
    signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    return reader


def _ignore(_signum: int, _frame: object) -> None:
    """SIGTERM's Python handler: the watching thread acts on it (`_signal_pipe`)."""


def _ask_for_parent_death_signal() -> bool:
    """SIGTERM from the kernel when the owner dies (Linux); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(
    owner_pid: int, stop: threading.Event, deadline_s: float, signals: int, owner_link: int | None
) -> None:
    why = _until_told_or_orphaned(owner_pid, signals, owner_link)
    arm_kernel_deadline(deadline_s + KERNEL_MARGIN_S)  # first: nothing below may hold it
    stop.set()
    log.info("worker stopping: %s", why)
    time.sleep(deadline_s)
    _exit_now(f"still running {deadline_s:.1f} s after it was told to stop ({why})")


def arm_kernel_deadline(seconds: float) -> None:
    """The kernel ends this process `seconds` from now (SIGALRM, whose default action
    terminates it), whatever its threads are doing."""
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _until_told_or_orphaned(owner_pid: int, signals: int, owner_link: int | None) -> str:
    watched = [signals] if owner_link is None else [signals, owner_link]
    while True:
        readable, _, _ = select.select(watched, [], [], WATCH_S)
        if signals in readable and signal.SIGTERM in os.read(signals, 64):
            return "SIGTERM"
        if owner_link in readable:  # the owner never writes: this is end-of-file
            return "its owner died (its link closed)"
        if os.getppid() != owner_pid:
            return "its owner died"


def _exit_now(why: str) -> None:
    log.error("worker ended at once: %s", why)
    logging.shutdown()
    os._exit(EXIT_CODE_OVERDUE)
