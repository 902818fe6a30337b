"""Verifying the stored log: chain, head and signed checkpoints (AUD-1)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit import keys
from lfr.audit.chain import (
    ChainEntry,
    Problem,
    VerificationReport,
    format_time,
    mac_problems,
)
from lfr.audit.checkpoint import SignedCheckpoint, require_trusted_key
from lfr.audit.export import verify_entries
from lfr.audit.log import HEAD_ID
from lfr.db.audit_log import AuditCheckpoint, AuditEntry, AuditHead

_BATCH = 1000


def chain_entry(entry: AuditEntry) -> ChainEntry:
    """A stored entry as the chain verifier reads it: the hashed fields and the stored hash."""
    return ChainEntry(fields=entry.hashed_fields(), hash=entry.hash)


def _stored_entries(session: Session) -> Iterator[ChainEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.sequence).execution_options(yield_per=_BATCH)
    for entry in session.scalars(statement):
        yield chain_entry(entry)


def verify(
    session: Session,
    *,
    checkpoints: tuple[SignedCheckpoint, ...] = (),
    trusted_public_key: str | None = None,
    published: tuple[SignedCheckpoint, ...] = (),
    chain_key: bytes | None = None,
) -> VerificationReport:
    """Verify every stored entry, its seal, the chain head and the checkpoints (AUD-1).

    Checkpoints stored in the database and those given (e.g. a file published earlier) must
    match the chain at their sequence. Given checkpoints must also carry a valid signature
    from ``trusted_public_key``; stored ones are signature-checked when a key is given.
    ``published`` checkpoints (a copy of the public feed) are checked the same way and must
    still be stored: a checkpoint deleted from the database is reported. Every seal is
    checked with ``chain_key`` (default: this installation's).

    Raises:
        CheckpointError: checkpoints were given without a trusted public key.
    """
    given = checkpoints + published
    require_trusted_key(given, trusted_public_key)
    stored = tuple(_stored_checkpoints(session))
    report = verify_entries(_stored_entries(session), stored + given, trusted_public_key)
    problems = [*report.problems, *_head_problems(session, report)]
    problems += mac_problems(chain_key or keys.chain_key(session), _stored_seals(session))
    problems += _withdrawn(published, stored)
    return replace(report, problems=tuple(problems))


def _stored_seals(session: Session) -> Iterator[tuple[int, str, str | None]]:
    statement = (
        select(AuditEntry.sequence, AuditEntry.hash, AuditEntry.mac)
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=_BATCH)
    )
    yield from session.execute(statement)


def _withdrawn(
    published: tuple[SignedCheckpoint, ...], stored: tuple[SignedCheckpoint, ...]
) -> list[Problem]:
    kept = {(c.sequence, c.head_hash, c.signature) for c in stored}
    return [
        Problem(
            checkpoint.sequence,
            "checkpoint withdrawn",
            f"the checkpoint published at {checkpoint.time} is no longer in the database",
        )
        for checkpoint in published
        if (checkpoint.sequence, checkpoint.head_hash, checkpoint.signature) not in kept
    ]


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
    statement = select(AuditCheckpoint).order_by(AuditCheckpoint.sequence, AuditCheckpoint.id)
    for row in session.scalars(statement):
        yield _signed(row)


def _signed(row: AuditCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(
        sequence=row.sequence,
        head_hash=row.head_hash,
        time=format_time(row.time),
        public_key=row.public_key,
        signature=row.signature,
    )


def stored_checkpoints(session: Session, *, limit: int | None = None) -> list[SignedCheckpoint]:
    """The stored checkpoints, oldest first (the newest ``limit`` when given)."""
    if limit is None:
        return list(_stored_checkpoints(session))
    newest = session.scalars(
        select(AuditCheckpoint)
        .order_by(AuditCheckpoint.sequence.desc(), AuditCheckpoint.id.desc())
        .limit(limit)
    ).all()
    return [_signed(row) for row in reversed(newest)]
