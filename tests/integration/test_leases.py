"""Leases that make several instances act as one (REC-1, DEP-2): one holder at a time,
renewed by it, taken over once lapsed, given up at once; an instance that cannot renew
knows when to stop what its leases guard."""

from __future__ import annotations

import threading
import time

import pytest

from lfr.db.leases import camera_lease
from lfr.db.session import SessionFactory
from lfr.runtime.leases import Leases

pytestmark = pytest.mark.db

CAMERA = camera_lease("dep-1", "cam-1")


def test_one_holder_renews_and_the_other_waits(session_factory: SessionFactory) -> None:
    a, b = Leases(session_factory, "a"), Leases(session_factory, "b")
    assert a.claim({CAMERA, "leader"}) == {CAMERA, "leader"}
    assert b.claim({CAMERA, "leader"}) == set()
    assert a.claim({CAMERA}) == {CAMERA}  # renewed


def test_a_lapsed_lease_is_taken_over(session_factory: SessionFactory) -> None:
    a, b = Leases(session_factory, "a", lease_s=0.5), Leases(session_factory, "b")
    assert a.claim({CAMERA}) == {CAMERA}
    time.sleep(0.8)  # `a` died: nothing renewed it
    assert b.claim({CAMERA}) == {CAMERA}
    assert a.claim({CAMERA}) == set()  # back too late: it is b's now


def test_a_released_lease_is_free_at_once(session_factory: SessionFactory) -> None:
    a, b = Leases(session_factory, "a"), Leases(session_factory, "b")
    a.claim({CAMERA, "leader"})
    a.release([CAMERA])
    assert b.claim({CAMERA, "leader"}) == {CAMERA}
    a.release_all()
    assert b.claim({"leader"}) == {"leader"}


def test_instances_claiming_at_once_get_it_once(session_factory: SessionFactory) -> None:
    barrier = threading.Barrier(4)
    held: list[set[str]] = []

    def claim(name: str) -> None:
        leases = Leases(session_factory, name)
        barrier.wait()
        held.append(leases.claim({CAMERA}))

    threads = [threading.Thread(target=claim, args=(f"i{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(len(h) for h in held) == [0, 0, 0, 1]


def test_an_instance_that_cannot_renew_is_fenced_before_its_leases_lapse(
    session_factory: SessionFactory,
) -> None:
    leases = Leases(session_factory, "a", lease_s=1.0)
    assert not leases.fenced
    leases.claim({CAMERA})
    assert not leases.fenced
    assert 0 < leases.seconds_until_fenced() < 1.0
    time.sleep(0.6)  # no renewal since: fenced at half the lease here, before it lapses
    assert leases.fenced
