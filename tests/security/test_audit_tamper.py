"""The audit log against someone who can write the database (AUD-1): every way of quietly
rewriting it — edit, delete, truncate, recompute, drop checkpoints — is detected against a
copy of the public checkpoint feed taken before.

The attacker here holds the database owner's rights: the append-only and head guards are
dropped first (``remove_append_only_guard``), as such a person could. They know the chain's
public algorithm but not the chain key, which never reaches the database.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lfr import audit
from lfr.audit import AuditEntry, AuditHead, record, verify
from lfr.audit.chain import entry_hash
from lfr.audit.checkpoint import SignedCheckpoint, read_published
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import Actor, Rank, Role
from tests.db_fixtures import remove_append_only_guard

pytestmark = pytest.mark.db

OFFICER = Actor(
    user_id="u-9", name="Sgt. Example", rank=Rank.SERGEANT, roles=frozenset({Role.SILVER})
)
ENTRIES = 8


def _append(factory: SessionFactory, count: int) -> None:
    for number in range(count):
        with transaction(factory) as session:
            record(
                session,
                actor=OFFICER,
                action="deployment.note",
                object_type="deployment",
                object_id=number,
                summary=f"note {number}",
                reason="recorded for the review",
            )


def _raw(factory: SessionFactory, *statements: str) -> None:
    with transaction(factory) as session:
        for statement in statements:
            session.execute(text(statement))


def _published_feed(client: TestClient) -> str:
    """What an outsider keeps: a copy of the public feed (signed checkpoints)."""
    response = client.get("/api/public/audit/checkpoints")
    assert response.status_code == 200
    return response.text


def _recompute_from(session: Session, sequence: int, *, seal_key: bytes | None = None) -> None:
    """Rewrite entries from ``sequence`` on and recompute every hash and the head, as an
    attacker with the public algorithm can; ``seal_key`` is their guess at the chain key."""
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.sequence >= sequence - 1)
            .order_by(AuditEntry.sequence)
        )
    )
    previous = entries[0].hash if sequence > 1 else audit.GENESIS_HASH
    for entry in entries if sequence == 1 else entries[1:]:
        entry.prev_hash = previous
        entry.hash = entry_hash(entry.hashed_fields())
        entry.mac = (
            hmac.new(seal_key, entry.hash.encode(), hashlib.sha256).hexdigest()
            if seal_key
            else None
        )
        previous = entry.hash
    head = session.get(AuditHead, 1)
    assert head is not None
    head.sequence, head.hash = entries[-1].sequence, previous


def _edit(factory: SessionFactory) -> None:
    _raw(factory, "UPDATE audit_entry SET reason = 'nothing to see' WHERE sequence = 3")


def _delete(factory: SessionFactory) -> None:
    _raw(factory, "DELETE FROM audit_entry WHERE sequence = 4")


def _truncate(factory: SessionFactory) -> None:
    """Cut the last entries and move the head back onto what remains."""
    _raw(
        factory,
        "DELETE FROM audit_entry WHERE sequence > 5",
        "UPDATE audit_head SET sequence = 5, "
        "hash = (SELECT hash FROM audit_entry WHERE sequence = 5)",
    )


def _recompute(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        session.execute(text("UPDATE audit_entry SET summary = 'rewritten' WHERE sequence = 2"))
        session.expire_all()
        _recompute_from(session, 2, seal_key=b"a guess at the chain key, 32 b.")


def _recompute_unsealed(factory: SessionFactory) -> None:
    """Rewrite the whole log and strip every seal, so it looks older than the keyed chain."""
    with transaction(factory) as session:
        session.execute(text("UPDATE audit_entry SET summary = 'rewritten' WHERE sequence = 2"))
        session.expire_all()
        _recompute_from(session, 1)


def _drop_checkpoints_and_recompute(factory: SessionFactory) -> None:
    _raw(factory, "DELETE FROM audit_checkpoint")
    _recompute(factory)


TAMPERS: dict[str, tuple[Callable[[SessionFactory], None], set[str]]] = {
    "edit": (_edit, {"content altered"}),
    "delete": (_delete, {"sequence gap", "broken link"}),
    "truncate": (_truncate, {"checkpoint beyond log"}),
    "recompute": (_recompute, {"checkpoint mismatch", "seal mismatch"}),
    "recompute, seals stripped": (_recompute_unsealed, {"checkpoint mismatch"}),
    "drop checkpoints": (
        _drop_checkpoints_and_recompute,
        {"checkpoint withdrawn", "checkpoint mismatch"},
    ),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampering_is_detected_against_the_published_feed(
    session_factory: SessionFactory, migrated_url: str, app_client: TestClient, case: str
) -> None:
    """AUD-1: after an outsider copied the feed, each rewrite is reported against that copy
    (and, for truncation and recomputation, by nothing else the database holds)."""
    tamper, expected = TAMPERS[case]
    _append(session_factory, ENTRIES)
    with transaction(session_factory) as session:
        audit.create_checkpoint(session)
    published, from_feed = read_published(_published_feed(app_client))
    assert from_feed
    assert published[-1].sequence == ENTRIES
    remove_append_only_guard(migrated_url)
    tamper(session_factory)
    with transaction(session_factory) as session:
        report = verify(session, published=published, trusted_public_key=published[-1].public_key)
    kinds = {problem.kind for problem in report.problems}
    assert not report.ok
    assert expected <= kinds, report.problems


def test_untouched_log_verifies_against_its_feed(
    session_factory: SessionFactory, app_client: TestClient
) -> None:
    """AUD-1: no false alarm: the feed, a signed head and the log agree."""
    _append(session_factory, 3)
    with transaction(session_factory) as session:
        audit.create_checkpoint(session)
    published, _ = read_published(_published_feed(app_client))
    head, _ = read_published(app_client.get("/api/public/audit/head").text)
    _append(session_factory, 2)
    with transaction(session_factory) as session:
        report = verify(
            session,
            published=published,
            checkpoints=head,
            trusted_public_key=published[0].public_key,
        )
    assert report.ok, report.problems
    assert head[0].sequence == 3


def test_a_signed_head_pins_entries_no_checkpoint_covers_yet(
    session_factory: SessionFactory, migrated_url: str, app_client: TestClient
) -> None:
    """AUD-1: the head served on request (CT's signed tree head) catches a truncation of
    entries written after the last stored checkpoint."""
    _append(session_factory, 6)
    head, from_feed = read_published(app_client.get("/api/public/audit/head").text)
    assert not from_feed
    remove_append_only_guard(migrated_url)
    _truncate(session_factory)
    with transaction(session_factory) as session:
        report = verify(session, checkpoints=head, trusted_public_key=head[0].public_key)
    assert (6, "checkpoint beyond log") in {(p.sequence, p.kind) for p in report.problems}


def test_a_forged_checkpoint_in_the_feed_is_refused(
    session_factory: SessionFactory, app_client: TestClient
) -> None:
    """AUD-1: a checkpoint not signed by the force's key proves nothing."""
    _append(session_factory, 2)
    head, _ = read_published(app_client.get("/api/public/audit/head").text)
    forged = SignedCheckpoint(
        sequence=head[0].sequence,
        head_hash=head[0].head_hash,
        time=head[0].time,
        public_key=head[0].public_key,
        signature=head[0].signature[:-4] + "AAA=",
    )
    with transaction(session_factory) as session:
        report = verify(session, checkpoints=(forged,), trusted_public_key=head[0].public_key)
    assert "checkpoint signature" in {problem.kind for problem in report.problems}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_head SET sequence = 3, "
        "hash = (SELECT hash FROM audit_entry WHERE sequence = 3)",
        "UPDATE audit_head SET sequence = sequence + 1",
        "DELETE FROM audit_head",
        "INSERT INTO audit_head (id, sequence, hash) VALUES (2, 0, 'x')",
    ],
)
def test_the_database_refuses_to_move_the_head_back(
    session_factory: SessionFactory, statement: str
) -> None:
    """AUD-1: the chain head is guarded like the log: only one step forward, onto an entry."""
    _append(session_factory, 5)
    with pytest.raises(DBAPIError, match="chain head"):
        _raw(session_factory, statement)
    with transaction(session_factory) as session:
        assert verify(session).ok


def test_a_recomputed_chain_fails_its_seal_without_any_checkpoint(
    session_factory: SessionFactory, migrated_url: str
) -> None:
    """AUD-1: between checkpoints, the key holder's `lfr audit verify` still sees a recomputed
    chain: the attacker cannot seal hashes without the chain key."""
    _append(session_factory, 4)
    remove_append_only_guard(migrated_url)
    _recompute(session_factory)
    with transaction(session_factory) as session:
        report = verify(session)
    assert {(p.sequence, p.kind) for p in report.problems} >= {
        (2, "seal mismatch"),
        (4, "seal mismatch"),
    }


def test_every_entry_is_sealed_with_the_chain_key(session_factory: SessionFactory) -> None:
    """AUD-1: the seal is HMAC-SHA256(chain key, hash); a wrong key fails every entry."""
    _append(session_factory, 2)
    with transaction(session_factory) as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)))
        assert all(entry.mac is not None for entry in entries)
        assert not verify(session, chain_key=b"\x01" * 32).ok
        assert verify(session).ok
