"""The lifeline's two backstops, each on its own in a real child process (REC-1, DEP-2):
the owner's link, whose end-of-file says the owner is gone even where its process id
still reads the same, and the kernel's deadline, which ends a process whose Python can no
longer run a line. `tests/integration/bus/test_worker_lifeline.py` kills real owners."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from lfr.runtime.lifeline import EXIT_CODE_OVERDUE

WITHIN_S = 20.0
"""Generous for a loaded machine: the child imports the project before it starts."""


def run_child(code: str, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], pass_fds=pass_fds, stdout=subprocess.PIPE
    )


def test_a_worker_whose_owner_link_closes_stops_though_its_parent_is_alive() -> None:
    reader, writer = os.pipe()
    child = run_child(
        f"""
        import os, threading, time
        from lfr.runtime.lifeline import hold_lifeline
        hold_lifeline(os.getppid(), threading.Event(), exit_deadline_s=0.5, owner_link={reader})
        print("held", flush=True)
        while True:  # never looks at its stop: only the deadline ends it
            time.sleep(0.05)
        """,
        pass_fds=(reader,),
    )
    os.close(reader)
    assert child.stdout is not None
    assert child.stdout.readline() == b"held\n"
    assert child.poll() is None  # the link open, the worker runs on
    os.close(writer)  # what the kernel does to every file of an owner that dies
    assert child.wait(timeout=WITHIN_S) == EXIT_CODE_OVERDUE


def test_the_kernel_deadline_ends_a_process_that_can_run_no_python() -> None:
    child = run_child(
        """
        import threading
        from lfr.runtime.lifeline import arm_kernel_deadline
        arm_kernel_deadline(0.5)
        print("armed", flush=True)
        held = threading.Lock()
        held.acquire()
        held.acquire()  # waits forever: no Python line runs again here
        """
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"armed\n"
    assert child.wait(timeout=WITHIN_S) == -signal.SIGALRM


def test_sigterm_while_the_worker_waits_on_its_stop_ends_it_by_its_stop() -> None:
    """SIGTERM arriving while the main thread is inside `stop.wait()` (an engine waiting
    between two reads of a dropped camera): the worker stops by its own `stop`, exit code
    0, each of several times. A Python handler that set `stop` itself could run while the
    main thread held the event's lock, and the worker then waited on itself for ever."""
    for delay_ms in (0, 3, 7, 13, 29, 53):
        child = run_child(
            """
            import os, threading
            from lfr.runtime.lifeline import hold_lifeline
            stop = threading.Event()
            hold_lifeline(os.getppid(), stop, exit_deadline_s=5.0)
            print("held", flush=True)
            while not stop.wait(0):  # in and out of the event's lock, as fast as it goes
                pass
            """
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"held\n"
        time.sleep(delay_ms / 1000)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=WITHIN_S) == 0, f"SIGTERM {delay_ms} ms after the start"
