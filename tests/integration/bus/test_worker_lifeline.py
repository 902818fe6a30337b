"""A camera worker never outlives its owner, and stops promptly when told (REC-1, DEP-2).

The owner is a real supervisor in a process of its own (`owner_process`), killed with
SIGKILL as `kill -9` would: nothing of it runs to tell the worker, which must notice by
itself. The workers here ignore their `stop` altogether (a worker stuck in a long
computation), the hardest case.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lfr.runtime.lifeline import EXIT_CODE_OVERDUE
from lfr.runtime.supervisor import OWNERLESS_EXIT_S, SupervisorSettings, exit_deadline

from .test_supervisor import is_gone, process_state

PROJECT = Path(__file__).resolve().parents[3]
GONE_WITHIN_S = 10.0
"""What an operator is promised: no recognition 10 s after its owner died."""


def until_gone(pid: int, within_s: float) -> float:
    """Seconds until `pid` is gone; fails after `within_s`, naming what the process's
    threads are doing (and asking it for its Python stacks, which reach its stderr)."""
    started = time.monotonic()
    while not is_gone(pid):
        if time.monotonic() - started > within_s:
            threads = threads_of(pid)
            raise AssertionError(f"process {pid} still running {within_s} s later: {threads}")
        time.sleep(0.05)
    return time.monotonic() - started


def threads_of(pid: int) -> str:
    """Each thread's state and kernel wait, after the worker's stack dump (SIGUSR1)."""
    try:
        os.kill(pid, signal.SIGUSR1)
        time.sleep(1.0)
        tasks = sorted(Path(f"/proc/{pid}/task").iterdir())
        return "; ".join(
            f"{task.name} {process_state(int(task.name))} {(task / 'wchan').read_text()}"
            for task in tasks
        )
    except OSError as error:
        return f"({process_state(pid)}; threads unreadable: {error})"


def owner_of_one_worker(target: str) -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.bus.owner_process", target],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()  # the worker's pid, once it is started
    assert line.strip().isdigit(), f"the owner printed {line!r}"
    return owner, int(line)


@pytest.mark.parametrize("target", ["run_until_stopped", "ignore_the_stop"])
def test_a_worker_stops_by_itself_when_its_owner_is_killed(target: str) -> None:
    owner, worker = owner_of_one_worker(target)
    try:
        assert not is_gone(worker)
        owner.kill()  # SIGKILL: the owner runs nothing more
        owner.wait()
        until_gone(worker, GONE_WITHIN_S)
    finally:
        if not is_gone(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_worker_blocked_in_native_code_still_stops_promptly_on_sigterm() -> None:
    """SIGTERM sent to a worker stuck in a read (its owner alive, as an operator's `kill`
    would): gone within its exit deadline (1 s grace + 1 s here), not whenever the read
    returns."""
    owner, worker = owner_of_one_worker("blocked_in_a_read")
    try:
        os.kill(worker, signal.SIGTERM)
        assert until_gone(worker, GONE_WITHIN_S) < 2.0 + 2.0  # the deadline, and a margin
    finally:
        owner.kill()
        owner.wait()
        if not is_gone(worker):
            os.kill(worker, signal.SIGKILL)


def test_the_exit_deadline_never_passes_the_promise_whatever_the_halt_grace() -> None:
    assert exit_deadline(SupervisorSettings(halt_grace_s=2.0)) == 3.0
    assert exit_deadline(SupervisorSettings(halt_grace_s=30.0)) == OWNERLESS_EXIT_S
    assert OWNERLESS_EXIT_S < GONE_WITHIN_S
    assert EXIT_CODE_OVERDUE not in (0, 1)
