"""Exporting the log for outside verification, and verifying an export (AUD-1).

An export is JSON Lines: one object per entry holding exactly the hashed fields plus
``hash``. With an export, a checkpoint file and the force's public key, anyone can check
the log without the database or lfr (the format is in docs/governance-core.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainEntry,
    Problem,
    VerificationReport,
    canonical_json,
    verify_chain,
)
from lfr.audit.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    require_trusted_key,
    verify_signature,
)
from lfr.db.audit_log import AuditEntry


def export_lines(session: Session) -> Iterator[str]:
    """The stored log, oldest first, one canonical JSON line per entry."""
    statement = select(AuditEntry).order_by(AuditEntry.sequence).execution_options(yield_per=1000)
    for entry in session.scalars(statement):
        yield canonical_json({**entry.hashed_fields(), "hash": entry.hash})


def parse_lines(lines: Iterable[str]) -> Iterator[ChainEntry]:
    """Read an export; a malformed line raises ValueError naming its line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"line {number}: not JSON ({error.msg})") from error
        if not isinstance(body, dict) or not isinstance(body.get("hash"), str):
            raise ValueError(f"line {number}: not an audit entry (no hash)")
        yield ChainEntry(fields={name: body.get(name) for name in HASHED_FIELDS}, hash=body["hash"])


def verify_export(
    lines: Iterable[str],
    checkpoints: Iterable[SignedCheckpoint] = (),
    trusted_public_key: str | None = None,
) -> VerificationReport:
    """Verify an exported log and, with the trusted public key, checkpoints against it.
    An export holds at least the log's first entry: one with none is no export at all
    (a failed or interrupted `lfr audit export`), never a verified log."""
    checkpoints = tuple(checkpoints)
    require_trusted_key(checkpoints, trusted_public_key)
    report = verify_entries(parse_lines(lines), checkpoints, trusted_public_key)
    if report.entries_checked == 0:
        raise ValueError(
            "the file holds no audit entries: export the log with `lfr audit export FILE`"
        )
    return report


def verify_entries(
    entries: Iterable[ChainEntry],
    checkpoints: tuple[SignedCheckpoint, ...],
    trusted_public_key: str | None,
) -> VerificationReport:
    """The chain check plus each checkpoint's agreement with the chain (and signature)."""
    wanted = {checkpoint.sequence for checkpoint in checkpoints}
    hashes: dict[int, str] = {}

    def remember(stream: Iterable[ChainEntry]) -> Iterator[ChainEntry]:
        for entry in stream:
            if entry.sequence in wanted:
                hashes[entry.sequence] = entry.hash
            yield entry

    report = verify_chain(remember(entries))
    problems = list(report.problems)
    for checkpoint in checkpoints:
        problems.extend(checkpoint_problems(checkpoint, hashes, trusted_public_key))
    return replace(report, problems=tuple(problems))


def checkpoint_problems(
    checkpoint: SignedCheckpoint, hashes: dict[int, str], trusted_public_key: str | None
) -> list[Problem]:
    """A checkpoint's signature (when a key is given) and its agreement with the chain."""
    problems: list[Problem] = []
    if trusted_public_key is not None:
        try:
            verify_signature(checkpoint, trusted_public_key)
        except CheckpointError as error:
            problems.append(Problem(checkpoint.sequence, "checkpoint signature", str(error)))
    stored_hash = GENESIS_HASH if checkpoint.sequence == 0 else hashes.get(checkpoint.sequence)
    if stored_hash is None:
        problems.append(
            Problem(
                checkpoint.sequence,
                "checkpoint beyond log",
                "the log no longer reaches this checkpoint: entries deleted",
            )
        )
    elif stored_hash != checkpoint.head_hash:
        problems.append(
            Problem(
                checkpoint.sequence,
                "checkpoint mismatch",
                f"checkpoint of {checkpoint.time} says hash {checkpoint.head_hash[:12]}…, "
                f"the log has {stored_hash[:12]}…: the log was rewritten up to here",
            )
        )
    return problems
