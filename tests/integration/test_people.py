"""Accounts, roles and training in the database (SPEC "People and roles", TRN-1, AUD-1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from lfr.audit import AuditEntry, verify
from lfr.db.base import utcnow
from lfr.db.people import TrainingRecord, User
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import people
from tests.db_fixtures import PERSONA_PASSWORD, Personas

pytestmark = pytest.mark.db


def _audit_count(factory: SessionFactory) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def _user(factory: SessionFactory, actor: Actor) -> User:
    with transaction(factory) as session:
        return people.get_user(session, actor.user_id)


def test_personas_hold_their_roles_ranks_and_training(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """TRN-1: each persona is trained for its roles now, and not for other roles."""
    now = utcnow()
    with transaction(session_factory) as session:
        assert people.is_trained(session, personas.silver.user_id, Role.SILVER, now)
        assert not people.is_trained(session, personas.silver.user_id, Role.GOLD, now)
        assert not people.is_trained(
            session, personas.silver.user_id, Role.SILVER, now + timedelta(days=400)
        )
        assert verify(session).ok
    assert personas.inspector.rank == Rank.INSPECTOR
    assert personas.authorising_officer.has(Role.AUTHORISING_OFFICER)
    assert personas.outsider.roles == frozenset()


def test_set_roles_is_audited_with_before_after_and_reason(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """No role is granted by the software to itself; an administrator's change is audited."""
    with transaction(session_factory) as session:
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=personas.outsider.user_id,
            roles={Role.ENGINEER},
            reason="joined the LFR team",
        )
    with transaction(session_factory) as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
        user = people.get_user(session, personas.outsider.user_id)
    assert user.roles == {Role.ENGINEER}
    assert entry is not None
    assert (entry.action, entry.actor_name, entry.reason) == (
        "user.set_roles",
        "Administrator",
        "joined the LFR team",
    )
    assert '"roles":[]' in (entry.before or "")
    assert '"roles":["engineer"]' in (entry.after or "")


REFUSED_ROLE_CHANGES = [
    ("operator", "outsider", "people.administrator"),  # not an administrator
    ("administrator", "administrator", "people.no-self-grant"),  # own roles
]


@pytest.mark.parametrize(("who", "whom", "rule"), REFUSED_ROLE_CHANGES)
def test_role_changes_refused_name_the_rule_and_change_nothing(
    session_factory: SessionFactory, personas: Personas, who: str, whom: str, rule: str
) -> None:
    actor, target = getattr(personas, who), getattr(personas, whom)
    before = _audit_count(session_factory)
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        people.set_roles(
            session, actor=actor, user_id=target.user_id, roles={Role.GOLD}, reason="promotion"
        )
    assert refused.value.rule == rule
    assert _user(session_factory, target).roles == target.roles
    assert _audit_count(session_factory) == before


