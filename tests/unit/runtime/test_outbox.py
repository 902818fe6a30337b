"""A node worker's outbox while the link is down (no server, no threads needed), and the
encrypted spool that keeps its alerts across a restart or a power cut (DEP-2, REC-4)."""

from __future__ import annotations

import os
from pathlib import Path

from lfr.runtime.spool import Spool, spool_key
from lfr.runtime.worker import Outbox

HEALTH = "lfr.health.dep-1.cam-1"
MATCH = "lfr.match.dep-1.cam-1"


def drain(outbox: Outbox) -> list[tuple[str, bytes]]:
    outbox.close()
    taken = []
    while (item := outbox.take()) is not None:
        taken.append(item[:2])
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
    assert outbox.take() == (HEALTH, b"last", None)
    assert outbox.take() is None


def test_the_alert_being_published_still_counts_as_unsent_until_it_is_sent() -> None:
    """Found: a worker stopping while its publisher retried an alert said nothing of it;
    only the alerts still queued were counted. The one taken counts until `sent`."""
    outbox = Outbox(alert_limit=10, health_limit=3)
    outbox.put(MATCH, b"m1")
    outbox.put(HEALTH, b"h1")
    assert outbox.take() == (MATCH, b"m1", None)
    assert outbox.unsent() == (1, 0)
    outbox.sent()
    assert outbox.unsent() == (0, 0)
    assert outbox.take() == (HEALTH, b"h1", None)
    assert outbox.unsent() == (0, 0)  # health is never counted as a lost alert


def spool(folder: Path, limit: int = 100) -> Spool:
    return Spool(folder, spool_key(os.urandom(32)), limit)


def test_alerts_kept_on_disk_survive_a_restart_encrypted_and_health_is_never_kept(
    tmp_path: Path,
) -> None:
    kept = spool(tmp_path)
    before = Outbox(alert_limit=10, health_limit=3, spool=kept)
    before.put(MATCH, b'{"probe": "FACE-BYTES-1"}')
    before.put(MATCH, b'{"probe": "FACE-BYTES-2"}')
    before.put(HEALTH, b"h1")
    files = kept.pending()
    assert len(files) == 2  # the alerts only
    assert all(b"FACE-BYTES" not in f.read_bytes() for f in files)  # sealed at rest
    # The process dies here (a power cut): a new worker on the same folder sends them first.
    after = Outbox(alert_limit=10, health_limit=3, spool=kept)
    after.put(MATCH, b'{"probe": "FACE-BYTES-3"}')
    assert [data for _, data in drain(after)] == [
        b'{"probe": "FACE-BYTES-1"}',
        b'{"probe": "FACE-BYTES-2"}',
        b'{"probe": "FACE-BYTES-3"}',
    ]


def test_a_spooled_alert_leaves_the_disk_once_published_and_a_tampered_one_is_dropped(
    tmp_path: Path,
) -> None:
    kept = spool(tmp_path)
    outbox = Outbox(alert_limit=10, health_limit=3, spool=kept)
    outbox.put(MATCH, b"m1")
    outbox.put(MATCH, b"m2")
    first = outbox.take()
    assert first is not None
    assert first[2] is not None
    kept.remove(first[2])  # what the outlet does once the stream acknowledged it
    (left,) = kept.pending()
    left.write_bytes(left.read_bytes()[:-1] + b"\x00")  # torn or altered on disk
    assert drain(Outbox(alert_limit=10, health_limit=3, spool=kept)) == []
    assert kept.pending() == []


def test_another_node_s_key_cannot_read_the_spool(tmp_path: Path) -> None:
    mine = spool(tmp_path)
    Outbox(alert_limit=10, health_limit=3, spool=mine).put(MATCH, b"m1")
    theirs = spool(tmp_path)
    (path,) = theirs.pending()
    assert theirs.read(path) is None
