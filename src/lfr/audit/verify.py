"""Verifying the stored log: chain, head and signed checkpoints (AUD-1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit.chain import (
    ChainEntry,
    Problem,
    VerificationReport,
    format_time,
)
from lfr.audit.checkpoint import SignedCheckpoint, require_trusted_key
from lfr.audit.export import verify_entries
from lfr.audit.log import HEAD_ID
from lfr.audit.models import AuditCheckpoint, AuditEntry, AuditHead

_BATCH = 1000


def _stored_entries(session: Session) -> Iterator[ChainEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.sequence).execution_options(yield_per=_BATCH)
    for entry in session.scalars(statement):
        yield entry.to_chain_entry()


def verify(
    session: Session,
    *,
    checkpoints: tuple[SignedCheckpoint, ...] = (),
    trusted_public_key: str | None = None,
) -> VerificationReport:
    """Verify every stored entry, the chain head and the checkpoints (AUD-1).

    Checkpoints stored in the database and those given (e.g. a file published earlier) must
    match the chain at their sequence. Given checkpoints must also carry a valid signature
    from ``trusted_public_key``; stored ones are signature-checked when a key is given.

    Raises:
        CheckpointError: checkpoints were given without a trusted public key.
    """
    require_trusted_key(checkpoints, trusted_public_key)
    all_checkpoints = tuple(_stored_checkpoints(session)) + checkpoints
    report = verify_entries(_stored_entries(session), all_checkpoints, trusted_public_key)
    return replace(report, problems=report.problems + tuple(_head_problems(session, report)))


def _head_problems(session: Session, report: VerificationReport) -> list[Problem]:
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return [Problem(None, "head missing", "the chain head row is gone")]
    if (head.sequence, head.hash) != (report.last_sequence, report.head_hash):
        return [
            Problem(
                head.sequence,
                "head mismatch",
                f"the chain head says {head.sequence} entries ending {head.hash[:12]}…, the "
                f"log ends at {report.last_sequence} ({report.head_hash[:12]}…): "
                "entries deleted from the end or appended outside lfr",
            )
        ]
    return []


def _stored_checkpoints(session: Session) -> Iterator[SignedCheckpoint]:
    for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.sequence)):
        yield SignedCheckpoint(
            sequence=row.sequence,
            head_hash=row.head_hash,
            time=format_time(row.time),
            public_key=row.public_key,
            signature=row.signature,
        )
