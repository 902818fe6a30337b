"""A node worker's outbox while the link is down (no server, no threads needed)."""

from __future__ import annotations

from lfr.runtime.worker import Outbox

HEALTH = "lfr.health.dep-1.cam-1"
MATCH = "lfr.match.dep-1.cam-1"


def drain(outbox: Outbox) -> list[tuple[str, bytes]]:
    outbox.close()
    taken = []
    while (item := outbox.take()) is not None:
        taken.append(item)
    return taken


def test_a_long_outage_keeps_every_alert_and_only_the_latest_health() -> None:
    outbox = Outbox(alert_limit=10, health_limit=3)
    for n in range(8):
        outbox.put(HEALTH, b"h%d" % n)
        if n % 2 == 0:
            outbox.put(MATCH, b"m%d" % n)
    assert [data for _, data in drain(outbox)] == [
        b"m0",
        b"m2",
        b"m4",
        b"m6",  # alerts first, all of them
        b"h5",
        b"h6",
        b"h7",  # then the latest health only
    ]


def test_beyond_its_limit_the_newest_alert_is_dropped_and_counted() -> None:
    outbox = Outbox(alert_limit=2, health_limit=3)
    for n in range(4):
        outbox.put(MATCH, b"m%d" % n)
    assert [data for _, data in drain(outbox)] == [b"m0", b"m1"]
    assert outbox.dropped_alerts == 2


def test_a_closed_outbox_still_hands_out_what_it_holds() -> None:
    outbox = Outbox(alert_limit=2, health_limit=3)
    outbox.put(HEALTH, b"last")
    outbox.close()
    assert outbox.take() == (HEALTH, b"last")
    assert outbox.take() is None
