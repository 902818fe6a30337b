"""The audit chain's format and verification as pure functions (AUD-1)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lfr.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainEntry,
    canonical_json,
    entry_hash,
    verify_chain,
)


def _chain(length: int) -> list[ChainEntry]:
    entries, previous = [], GENESIS_HASH
    for sequence in range(1, length + 1):
        fields: dict[str, Any] = {
            "sequence": sequence,
            "time": f"2026-01-23T10:00:0{sequence % 10}.000000+00:00",
            "actor_id": f"user-{sequence}",
            "actor_name": "Supt. Example",
            "actor_rank": "SUPERINTENDENT",
            "actor_roles": "authorising_officer",
            "action": "application.decide",
            "object_type": "application",
            "object_id": str(100 + sequence),
            "summary": f"decision {sequence}",
            "before": '{"state":"submitted"}',
            "after": '{"state":"approved"}',
            "reason": "necessary and proportionate",
            "request_id": f"req-{sequence}",
            "prev_hash": previous,
        }
        previous = entry_hash(fields)
        entries.append(ChainEntry(fields=fields, hash=previous))
    return entries


def _flip_byte(value: Any, position: int, delta: int) -> Any:
    """Change one byte of the value's stored text (ints are changed by their digits)."""
    text = str(value) if value is not None else ""
    data = bytearray(text.encode("utf-8")) or bytearray(b"x")
    index = position % len(data)
    data[index] = (data[index] + delta) % 256
    tampered = bytes(data).decode("utf-8", errors="replace")
    if isinstance(value, int):
        digits = "".join(ch for ch in tampered if ch.isdigit())
        return int(digits) if digits and int(digits) != value else value + delta
    return tampered if tampered != text else text + "x"


def test_an_untouched_chain_verifies() -> None:
    report = verify_chain(_chain(5))
    assert report.ok
    assert (report.entries_checked, report.last_sequence) == (5, 5)
    assert report.head_hash == _chain(5)[-1].hash


def test_canonical_json_is_sorted_compact_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, 5),
    field=st.sampled_from([*HASHED_FIELDS, "hash"]),
    position=st.integers(0, 200),
    delta=st.integers(1, 255),
)
def test_any_single_byte_tamper_of_any_field_of_any_entry_is_detected(
    index: int, field: str, position: int, delta: int
) -> None:
    """AUD-1: changing one byte anywhere is found, at the tampered entry."""
    entries = _chain(6)
    original = entries[index]
    if field == "hash":
        tampered = ChainEntry(original.fields, _flip_byte(original.hash, position, delta))
    else:
        fields = dict(original.fields)
        fields[field] = _flip_byte(fields[field], position, delta)
        tampered = ChainEntry(fields, original.hash)
    entries[index] = tampered
    report = verify_chain(entries)
    assert not report.ok
    located = {problem.sequence for problem in report.problems}
    assert located & {original.sequence, tampered.sequence}, report.problems


def test_a_removed_entry_is_reported_at_the_next_one() -> None:
    entries = _chain(5)
    del entries[2]
    kinds = {(p.sequence, p.kind) for p in verify_chain(entries).problems}
    assert kinds == {(4, "sequence gap"), (4, "broken link")}


def test_swapped_entries_are_reported_as_out_of_order() -> None:
    entries = _chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    kinds = {(p.sequence, p.kind) for p in verify_chain(entries).problems}
    assert (3, "sequence gap") in kinds
    assert (2, "sequence out of order") in kinds


def test_verification_can_start_from_a_checkpoint() -> None:
    entries = _chain(6)
    report = verify_chain(entries[3:], start_sequence=4, start_hash=entries[2].hash)
    assert report.ok
    assert report.entries_checked == 3
