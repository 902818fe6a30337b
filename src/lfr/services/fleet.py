"""The fleet: enrolled nodes, halts owed to them, their acknowledgements, and what they
report (DEP-2, WL-1, WL-6, REC-5).

A node is enrolled by an administrator (its name and public keys, `lfr.bus.identity`)
and can be revoked. What arrives over the bus for a camera `node:<name>` is accepted only
when signed by that enrolled, unrevoked node (`check_origin`); a deployment's watchlist is
released only to such nodes, each copy encrypted to its node (`release_targets`).

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
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.bus.identity import SERVICE_NAME, IdentityError, NodePublicKey, verify_service
from lfr.bus.messages import NodeReport
from lfr.bus.nats_auth import NodeAccess, user_public
from lfr.bus.subjects import TOKEN_PATTERN
from lfr.db.cameras import CameraSource
from lfr.db.fleet import ControlAckRow, ControlOutboxRow, EnrolledNodeRow, NodeStatusRow
from lfr.db.governance import DeploymentRow
from lfr.db.leases import INSTANCE_PREFIX, camera_lease, database_now, live_holders
from lfr.domain.people import SYSTEM_ACTOR, Actor, Role
from lfr.domain.refusal import NotFound, Refusal
from lfr.domain.rules import blank
from lfr.services._rows import moment
from lfr.services.people import is_console
from lfr.vision.source_types import node_of


def link_up(last_seen: datetime | None, at: datetime, unreachable_after_s: float) -> bool:
    """Whether a node last heard from at `last_seen` is still reachable at `at`: silent for
    less than `unreachable_after_s` (the settings' ``node_unreachable_s``)."""
    return last_seen is not None and (at - last_seen).total_seconds() < unreachable_after_s


def nodes_of(session: Session, cameras: Sequence[str]) -> list[str]:
    """The nodes that run some of these cameras (sources ``node:<name>``)."""
    sources = session.scalars(select(CameraSource.source).where(CameraSource.name.in_(cameras)))
    return sorted({node for node in map(node_of, sources) if node is not None})


def owe_halt(session: Session, row: DeploymentRow, reason: str, at: datetime) -> ControlOutboxRow:
    """Record the halt every node of the deployment must hear, in the caller's transaction;
    with no node to tell, it is delivered as soon as the bus holds it.

    Every instance of `lfr serve` running a camera of it (holding the camera's lease) must
    acknowledge it too, as ``instance:<name>`` beside the nodes: the halt is complete once
    each has stopped its workers, or its lease lapsed (`acknowledge_stopped_instances`)."""
    nodes = nodes_of(session, json.loads(row.cameras))
    nodes += sorted(INSTANCE_PREFIX + h for h in live_holders(session, camera_lease(row.id, "")))
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


def only_nodes(names: Sequence[str]) -> list[str]:
    """The nodes among those owed a halt (not the instances of the service)."""
    return [name for name in names if not name.startswith(INSTANCE_PREFIX)]


def acknowledge_stopped_instances(session: Session, deployment_id: str) -> None:
    """Each instance owed a halt of the deployment that no longer holds a live lease on any
    of its cameras has stopped its workers there (it released them after stopping, or its
    leases lapsed: `lfr.runtime.leases`): recorded as its acknowledgement."""
    running = live_holders(session, camera_lease(deployment_id, ""))
    now = database_now(session)
    for owed in session.scalars(
        select(ControlOutboxRow)
        .where(
            ControlOutboxRow.deployment_id == deployment_id,
            ControlOutboxRow.delivered_at.is_(None),
        )
        .order_by(ControlOutboxRow.id)  # locked in one order by every pass: no deadlock
    ):
        for name in json.loads(owed.nodes):
            if (
                name.startswith(INSTANCE_PREFIX)
                and name.removeprefix(INSTANCE_PREFIX) not in running
            ):
                _acknowledge(session, owed.id, name, now)


def mark_published(session: Session, outbox_id: str, at: datetime) -> None:
    row = session.get(ControlOutboxRow, outbox_id)
    if row is None:
        return
    row.published_at, row.attempts, row.last_error = at, row.attempts + 1, None
    _delivered_once_all_heard(session, row, at)
    session.flush()


def mark_failed(session: Session, outbox_id: str, error: str) -> None:
    row = session.get(ControlOutboxRow, outbox_id)
    if row is not None:
        row.attempts, row.last_error = row.attempts + 1, error[:200]
        session.flush()


def record_report(
    session: Session, report: NodeReport, origin: Origin, *, now: datetime | None = None
) -> None:
    """Keep a node's latest report and record the halts it acknowledges, when it is signed
    by that enrolled node (a report in another's name is refused)."""
    if verified_node(session, origin) != report.node:
        raise Refusal("DEP-2", f"a report for node {report.node} not signed by it", "node")
    at = moment(now)
    status = session.get(NodeStatusRow, report.node)
    if status is None:
        status = NodeStatusRow(name=report.node)
        session.add(status)
    status.deployment_id = report.deployment_id
    status.state = report.state
    status.version = report.version
    status.cameras = json.dumps(list(report.cameras))
    status.outbox_depth = report.outbox_depth
    status.reported_at = report.reported_at
    status.last_seen = at
    for halt_id in sorted(report.acknowledged):  # the order every pass locks them in
        _acknowledge(session, halt_id, report.node, at)
    _audit_destroyed(session, report)
    session.flush()


def _audit_destroyed(session: Session, report: NodeReport) -> None:
    """Alerts a node destroyed unsent (captured after a halt, or past its outbox retention)
    are on the record, by count: what they held never left the node (DEP-2, DP-2)."""
    counts = (
        (report.destroyed_after_halt, "captured after the halt"),
        (report.expired, "past the outbox retention"),
    )
    for count, why in counts:
        if count:
            record(
                session,
                actor=SYSTEM_ACTOR,
                action="node.alerts_destroyed",
                object_type="node",
                object_id=report.node,
                summary=f"node {report.node} destroyed {count} alert(s) {why}, unsent",
                after={"deployment": report.deployment_id, "count": count, "why": why},
            )


def _acknowledge(session: Session, outbox_id: str, node: str, at: datetime) -> None:
    # The halt's row is locked first: two passes acknowledging the same instance at once
    # (the halt's own convergence and the reconciler's) take turns, and the second finds
    # the first's acknowledgement instead of inserting it again.
    owed = session.get(ControlOutboxRow, outbox_id, with_for_update=True, populate_existing=True)
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
    _delivered_once_all_heard(session, owed, at)


def _delivered_once_all_heard(session: Session, owed: ControlOutboxRow, at: datetime) -> None:
    """Delivered when the bus holds the halt and every node and instance owed it has
    acknowledged (an instance may stop its workers before the halt is on the bus: it obeys
    the record, not the message; the halt stays owed to the bus until published)."""
    acked = set(
        session.scalars(select(ControlAckRow.node).where(ControlAckRow.outbox_id == owed.id))
    )
    heard = set(json.loads(owed.nodes)) <= acked
    if owed.delivered_at is None and owed.published_at is not None and heard:
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

    def unreachable(self, at: datetime, unreachable_after_s: float) -> list[NodeDelivery]:
        """Nodes that have not acknowledged and have been silent `unreachable_after_s`."""
        return [
            n
            for n in self.nodes
            if n.acked_at is None and not link_up(n.last_seen, at, unreachable_after_s)
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
    # An instance is heard from while it renews its leases.
    now, alive = database_now(session), live_holders(session, "")
    seen |= {n: now for n in names if n.removeprefix(INSTANCE_PREFIX) in alive}
    nodes = tuple(NodeDelivery(n, acks.get(n), seen.get(n)) for n in names)
    return HaltDelivery(owed.reason, owed.created_at, owed.published_at, owed.last_error, nodes)


def node_statuses(session: Session) -> list[NodeStatusRow]:
    """Every node that has reported, most recently seen first (the fleet page)."""
    return list(session.scalars(select(NodeStatusRow).order_by(NodeStatusRow.last_seen.desc())))


# --- enrolment ---------------------------------------------------------------------------


def _check_administrator(actor: Actor) -> None:
    if not actor.has(Role.ADMINISTRATOR):
        raise Refusal("DEP-2", "an administrator enrols and revokes nodes", "actor")


def enrol_node(
    session: Session, actor: Actor, name: str, public_key: str, *, now: datetime | None = None
) -> EnrolledNodeRow:
    """Enrol a node under its name with the public key `lfr fleet keygen` printed; audited."""
    _check_administrator(actor)
    if not TOKEN_PATTERN.match(name) or name == SERVICE_NAME:
        raise Refusal(
            "DEP-2",
            f"a node's name is 1-64 letters, digits, '_' or '-', not {SERVICE_NAME}",
            "name",
        )
    try:
        key = NodePublicKey.parse(public_key)
    except IdentityError as error:
        raise Refusal("DEP-2", str(error), "public_key") from None
    if session.get(EnrolledNodeRow, name) is not None:
        raise Refusal("DEP-2", f"a node named {name} is already enrolled", "name")
    holder = holder_of_key(session, key)
    if holder is not None:
        raise Refusal(
            "DEP-2",
            f"this key is enrolled already, as node {holder}: each node makes its own "
            "(lfr fleet keygen on that node)",
            "public_key",
        )
    at = moment(now)
    row = EnrolledNodeRow(
        name=name,
        public_key=key.text(),
        enrolled_by=actor.name,
        enrolled_at=at,
        requested_by_id=actor.user_id,
    )
    session.add(row)
    if is_console(actor):  # whoever holds the server's shell holds the database already
        row.approved_by, row.approved_at = actor.name, at
    session.flush()
    summary = f"node {name} enrolled" + (
        "" if row.approved_at else "; it awaits a second administrator"
    )
    _audit_node(session, actor, name, "node.enrol", summary, None)
    return row


def approve_node(
    session: Session, actor: Actor, name: str, *, now: datetime | None = None
) -> EnrolledNodeRow:
    """A second administrator, not the one who enrolled it, approves a node's enrolment:
    only then does it receive watchlists (decrypted templates) and have its messages
    accepted (two-person rule); audited. Refusing one is revoking it (`revoke_node`)."""
    _check_administrator(actor)
    row = session.get(EnrolledNodeRow, name, with_for_update=True)
    if row is None:
        raise NotFound("enrolled node", name)
    if row.revoked_at is not None:
        raise Refusal("DEP-2", f"node {name} is revoked", "name")
    if row.approved_at is not None:
        raise Refusal("DEP-2", f"node {name} is approved already", "name")
    if actor.user_id == row.requested_by_id:
        raise Refusal(
            "DEP-2",
            "a second administrator must approve a node, not the one who enrolled it",
            "actor",
        )
    row.approved_by, row.approved_at = actor.name, moment(now)
    session.flush()
    _audit_node(session, actor, name, "node.enrol_approved", f"node {name} approved", None)
    return row


def is_trusted(row: EnrolledNodeRow) -> bool:
    """Enrolled, approved by a second administrator, and not revoked."""
    return row.approved_at is not None and row.revoked_at is None


def holder_of_key(session: Session, key: NodePublicKey) -> str | None:
    """The node (enrolled or revoked) holding either half of `key`: one key answers to one
    name only, or a node could speak, and receive watchlists, as another (DEP-2)."""
    for row in session.scalars(select(EnrolledNodeRow)):
        enrolled = NodePublicKey.parse(row.public_key)
        if _halves(key) & _halves(enrolled):
            return row.name
    return None


def _halves(key: NodePublicKey) -> set[bytes]:
    return {half for half in (key.signing, key.sealing, key.bus) if half is not None}


def revoke_node(
    session: Session, actor: Actor, name: str, reason: str, *, now: datetime | None = None
) -> EnrolledNodeRow:
    """Revoke a node: it receives no watchlist and what it publishes is refused; audited."""
    _check_administrator(actor)
    if blank(reason):
        raise Refusal("DEP-2", "say why the node is revoked", "reason")
    row = session.get(EnrolledNodeRow, name, with_for_update=True)
    if row is None:
        raise NotFound("enrolled node", name)
    if row.revoked_at is not None:
        raise Refusal("DEP-2", f"node {name} is already revoked", "name")
    row.revoked_by, row.revoked_at, row.revoke_reason = actor.name, moment(now), reason.strip()
    session.flush()
    _audit_node(session, actor, name, "node.revoke", f"node {name} revoked", reason.strip())
    return row


def _audit_node(
    session: Session, actor: Actor, name: str, action: str, summary: str, reason: str | None
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        object_type="node",
        object_id=name,
        summary=summary,
        reason=reason,
    )


def enrolled_nodes(session: Session) -> list[EnrolledNodeRow]:
    return list(session.scalars(select(EnrolledNodeRow).order_by(EnrolledNodeRow.name)))


def trusted_key(session: Session, name: str) -> NodePublicKey | None:
    """The public key of an enrolled, approved, unrevoked node; None for any other name."""
    row = session.get(EnrolledNodeRow, name)
    if row is None or not is_trusted(row):
        return None
    return NodePublicKey.parse(row.public_key)


def bus_access(session: Session) -> tuple[list[NodeAccess], list[str]]:
    """Each enrolled, unrevoked node's NATS user (its NKey and the cameras it runs), and the
    names of those enrolled before nodes had a bus key (they need enrolling anew)."""
    runs: dict[str, list[str]] = {}
    for camera in session.scalars(select(CameraSource).order_by(CameraSource.name)):
        node = node_of(camera.source)
        if node is not None:
            runs.setdefault(node, []).append(camera.name)
    access, keyless = [], []
    for row in enrolled_nodes(session):
        key = NodePublicKey.parse(row.public_key)
        if not is_trusted(row):
            continue
        if key.bus is None:
            keyless.append(row.name)
            continue
        access.append(NodeAccess(row.name, user_public(key.bus), tuple(runs.get(row.name, []))))
    return access, keyless


def release_targets(session: Session, cameras: Sequence[str]) -> dict[str, NodePublicKey]:
    """The enrolled, unrevoked nodes that run some of these cameras, with their keys."""
    keys = {name: trusted_key(session, name) for name in nodes_of(session, cameras)}
    return {name: key for name, key in keys.items() if key is not None}


# --- what arrives ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Who says a message came from them: the envelope's node, its signature and what was
    signed (`lfr.bus.messages.signed_content`). `in_process` marks what the service hands
    its own sinks directly, never through the bus (no message from the bus carries it)."""

    node: str | None
    content: bytes
    signature: bytes | None
    in_process: bool = False


class OriginRefusedError(Refusal):
    """A message from the bus whose sender is not proven: refused, counted, never stored.
    `kind` names why for the count (unsigned, unknown_signer, bad_signature, wrong_camera)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__("DEP-2", reason, "node")
        self.kind = kind


def verified_node(session: Session, origin: Origin, service_key: bytes | None = None) -> str | None:
    """The node whose valid signature the message carries, or None for the service's own
    workers (their signature verifies with `service_key`, the service's bus key). Anything
    else is refused: no signature, a signer that is not an enrolled, unrevoked node, or a
    signature that does not verify (AUTH-6, DEP-2)."""
    if origin.in_process:
        return None
    if origin.node is None or origin.signature is None:
        raise OriginRefusedError("unsigned", "a message on the bus must be signed by its sender")
    if origin.node == SERVICE_NAME:
        if service_key is None or not verify_service(service_key, origin.content, origin.signature):
            raise OriginRefusedError(
                "bad_signature", "the service's signature on the message does not verify"
            )
        return None
    key = trusted_key(session, origin.node)
    if key is None:
        raise OriginRefusedError(
            "unknown_signer", f"node {origin.node} is not enrolled, or revoked"
        )
    if not key.verify(origin.content, origin.signature):
        raise OriginRefusedError(
            "bad_signature", f"the signature of node {origin.node} does not verify"
        )
    return origin.node


def check_origin(
    session: Session, camera: str, origin: Origin, service_key: bytes | None = None
) -> None:
    """A camera run by a node speaks only through that node's signature; a camera of the
    service's own only through the service's (AUTH-6, DEP-2)."""
    node = verified_node(session, origin, service_key)
    runner = runner_of(session, camera)
    if node != runner:
        expected = f"node {runner}" if runner else "the service's own worker"
        raise OriginRefusedError("wrong_camera", f"camera {camera} is run by {expected}")


def runner_of(session: Session, camera: str) -> str | None:
    """The node that runs a camera (its source ``node:<name>``); None: the service does."""
    source = session.get(CameraSource, camera)
    return node_of(source.source) if source is not None else None
