"""Camera sources (REC-1): where each named camera's video comes from.

A deployment names its cameras (authorised by name, AUTH-6); an engineer or administrator
says where each is. Starting a deployment's workers needs a source for every camera. A
source ``node:<node name>`` says the camera is run by that `lfr node` (a van, a camera
site): the service starts no worker for it, and the node's alerts and health reach the
service over NATS (docs/bus.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.bus.subjects import TOKEN_PATTERN
from lfr.db.base import utcnow
from lfr.db.cameras import CameraSource
from lfr.db.governance import DeploymentRow
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.runtime.supervisor import Camera
from lfr.vision.sources import SourceError, probe

CONFIGURERS = frozenset({Role.ENGINEER, Role.ADMINISTRATOR})
NODE_SOURCE_PREFIX = "node:"
PROBE_TIMEOUT_S = 5.0
"""How long the doors wait for a stream's first frame before saying it cannot be read."""


def runs_on_node(source: str) -> bool:
    """Whether a camera's source says an `lfr node` runs it (no worker in the service)."""
    return source.startswith(NODE_SOURCE_PREFIX)


def check_source_reads(source: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """REC-1 at the doors (the camera form, the JSON route): a source is saved only once a
    frame has been read from it, so a mistyped address shows on the form rather than as a
    camera down at the start. A node's camera is read on the node, never from here. Call
    it outside any transaction: a stream may take `timeout_s` to answer."""
    spec = source.strip()
    if not spec or runs_on_node(spec):
        return
    try:
        probe(spec, timeout_s)
    except SourceError as error:
        raise Refusal(
            "REC-1",
            f"no video could be read from it: {error.reason}. Check the address or path",
            "source",
        ) from None


def configure_camera(session: Session, actor: Actor, name: str, source: str) -> CameraSource:
    """Set (or change) a camera's source, audited."""
    if not actor.roles & CONFIGURERS:
        raise Refusal("REC-1", "an engineer or administrator configures cameras", "actor")
    name, source = name.strip(), source.strip()
    if not TOKEN_PATTERN.match(name):
        raise Refusal("REC-1", "1-64 letters, digits, '_' or '-'", "name")
    if not source:
        raise Refusal("REC-1", "give the camera's address or file", "source")
    if runs_on_node(source) and not TOKEN_PATTERN.match(source[len(NODE_SOURCE_PREFIX) :]):
        raise Refusal(
            "REC-1", "node:<node name>, the name 1-64 letters, digits, '_' or '-'", "source"
        )
    row = session.get(CameraSource, name)
    if row is not None and row.source != source:
        _refuse_while_running(session, name)
    before = {"source": row.source} if row else None
    if row is None:
        row = CameraSource(name=name)
        session.add(row)
    row.source, row.configured_by, row.configured_at = source, actor.name, utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="camera.configure",
        object_type="camera",
        object_id=name,
        summary=f"camera {name} configured",
        before=before,
        after={"source": source},
    )
    return row


def _refuse_while_running(session: Session, name: str) -> None:
    """DEP-1: a running deployment films only the cameras authorised and started; re-pointing
    one of them would film somewhere nobody authorised."""
    running = session.scalars(
        select(DeploymentRow).where(DeploymentRow.status == DeploymentStatus.RUNNING)
    )
    for deployment in running:
        if name in json.loads(deployment.cameras):
            raise Refusal(
                "DEP-1",
                f"camera {name} is in use by a running deployment: end or halt it first",
                "source",
            )


def missing_sources(session: Session, names: Sequence[str]) -> list[Unmet]:
    """One unmet condition per camera without a source (for the start checklist)."""
    known = set(session.scalars(select(CameraSource.name).where(CameraSource.name.in_(names))))
    return [Unmet("REC-1", "no source configured", name) for name in names if name not in known]


def cameras_for(session: Session, names: Sequence[str]) -> list[Camera]:
    """The sources of a deployment's cameras; refuses naming every camera without one."""
    missing = missing_sources(session, names)
    if missing:
        raise Refusals(missing)
    rows = {r.name: r for r in session.scalars(select(CameraSource))}
    return [Camera(name, rows[name].source) for name in names]


def all_cameras(session: Session) -> list[CameraSource]:
    return list(session.scalars(select(CameraSource).order_by(CameraSource.name)))
