"""Camera sources (REC-1): where each named camera's video comes from.

A deployment names its cameras (authorised by name, AUTH-6); an engineer or administrator
says where each is. Starting a deployment's workers needs a source for every camera. A
source ``node:<node name>`` says the camera is run by that `lfr node` (a van, a camera
site): the service starts no worker for it, and the node's alerts and health reach the
service over NATS (docs/bus.md). What a source spec is, and how it must be written, is
`lfr.vision.source_types`'s to say.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.bus.cameras import Camera
from lfr.bus.subjects import TOKEN_PATTERN
from lfr.db.base import utcnow
from lfr.db.cameras import CameraSource
from lfr.db.governance import DeploymentRow
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.vision.source_types import SourceType, form_problem, source_kind, source_type
from lfr.vision.sources import SourceError, probe

CONFIGURERS = frozenset({Role.ENGINEER, Role.ADMINISTRATOR})
PROBE_TIMEOUT_S = 5.0
"""How long the doors wait for a stream's first frame before saying it cannot be read."""


def check_source_kind(source: str, allowed: Collection[str]) -> None:
    """Refuse a source of a kind the force does not allow (``web.camera_source_kinds``):
    the service would otherwise read any file or connect to any address it is given."""
    kind = source_kind(source)
    if kind not in allowed:
        kinds = ", ".join(sorted(allowed)) or "none"
        raise Refusal(
            "REC-1", f"{kind} sources are not allowed here; this force allows: {kinds}", "source"
        )


def check_source_reads(
    source: str, allowed: Collection[str], timeout_s: float = PROBE_TIMEOUT_S
) -> None:
    """REC-1 at the doors (the camera form, the JSON route), as the engineer's request: a
    source of an allowed kind is saved only once a frame has been read from it, so a
    mistyped address shows on the form rather than as a camera down at the start. A
    node's camera is read on the node, never from here. A file that cannot be read gets
    one answer whether or not the path exists, so the check never maps the server's
    files. Call it outside any transaction: a stream may take `timeout_s` to answer."""
    spec = source.strip()
    if not spec:
        return
    check_source_kind(spec, allowed)
    if not source_type(spec).opened_here:
        return
    try:
        probe(spec, timeout_s)
    except SourceError as error:
        raise Refusal("REC-1", _unread(spec, error), "source") from None


def _unread(spec: str, error: SourceError) -> str:
    if source_type(spec) is SourceType.FILE:
        return "no video could be read from it. Check the path"
    return f"no video could be read from it: {error.reason}. Check the address"


def configure_camera(session: Session, actor: Actor, name: str, source: str) -> CameraSource:
    """Set (or change) a camera's source, audited."""
    if not actor.roles & CONFIGURERS:
        raise Refusal("REC-1", "an engineer or administrator configures cameras", "actor")
    name, source = name.strip(), source.strip()
    if not TOKEN_PATTERN.match(name):
        raise Refusal("REC-1", "1-64 letters, digits, '_' or '-'", "name")
    problem = form_problem(source)
    if problem is not None:
        raise Refusal("REC-1", problem, "source")
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


def without_source(session: Session, names: Sequence[str]) -> tuple[str, ...]:
    """The cameras among `names` that have no source configured (REC-1)."""
    known = set(session.scalars(select(CameraSource.name).where(CameraSource.name.in_(names))))
    return tuple(name for name in names if name not in known)


def missing_sources(session: Session, names: Sequence[str]) -> list[Unmet]:
    """One unmet condition per camera without a source."""
    return [Unmet("REC-1", "no source configured", name) for name in without_source(session, names)]


def cameras_for(session: Session, names: Sequence[str]) -> list[Camera]:
    """The sources of a deployment's cameras; refuses naming every camera without one."""
    missing = missing_sources(session, names)
    if missing:
        raise Refusals(missing)
    rows = {r.name: r for r in session.scalars(select(CameraSource))}
    return [Camera(name, rows[name].source) for name in names]


def all_cameras(session: Session) -> list[CameraSource]:
    return list(session.scalars(select(CameraSource).order_by(CameraSource.name)))
