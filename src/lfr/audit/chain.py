"""The audit chain's format and its verification, as pure functions (AUD-1).

Each entry's hash is SHA-256 over the canonical JSON of its fields, including the previous
entry's hash, so changing, removing, inserting or reordering any entry breaks the chain at
that point. The format is deliberately plain so an outsider can recompute it with any
language's JSON and SHA-256 (see docs/governance-core.md):

    canonical_json = json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False).encode("utf-8")
    hash = sha256(canonical_json).hexdigest()

A hash chain alone cannot stop someone who rewrites the whole tail and recomputes it. Two
things stop them: each entry also carries a seal, ``mac = HMAC-SHA256(chain_key, hash)``,
with a key kept off the database (so recomputed hashes have no valid seal), and signed
checkpoints (``lfr.audit.checkpoint``) published outside anchor the chain so that a rewrite
is detected against a checkpoint taken beforehand even by someone without any key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lfr.canonical import canonical_json, format_time

__all__ = ["GENESIS_HASH", "HASHED_FIELDS", "canonical_json", "entry_hash", "format_time"]

GENESIS_HASH = "0" * 64
"""The previous hash of the first entry."""

HASHED_FIELDS = (
    "sequence",
    "time",
    "actor_id",
    "actor_name",
    "actor_rank",
    "actor_roles",
    "action",
    "object_type",
    "object_id",
    "summary",
    "before",
    "after",
    "reason",
    "request_id",
    "prev_hash",
)
"""The fields an entry's hash covers, in no particular order (the JSON keys are sorted)."""


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of exactly the ``HASHED_FIELDS``."""
    missing = set(HASHED_FIELDS) - set(fields)
    if missing:
        raise ValueError(f"audit entry lacks fields: {', '.join(sorted(missing))}")
    payload = {name: fields[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def entry_mac(key: bytes, hash_hex: str) -> str:
    """The entry's seal: HMAC-SHA256 of its hash under the chain key (hex). The hash covers
    the previous hash, so one seal vouches for every entry up to it."""
    return hmac.new(key, hash_hex.encode("ascii"), hashlib.sha256).hexdigest()


def mac_problems(key: bytes, entries: Iterable[tuple[int, str, str | None]]) -> list[Problem]:
    """Check each ``(sequence, hash, mac)``: a seal that does not match, or a missing seal
    after the first sealed entry (entries older than the keyed chain carry none)."""
    problems: list[Problem] = []
    sealed_seen = False
    for sequence, hash_hex, mac in entries:
        if mac is None:
            if sealed_seen:
                problems.append(Problem(sequence, "seal missing", "entry has no chain seal"))
            continue
        sealed_seen = True
        if not hmac.compare_digest(mac, entry_mac(key, hash_hex)):
            problems.append(
                Problem(
                    sequence,
                    "seal mismatch",
                    "the chain key does not vouch for this hash: recomputed or forged",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """An entry as stored: the hashed fields (time already formatted) and the stored hash."""

    fields: Mapping[str, Any]
    hash: str

    @property
    def sequence(self) -> Any:
        return self.fields.get("sequence")

    @property
    def prev_hash(self) -> Any:
        return self.fields.get("prev_hash")


@dataclass(frozen=True, slots=True)
class Problem:
    """One place where the log is not what was written."""

    sequence: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.sequence}" if self.sequence is not None else "log"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The outcome of verifying the log; ``ok`` only when no problem was found."""

    entries_checked: int
    last_sequence: int
    head_hash: str
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    entries: Iterable[ChainEntry], *, start_sequence: int = 1, start_hash: str = GENESIS_HASH
) -> VerificationReport:
    """Check every entry's hash, its link to the previous one and the numbering.

    ``entries`` must come in stored sequence order. Verification may start mid-log (from a
    checkpoint) by giving the sequence and hash the first entry must follow.

    Problems found (each names the entry's sequence):
    - ``content altered``: the stored fields no longer produce the stored hash (edited);
    - ``broken link``: the entry does not follow the previous one (deleted or inserted
      entries before it, or reordering);
    - ``sequence gap`` / ``sequence out of order``: numbering is not consecutive.
    """
    problems: list[Problem] = []
    expected_sequence, previous_hash, count = start_sequence, start_hash, 0
    for entry in entries:
        count += 1
        problems.extend(_entry_problems(entry, expected_sequence, previous_hash))
        sequence = entry.sequence if isinstance(entry.sequence, int) else expected_sequence
        expected_sequence, previous_hash = sequence + 1, entry.hash
    return VerificationReport(
        entries_checked=count,
        last_sequence=expected_sequence - 1,
        head_hash=previous_hash,
        problems=tuple(problems),
    )


def _entry_problems(entry: ChainEntry, expected_sequence: int, previous_hash: str) -> list[Problem]:
    problems: list[Problem] = []
    sequence = entry.sequence if isinstance(entry.sequence, int) else None
    if sequence is None:
        problems.append(Problem(None, "bad sequence", f"sequence is {entry.sequence!r}"))
    elif sequence > expected_sequence:
        missing = f"{expected_sequence}" + (
            f"..{sequence - 1}" if sequence - 1 > expected_sequence else ""
        )
        problems.append(Problem(sequence, "sequence gap", f"entries {missing} are missing"))
    elif sequence < expected_sequence:
        problems.append(
            Problem(sequence, "sequence out of order", f"expected {expected_sequence} or later")
        )
    try:
        recomputed = entry_hash(entry.fields)
    except (TypeError, ValueError) as error:
        recomputed = f"unhashable: {error}"
    if recomputed != entry.hash:
        problems.append(
            Problem(sequence, "content altered", "stored fields do not match the stored hash")
        )
    if entry.prev_hash != previous_hash:
        problems.append(
            Problem(
                sequence,
                "broken link",
                f"previous hash {str(entry.prev_hash)[:12]}… does not match the entry before "
                f"it ({previous_hash[:12]}…): entries deleted, inserted or reordered",
            )
        )
    return problems