def test_training_for_oneself_or_backwards_is_refused(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """TRN-1: training is recorded by someone else, and expires after it was completed."""
    now = utcnow()
    with pytest.raises(Refusal, match="own"), transaction(session_factory) as session:
        people.record_training(
            session,
            actor=personas.administrator,
            user_id=personas.administrator.user_id,
            role=Role.GOLD,
            completed_at=now,
            expires_at=now + timedelta(days=1),
        )
    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        people.record_training(
            session,
            actor=personas.administrator,
            user_id=personas.outsider.user_id,
            role=Role.GOLD,
            completed_at=now,
            expires_at=now - timedelta(days=1),
        )
    assert (refused.value.rule, refused.value.field) == ("TRN-1", "expires_at")


def test_failed_transaction_leaves_no_half_written_account(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """A change that fails part-way leaves neither the account nor its audit entry."""
    before = _audit_count(session_factory)
    with pytest.raises(Refusal, match="TRN-1"):
        _create_trained_user_with_bad_expiry(session_factory, personas.administrator)
    with transaction(session_factory) as session:
        assert people.find_user(session, "half") is None
        orphans = session.scalar(
            select(func.count())
            .select_from(TrainingRecord)
            .where(TrainingRecord.recorded_by == "nobody")
        )
        assert orphans == 0
        assert verify(session).ok
    assert _audit_count(session_factory) == before


def _create_trained_user_with_bad_expiry(factory: SessionFactory, admin: Actor) -> None:
    with transaction(factory) as session:
        user = people.create_user(
            session,
            actor=admin,
            username="half",
            display_name="Half",
            rank=Rank.CONSTABLE,
            password=PERSONA_PASSWORD,
            roles={Role.OPERATOR},
        )
        now = utcnow()
        people.record_training(
            session,
            actor=admin,
            user_id=user.id,
            role=Role.OPERATOR,
            completed_at=now,
            expires_at=now,
        )


def test_duplicate_username_and_short_password_are_refused_by_field(
    session_factory: SessionFactory, personas: Personas
) -> None:
    cases = [("operator", PERSONA_PASSWORD, "username"), ("new-one", "short", "password")]
    for username, password, field in cases:
        with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
            people.create_user(
                session,
                actor=personas.administrator,
                username=username,
                display_name="X",
                rank=Rank.STAFF,
                password=password,
            )
        assert refused.value.field == field


def test_authenticate_counts_failures_and_locks_the_account(
    session_factory: SessionFactory, personas: Personas
) -> None:
    now, lock = utcnow(), people.AccountLock(3, timedelta(minutes=15))
    for _ in range(lock.after_failures):
        with transaction(session_factory) as session:
            wrong = people.authenticate(session, "operator", "wrong guess", now, lock=lock)
            assert wrong.user is None
    with transaction(session_factory) as session:
        locked = people.authenticate(session, "operator", PERSONA_PASSWORD, now, lock=lock)
        later = people.authenticate(
            session,
            "operator",
            PERSONA_PASSWORD,
            now + lock.lasts + timedelta(seconds=1),
            lock=lock,
        )
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.locked")).one()
    assert locked.reason == "account locked"
    assert later.user is not None
    assert later.user.username == "operator"
    assert entry.actor_id == "system"


def test_totp_secret_is_stored_encrypted(
    session_factory: SessionFactory, personas: Personas, migrated_url: str
) -> None:
    """DP-2: an encrypted column's raw bytes never contain the plaintext."""
    secret = b"JBSWY3DPEHPK3PXP-totp-plaintext-marker"
    with transaction(session_factory) as session:
        people.get_user(session, personas.operator.user_id).totp_secret = secret
    with transaction(session_factory) as session:
        assert people.get_user(session, personas.operator.user_id).totp_secret == secret
        raw = session.execute(
            text("SELECT totp_secret FROM user_account WHERE id = :id"),
            {"id": personas.operator.user_id},
        ).scalar_one()
    assert secret not in bytes(raw)
    if migrated_url.startswith("sqlite:///"):
        session_factory.kw["bind"].dispose()  # checkpoint the WAL into the file
        path = migrated_url.removeprefix("sqlite:///")
        on_disk = _file_bytes(path) + _file_bytes(f"{path}-wal")
        assert secret not in on_disk
        assert b"operator" in on_disk  # the file is readable: the search itself works


def _file_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        return b""


def test_enrolling_a_second_factor_is_audited_and_only_the_holder_or_an_administrator_may(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUD-1: the TOTP secret is set with an audit entry that never holds the secret."""
    secret = b"JBSWY3DPEHPK3PXP"
    with transaction(session_factory) as session:
        silver = people.get_user(session, personas.silver.user_id)
        with pytest.raises(Refusal, match="administrator"):
            people.enrol_second_factor(session, personas.operator, silver, secret)
    assert _user(session_factory, personas.silver).totp_secret is None
    with transaction(session_factory) as session:
        silver = people.get_user(session, personas.silver.user_id)
        people.enrol_second_factor(session, personas.silver, silver, secret)
    with transaction(session_factory) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.second_factor_enrolled")
        ).one()
        assert people.get_user(session, personas.silver.user_id).totp_secret == secret
        assert entry.actor_id == personas.silver.user_id
        assert entry.object_id == personas.silver.user_id
        assert secret.decode() not in str(entry.summary) + str(entry.after)
