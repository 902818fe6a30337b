"""Halts owed to nodes, their acknowledgements, and what nodes report (DEP-2, WL-6, REC-5).

`owe_halt` is called by the deployments service in the transaction that stops a running
deployment: the halt (and the withdrawal of its released watchlist) is then on record
before anyone is told, and the reconciler publishes it until the bus holds it and every
node serving the deployment has acknowledged it (`lfr.runtime.reconciler`). Nodes report
their state on the bus (`NodeReport`); `record_report` keeps the latest per node and
records the acknowledgements it carries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.bus.messages import NodeReport
from lfr.db.cameras import CameraSource
from lfr.db.fleet import ControlAckRow, ControlOutboxRow, NodeStatusRow
from lfr.db.governance import DeploymentRow
from lfr.services._rows import moment
from lfr.services.cameras import NODE_SOURCE_PREFIX

UNREACHABLE_AFTER_S = 20.0
"""A node silent this long is shown unreachable (nodes report every few seconds)."""


def nodes_of(session: Session, cameras: Sequence[str]) -> list[str]:
    """The nodes that run some of these cameras (sources ``node:<name>``)."""
    sources = session.scalars(select(CameraSource.source).where(CameraSource.name.in_(cameras)))
    return sorted(
        {s.removeprefix(NODE_SOURCE_PREFIX) for s in sources if s.startswith(NODE_SOURCE_PREFIX)}
    )


def owe_halt(session: Session, row: DeploymentRow, reason: str, at: datetime) -> ControlOutboxRow:
    """Record the halt every node of the deployment must hear, in the caller's transaction;
    with no node to tell, it is delivered as soon as the bus holds it."""
    nodes = nodes_of(session, json.loads(row.cameras))
    owed = ControlOutboxRow(
        deployment_id=row.id, reason=reason, created_at=at, nodes=json.dumps(nodes), attempts=0
    )
    session.add(owed)
    session.flush()
    return owed


def undelivered(session: Session) -> list[ControlOutboxRow]:
    """Halts not yet acknowledged by every node, oldest first."""
    return list(
        session.scalars(
            select(ControlOutboxRow)
            .where(ControlOutboxRow.delivered_at.is_(None))
            .order_by(ControlOutboxRow.created_at)
        )
    )


def mark_published(session: Session, outbox_id: str, at: datetime) -> None:
    row = session.get(ControlOutboxRow, outbox_id)
    if row is None:
        return
    row.published_at, row.attempts, row.last_error = at, row.attempts + 1, None
    if not json.loads(row.nodes):
        row.delivered_at = at
    session.flush()


def mark_failed(session: Session, outbox_id: str, error: str) -> None:
    row = session.get(ControlOutboxRow, outbox_id)
    if row is not None:
        row.attempts, row.last_error = row.attempts + 1, error[:200]
        session.flush()


def record_report(session: Session, report: NodeReport, *, now: datetime | None = None) -> None:
    """Keep a node's latest report; record the halts it acknowledges."""
    at = moment(now)
    status = session.get(NodeStatusRow, report.node)
    if status is None:
        status = NodeStatusRow(name=report.node)
        session.add(status)
    status.deployment_id = report.deployment_id
    status.state = report.state
    status.version = report.version
    status.cameras = json.dumps(list(report.cameras))
    status.reported_at = report.reported_at
    status.last_seen = at
    for halt_id in report.acknowledged:
        _acknowledge(session, halt_id, report.node, at)
    session.flush()


def _acknowledge(session: Session, outbox_id: str, node: str, at: datetime) -> None:
    owed = session.get(ControlOutboxRow, outbox_id)
    if owed is None or node not in json.loads(owed.nodes):
        return  # not a halt this node was owed: nothing to record
    exists = session.scalars(
        select(ControlAckRow.id).where(
            ControlAckRow.outbox_id == outbox_id, ControlAckRow.node == node
        )
    ).first()
    if exists is None:
        session.add(ControlAckRow(outbox_id=outbox_id, node=node, acked_at=at))
        session.flush()
    acked = set(
        session.scalars(select(ControlAckRow.node).where(ControlAckRow.outbox_id == outbox_id))
    )
    if owed.delivered_at is None and set(json.loads(owed.nodes)) <= acked:
        owed.delivered_at = at


@dataclass(frozen=True, slots=True)
class NodeDelivery:
    node: str
    acked_at: datetime | None
    last_seen: datetime | None
    """When the node last reported, whatever it said; None: never heard from."""


@dataclass(frozen=True, slots=True)
class HaltDelivery:
    """How far a deployment's last halt has reached: what Silver sees after halting."""

    reason: str
    created_at: datetime
    published_at: datetime | None
    last_error: str | None
    nodes: tuple[NodeDelivery, ...]

    @property
    def acknowledged(self) -> int:
        return sum(1 for n in self.nodes if n.acked_at is not None)

    @property
    def complete(self) -> bool:
        return self.published_at is not None and self.acknowledged == len(self.nodes)

    def unreachable(self, at: datetime) -> list[NodeDelivery]:
        """Nodes that have not acknowledged and have been silent a while."""
        silent = at - timedelta(seconds=UNREACHABLE_AFTER_S)
        return [
            n
            for n in self.nodes
            if n.acked_at is None and (n.last_seen is None or n.last_seen < silent)
        ]


def halt_delivery(session: Session, deployment_id: str) -> HaltDelivery | None:
    """The latest halt owed for a deployment and who has acknowledged it; None if none."""
    owed = session.scalars(
        select(ControlOutboxRow)
        .where(ControlOutboxRow.deployment_id == deployment_id)
        .order_by(ControlOutboxRow.created_at.desc())
    ).first()
    if owed is None:
        return None
    acks = {
        a.node: a.acked_at
        for a in session.scalars(select(ControlAckRow).where(ControlAckRow.outbox_id == owed.id))
    }
    names = json.loads(owed.nodes)
    seen = {
        s.name: s.last_seen
        for s in session.scalars(select(NodeStatusRow).where(NodeStatusRow.name.in_(names)))
    }
    nodes = tuple(NodeDelivery(n, acks.get(n), seen.get(n)) for n in names)
    return HaltDelivery(owed.reason, owed.created_at, owed.published_at, owed.last_error, nodes)


def node_statuses(session: Session) -> list[NodeStatusRow]:
    """Every node that has reported, most recently seen first (the fleet page)."""
    return list(session.scalars(select(NodeStatusRow).order_by(NodeStatusRow.last_seen.desc())))
