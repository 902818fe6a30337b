"""Leases that make several instances of `lfr serve` act as one (REC-1, DEP-2, AUD-1, DP-1).

Each lease is a row (`lfr.db.leases.LeaseRow`) with a holder and an expiry judged by the
database's clock (PostgreSQL's ``now()``), so the instances' own clocks never decide who
holds what. `Leases.claim` renews the leases an instance holds and takes those free or
lapsed, in one transaction, each row locked while it is decided: two instances claiming
one camera at once get it once.

* ``camera:<deployment>:<camera>``: the instance that runs that camera's worker.
* ``leader``: the instance that runs what must run once (ending deployments out of force,
  halts and watchlists sent to nodes, retention, audit checkpoints).

An instance that dies stops renewing: its workers die with it (`lfr.runtime.lifeline`),
and once `LEASE_S` has passed the survivors take its cameras and the leadership over. An
instance that cannot renew (the database unreachable) must assume it lost its leases
before they lapse: `Leases.fenced` says when, and the reconciler then stops its workers,
so two workers never run for one camera.

On SQLite one instance is the only supported topology (the database is a local file);
the leases work the same and are always this instance's.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lfr.db.leases import LeaseRow, database_now
from lfr.db.session import SessionFactory, transaction

LEASE_S = 10.0
"""How long a lease lasts unrenewed: how soon the survivors take a dead instance's cameras
over. Renewed at every reconcile pass (2 s), so a few missed passes lose nothing."""

FENCE_MARGIN_S = 2.0
"""An instance that has not renewed for `LEASE_S` less this stops its workers: they are
gone before anyone else may start the camera."""

LEADER = "leader"


def instance_name() -> str:
    """A name for this process, unique among instances: host, pid and a random part."""
    host = socket.gethostname().split(".")[0][:24] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


class Leases:
    """This instance's leases: claimed, renewed and released through the database."""

    def __init__(self, db: SessionFactory, holder: str, lease_s: float = LEASE_S) -> None:
        self._db = db
        self.holder = holder
        self._lease = timedelta(seconds=lease_s)
        self._fence_after_s = max(lease_s - FENCE_MARGIN_S, lease_s / 2)
        self._renewed_at: float | None = None
        """`time.monotonic()` when a claim last went through (None: never)."""

    def claim(self, names: Collection[str]) -> set[str]:
        """Renews those of `names` held here and takes those free or lapsed; returns the
        names this instance holds now. Raises if the database cannot be reached."""
        started = time.monotonic()
        held: set[str] = set()
        with transaction(self._db) as session:
            now = database_now(session)
            for name in sorted(names):  # one order for every instance: no deadlock
                if self._claim_one(session, name, now):
                    held.add(name)
        self._renewed_at = started
        return held

    def _claim_one(self, session: Session, name: str, now: datetime) -> bool:
        row = session.get(LeaseRow, name, with_for_update=True, populate_existing=True)
        if row is None:
            try:
                with session.begin_nested():  # another instance may insert it first
                    session.add(
                        LeaseRow(name=name, holder=self.holder, expires_at=now + self._lease)
                    )
            except IntegrityError:
                return False
            return True
        if row.holder != self.holder and row.expires_at > now:
            return False
        row.holder, row.expires_at = self.holder, now + self._lease
        session.flush()
        return True

    def release(self, names: Collection[str]) -> None:
        """Gives up those of `names` held here (a stopped deployment, a clean shutdown):
        another instance may take them at once."""
        if not names:
            return
        with transaction(self._db) as session:
            session.execute(
                delete(LeaseRow).where(LeaseRow.holder == self.holder, LeaseRow.name.in_(names))
            )

    def release_all(self) -> None:
        with transaction(self._db) as session:
            session.execute(delete(LeaseRow).where(LeaseRow.holder == self.holder))

    @property
    def fenced(self) -> bool:
        """True once the leases held here may have lapsed unrenewed: whatever they
        guarded must stop now."""
        return self.seconds_until_fenced() <= 0

    def seconds_until_fenced(self) -> float:
        """How long a renewal may still take before `fenced` (a database that hangs
        rather than refuses must not keep workers running past their leases)."""
        if self._renewed_at is None:
            return self._fence_after_s
        return self._fence_after_s - (time.monotonic() - self._renewed_at)
