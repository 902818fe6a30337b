"""The audit log in the database: appending, verifying, tamper detection (AUD-1)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lfr import audit
from lfr.audit import AuditEntry, record, request_id_var, verify
from lfr.audit.checkpoint import load_signing_key, public_key_text
from lfr.audit.verify import chain_entry
from lfr.db.session import SessionFactory, make_session_factory, transaction
from lfr.domain.people import SYSTEM_ACTOR, Actor, Rank, Role
from lfr.settings import Settings
from tests.db_fixtures import keyed_engine, remove_append_only_guard

pytestmark = pytest.mark.db

OFFICER = Actor(
    user_id="u-1",
    name="Insp. Example",
    rank=Rank.INSPECTOR,
    roles=frozenset({Role.SILVER, Role.BRONZE}),
)


def _append(factory: SessionFactory, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        with transaction(factory) as session:
            record(
                session,
                actor=OFFICER,
                action="thing.change",
                object_type="thing",
                object_id=number,
                summary=f"thing {number}",
                before={"n": number},
                after={"n": number + 1, "note": "é ✓"},
                reason="because",
            )


def _raw(factory: SessionFactory, sql: str, **params: object) -> None:
    with transaction(factory) as session:
        session.execute(text(sql), params)


def test_entries_copy_actor_as_text_and_chain_from_genesis(session_factory: SessionFactory) -> None:
    """AUD-1: who (name, rank, roles as text), what, why, before/after, request id."""
    token = request_id_var.set("req-42")
    try:
        _append(session_factory, 2)
    finally:
        request_id_var.reset(token)
    with transaction(session_factory) as session:
        first, second = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence))
        report = verify(session)
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert (first.actor_name, first.actor_rank, first.actor_roles) == (
        "Insp. Example",
        "INSPECTOR",
        "bronze,silver",
    )
    assert first.after == '{"n":1,"note":"é ✓"}'
    assert first.request_id == "req-42"
    assert first.time.tzinfo is not None
    assert report.ok, report.problems
    assert (report.entries_checked, report.last_sequence) == (2, 2)


def test_failed_transaction_leaves_no_audit_entry(session_factory: SessionFactory) -> None:
    """AUD-1: the log never records what did not happen."""
    _append(session_factory, 1)
    with pytest.raises(RuntimeError, match="boom"):
        _record_then_fail(session_factory)
    _append(session_factory, 1, start=1)
    with transaction(session_factory) as session:
        sequences = session.scalars(select(AuditEntry.sequence).order_by(AuditEntry.sequence))
        assert list(sequences) == [1, 2]
        assert verify(session).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET summary = 'quietly changed' WHERE sequence = 1",
        "DELETE FROM audit_entry WHERE sequence = 1",
        "DELETE FROM audit_checkpoint",
    ],
)
def test_the_database_refuses_to_change_or_delete_entries(
    session_factory: SessionFactory, statement: str
) -> None:
    """AUD-1: the audit tables are append-only in the database itself."""
    _append(session_factory, 1)
    with transaction(session_factory) as session:
        audit.create_checkpoint(session, load_signing_key(Settings().audit_signing_key_bytes()))
    with pytest.raises(DBAPIError, match="append-only"):
        _raw(session_factory, statement)
    with transaction(session_factory) as session:
        assert verify(session).ok


def _record_then_fail(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        record(session, actor=SYSTEM_ACTOR, action="x", object_type="t", object_id=1, summary="s")
        raise RuntimeError("boom")


def test_bytes_are_refused_so_no_biometric_reaches_the_log(
    session_factory: SessionFactory,
) -> None:
    """DP-2: images and templates never enter the audit log."""
    with pytest.raises(TypeError, match="bytes"), transaction(session_factory) as session:
        record(
            session,
            actor=OFFICER,
            action="x",
            object_type="t",
            object_id=1,
            summary="s",
            after={"image": b"\xff\xd8"},
        )


FAKE_HASH = "f" * 64

TAMPERS: dict[str, tuple[list[str], int, str]] = {
    "edited summary": (
        ["UPDATE audit_entry SET summary = 'forged' WHERE sequence = 3"],
        3,
        "content altered",
    ),
    "edited reason": (
        ["UPDATE audit_entry SET reason = NULL WHERE sequence = 2"],
        2,
        "content altered",
    ),
    "deleted middle": (["DELETE FROM audit_entry WHERE sequence = 3"], 4, "sequence gap"),
    "deleted last": (["DELETE FROM audit_entry WHERE sequence = 5"], 5, "head mismatch"),
    "reordered": (
        [
            "UPDATE audit_entry SET sequence = 100 WHERE sequence = 2",
            "UPDATE audit_entry SET sequence = 2 WHERE sequence = 3",
            "UPDATE audit_entry SET sequence = 3 WHERE sequence = 100",
        ],
        2,
        "content altered",
    ),
    "inserted": (
        [
            "UPDATE audit_entry SET sequence = sequence + 100 WHERE sequence >= 3",
            "UPDATE audit_entry SET sequence = sequence - 99 WHERE sequence >= 103",
            "INSERT INTO audit_entry SELECT 3, time, actor_id, actor_name, actor_rank, "
            "actor_roles, action, object_type, object_id, 'inserted', before, after, "
            f"reason, request_id, hash, '{FAKE_HASH}', mac FROM audit_entry WHERE sequence = 2",
        ],
        3,
        "content altered",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_verify_says_where_the_log_was_tampered(
    session_factory: SessionFactory, migrated_url: str, case: str
) -> None:
    """AUD-1: edited, deleted, inserted or reordered entries are found and located."""
    statements, sequence, kind = TAMPERS[case]
    _append(session_factory, 5)
    remove_append_only_guard(migrated_url)
    for statement in statements:
        _raw(session_factory, statement)
    with transaction(session_factory) as session:
        report = verify(session)
    assert not report.ok
    assert (sequence, kind) in {(p.sequence, p.kind) for p in report.problems}, report.problems


def test_checkpoint_detects_rewritten_history(
    session_factory: SessionFactory, migrated_url: str
) -> None:
    """AUD-1: a whole recomputed chain still contradicts a checkpoint signed earlier."""
    key = load_signing_key(Settings().audit_signing_key_bytes())
    _append(session_factory, 3)
    with transaction(session_factory) as session:
        checkpoint = audit.create_checkpoint(session, key)
    assert (checkpoint.sequence, checkpoint.head_hash) == (3, _hash_at(session_factory, 3))
    remove_append_only_guard(migrated_url)
    _rewrite_chain_from(session_factory, 2)
    with transaction(session_factory) as session:
        chain_only = audit.chain.verify_chain(
            chain_entry(e)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.sequence))
        )
        report = verify(session, checkpoints=(checkpoint,), trusted_public_key=public_key_text(key))
    assert chain_only.ok  # the forger recomputed every hash...
    assert (3, "checkpoint mismatch") in {(p.sequence, p.kind) for p in report.problems}


def _hash_at(factory: SessionFactory, sequence: int) -> str:
    with transaction(factory) as session:
        entry = session.get(AuditEntry, sequence)
        assert entry is not None
        return entry.hash


def _rewrite_chain_from(factory: SessionFactory, sequence: int) -> None:
    """What an attacker with database access and the (public) algorithm can do."""
    with transaction(factory) as session:
        entries = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.sequence >= sequence - 1)
                .order_by(AuditEntry.sequence)
            )
        )
        previous = entries[0].hash
        for entry in entries[1:]:
            entry.summary, entry.prev_hash = "rewritten", previous
            entry.hash = audit.chain.entry_hash(entry.hashed_fields())
            previous = entry.hash
        head = session.get(audit.AuditHead, 1)
        assert head is not None
        head.hash = previous


def test_concurrent_writers_get_consecutive_sequences(migrated_url: str) -> None:
    """AUD-1: many writers at once still produce one unbroken chain (row lock / write lock)."""
    engine = keyed_engine(migrated_url, pool_size=8)
    factory = make_session_factory(engine)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            _append(factory, 5, start=number * 10)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with transaction(factory) as session:
            report = verify(session)
        assert report.ok, report.problems
        assert report.last_sequence == 30
    finally:
        engine.dispose()


def _one_byte_changed(value: object) -> object:
    """The stored value with one character (or one microsecond, or one number) changed."""
    if value is None:
        return "x"
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, int):
        return value + 1000
    text_value = str(value)
    middle = len(text_value) // 2
    replacement = "0" if text_value[middle] != "0" else "1"
    return text_value[:middle] + replacement + text_value[middle + 1 :]


@pytest.mark.parametrize("column", [column.key for column in AuditEntry.__table__.columns])
def test_changing_any_stored_column_of_an_entry_is_detected(
    session_factory: SessionFactory, migrated_url: str, column: str
) -> None:
    """AUD-1: every stored column is covered by the chain (nothing is left unhashed)."""
    _append(session_factory, 4)
    remove_append_only_guard(migrated_url)
    with transaction(session_factory) as session:
        entry = session.get(AuditEntry, 2)
        assert entry is not None
        setattr(entry, column, _one_byte_changed(getattr(entry, column)))
    with transaction(session_factory) as session:
        report = verify(session)
    assert not report.ok
    assert {2, 1002} & {problem.sequence for problem in report.problems}, report.problems
