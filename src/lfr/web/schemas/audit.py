"""The audit log, its verification and its public anchors (AUD-1)."""

from __future__ import annotations

from datetime import datetime

from lfr.web.schemas.base import Schema


class AuditEntryOut(Schema):
    sequence: int
    time: datetime
    actor: str
    actor_rank: str | None
    actor_roles: str | None
    action: str
    object_type: str
    object_id: str | None
    summary: str
    reason: str | None
    request_id: str | None
    hash: str


class AuditVerification(Schema):
    """The hash chain checked from the first entry (AUD-1)."""

    ok: bool
    entries_checked: int
    last_sequence: int | None
    head_hash: str | None
    problems: list[str]


class SignedCheckpointOut(Schema):
    """A signed checkpoint (or the signed head): sequence and head hash at a time, with the
    service's Ed25519 signature over them."""

    format: str
    sequence: int
    head_hash: str
    time: str
    public_key: str
    signature: str


class CheckpointFeed(Schema):
    format: str
    public_key: str
    checkpoints: list[SignedCheckpointOut]
