"""One road for configuration (DP-2, AUD-1): a system built by `lfr.system.build(settings)`
seals biometric (and secret) columns with the key of those settings, not with whatever the
process's environment says; two systems built with different keys in one process each seal
with their own."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import LargeBinary, select, type_coerce

from lfr.audit import verify
from lfr.crypto import BiometricCipher, DecryptionError
from lfr.db.people import User
from lfr.db.session import reading, transaction
from lfr.domain.people import Rank, Role
from lfr.services import people
from lfr.settings import Settings, get_settings
from lfr.system import System, build
from tests.db_fixtures import PERSONA_PASSWORD

pytestmark = pytest.mark.db

K1, K2, ENVIRONMENT_KEY = os.urandom(32), os.urandom(32), os.urandom(32)
PURPOSE = "user_account.totp_secret"


def encoded(key: bytes) -> SecretStr:
    return SecretStr(base64.b64encode(key).decode())


@pytest.fixture(autouse=True)
def _the_environment_names_a_third_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the process's own settings would say: a key neither system was given."""
    monkeypatch.setenv("LFR_BIOMETRIC_KEY", encoded(ENVIRONMENT_KEY).get_secret_value())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def system_with(key: bytes, url: str, folder: Path) -> System:
    """The system as `lfr serve` builds it, on `url`, with `key` as its biometric key."""
    settings = Settings(
        environment="test", data_dir=folder, database_url=url, biometric_key=encoded(key)
    )
    return build(settings)


def store_secret(system: System, username: str, secret: bytes) -> str:
    """An account created through the service, with a second-factor secret (sealed)."""
    with transaction(system.context.db) as session:
        user = people.create_user(
            session,
            actor=people.console_actor(),
            username=username,
            display_name=username.title(),
            rank=Rank.STAFF,
            password=PERSONA_PASSWORD,
            roles=[Role.OPERATOR],
        )
        user.totp_secret = secret
        return user.id


def stored_bytes(system: System, user_id: str) -> bytes:
    """The column as the database holds it (the type that seals it bypassed)."""
    raw = type_coerce(User.totp_secret, LargeBinary)
    with reading(system.context.db) as session:
        value = session.scalar(select(raw).where(User.id == user_id))
    assert value is not None
    return bytes(value)


def test_each_system_seals_with_the_key_it_was_built_with(
    migrated_url: str, tmp_path: Path
) -> None:
    first = system_with(K1, migrated_url, tmp_path / "first")
    second = system_with(K2, migrated_url, tmp_path / "second")
    ada = store_secret(first, "ada", b"ada's second factor")
    bob = store_secret(second, "bob", b"bob's second factor")

    sealed_ada, sealed_bob = stored_bytes(first, ada), stored_bytes(second, bob)
    assert BiometricCipher(K1).open(sealed_ada, PURPOSE) == b"ada's second factor"
    assert BiometricCipher(K2).open(sealed_bob, PURPOSE) == b"bob's second factor"
    for wrong in (K2, ENVIRONMENT_KEY):
        with pytest.raises(DecryptionError):
            BiometricCipher(wrong).open(sealed_ada, PURPOSE)
    with pytest.raises(DecryptionError):
        BiometricCipher(K1).open(sealed_bob, PURPOSE)

    # Each system reads back what it sealed, and only that.
    with reading(first.context.db) as session:
        assert session.scalar(select(User.totp_secret).where(User.id == ada)) == (
            b"ada's second factor"
        )
    with pytest.raises(DecryptionError), reading(second.context.db) as session:
        session.scalar(select(User.totp_secret).where(User.id == ada))
    # Both wrote audit entries; the chain holds under the keys they were built with.
    with reading(first.context.db) as session:
        assert verify(session).ok
