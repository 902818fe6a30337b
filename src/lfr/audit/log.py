"""Writing the audit log: ``record()`` appends one entry inside the caller's transaction."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import keys
from lfr.audit.chain import canonical_json, entry_hash, entry_mac
from lfr.audit.checkpoint import SignedCheckpoint, sign_checkpoint
from lfr.db.audit_log import AuditCheckpoint, AuditEntry, AuditHead
from lfr.db.base import utcnow
from lfr.domain.people import Actor

HEAD_ID = 1

CHECKPOINT_INTERVAL = timedelta(hours=1)
"""Longest time between signed checkpoints. A rewrite is detectable against any copy of
the published feed taken after the rewritten entries' checkpoint: shorter narrows the
window in which recent entries are pinned only by the chain seal; longer saves rows."""

request_id_var: ContextVar[str | None] = ContextVar("lfr_request_id", default=None)
"""The current request's id; the web sets it per request so entries can be traced to it."""


class AuditLogMissingError(RuntimeError):
    """The database has no audit chain head: its migrations have not been applied."""


def _json_or_none(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def lock_head(session: Session) -> AuditHead:
    """Lock and return the chain head (row lock on PostgreSQL; SQLite holds the write lock)."""
    statement = (
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.execute(statement).scalar_one_or_none()
    if head is None:
        raise AuditLogMissingError("audit chain head missing: run `lfr db upgrade`")
    return head


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    summary: str,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> AuditEntry:
    """Append an audit entry in the caller's transaction (AUD-1); never commits.

    If the caller's transaction rolls back, the entry vanishes with the change it
    describes, so the log never records what did not happen. ``before``/``after`` are
    JSON-able snapshots (datetimes, enums, sets are converted; bytes are refused so that
    no biometric can reach the log).
    """
    head = lock_head(session)
    entry = AuditEntry(
        sequence=head.sequence + 1,
        time=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        actor_rank=actor.rank.name,
        actor_roles=actor.roles_text,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary,
        before=_json_or_none(before),
        after=_json_or_none(after),
        reason=reason,
        request_id=request_id_var.get(),
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry.hashed_fields())
    entry.mac = entry_mac(keys.chain_key(session), entry.hash)
    session.add(entry)
    # The entry is written before the head moves: the database refuses a head that names
    # an entry it does not hold (migration 0007).
    session.flush()
    head.sequence, head.hash = entry.sequence, entry.hash
    session.flush()
    return entry


def create_checkpoint(
    session: Session, private_key: Ed25519PrivateKey | None = None
) -> SignedCheckpoint:
    """Sign the current chain head and store the checkpoint (in the caller's transaction).

    The head is locked while signing so the checkpoint names a state that really existed.
    """
    head = lock_head(session)
    signer = private_key or keys.signing_key(session)
    checkpoint = sign_checkpoint(signer, head.sequence, head.hash, utcnow())
    session.add(
        AuditCheckpoint(
            sequence=checkpoint.sequence,
            head_hash=checkpoint.head_hash,
            time=datetime.fromisoformat(checkpoint.time),
            public_key=checkpoint.public_key,
            signature=checkpoint.signature,
        )
    )
    session.flush()
    return checkpoint


def checkpoint_at_deployment_end(session: Session) -> SignedCheckpoint:
    """The checkpoint every deployment end makes, in the end's own transaction (AUD-1): the
    record of a deployment is pinned the moment it closes."""
    return create_checkpoint(session)


def make_checkpoint_if_due(
    session: Session,
    private_key: Ed25519PrivateKey | None = None,
    *,
    now: datetime | None = None,
    every: timedelta = CHECKPOINT_INTERVAL,
) -> SignedCheckpoint | None:
    """Sign and store a checkpoint when the last one is ``every`` old or more (or none
    exists); None when one is not yet due. A scheduler calls this (``lfr serve``).

    "Due?" is decided holding the chain head: two instances asking at once make one
    checkpoint, not two for one sequence."""
    at = now or utcnow()
    lock_head(session)
    last = session.scalars(
        select(AuditCheckpoint.time).order_by(AuditCheckpoint.time.desc()).limit(1)
    ).first()
    if last is not None and at - last < every:
        return None
    return create_checkpoint(session, private_key)


def signed_head(session: Session, private_key: Ed25519PrivateKey | None = None) -> SignedCheckpoint:
    """The current head, signed now and not stored (a "signed tree head"): whoever keeps it
    can later prove what the log held at this moment."""
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        raise AuditLogMissingError("audit chain head missing: run `lfr db upgrade`")
    signer = private_key or keys.signing_key(session)
    return sign_checkpoint(signer, head.sequence, head.hash, utcnow())
