"""Rotating the biometric key (DP-2): every encrypted value re-sealed under the new key,
audited, all or nothing; values from before key ids still open."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, LargeBinary, select, type_coerce, update
from typer.testing import CliRunner

from lfr.audit import AuditEntry, verify
from lfr.cli import app
from lfr.crypto import NONCE_BYTES, BiometricCipher, DecryptionError, bind_cipher, key_id
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.services.biometric_keys import encrypted_columns, rekey
from lfr.services.people import console_actor
from lfr.settings import get_settings
from tests.db_fixtures import Personas

pytestmark = pytest.mark.db

OLD, NEW = os.urandom(32), os.urandom(32)
PURPOSE = "user_account.totp_secret"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # the command read the keys this test set


def legacy_seal(key: bytes, plaintext: bytes) -> bytes:
    """A value as sealed before key ids: version 1, nonce, ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, PURPOSE.encode())


def stored(factory: SessionFactory) -> dict[str, bytes]:
    """The bytes the database holds for each user's second-factor secret."""
    raw = type_coerce(User.totp_secret, LargeBinary)
    with transaction(factory) as session:
        rows = session.execute(select(User.username, raw).where(User.totp_secret.is_not(None)))
        return {str(username): bytes(sealed) for username, sealed in rows}


def secrets(factory: SessionFactory) -> dict[str, bytes | None]:
    with transaction(factory) as session:
        return {u.username: u.totp_secret for u in session.scalars(select(User))}


@pytest.fixture
def sealed_under_old_key(
    session_factory: SessionFactory, engine: Engine, personas: Personas
) -> SessionFactory:
    """Two secrets under the old key: one in today's format, one from before key ids."""
    bind_cipher(engine, BiometricCipher(OLD))
    with transaction(session_factory) as session:
        gold = session.get(User, personas.gold.user_id)
        assert gold is not None
        gold.totp_secret = b"gold-secret"
        session.execute(
            update(User)
            .where(User.id == personas.silver.user_id)
            .values(totp_secret=type_coerce(legacy_seal(OLD, b"silver-secret"), LargeBinary))
        )
    return session_factory


def test_rekey_reseals_every_value_under_the_new_key_and_audits_it(
    sealed_under_old_key: SessionFactory, engine: Engine
) -> None:
    factory = sealed_under_old_key
    before = secrets(factory)
    bind_cipher(engine, BiometricCipher(NEW, previous=[OLD]))
    assert secrets(factory) == before  # both formats open with the old key kept
    with transaction(factory) as session:
        report = rekey(session, console_actor())
    assert report.resealed[PURPOSE] == 2
    assert report.key_id == key_id(NEW).hex()
    assert all(s[:1] == b"\x02" and s[1:9] == key_id(NEW) for s in stored(factory).values())
    bind_cipher(engine, BiometricCipher(NEW))  # the old key is no longer needed
    assert secrets(factory) == before
    assert {"gold-secret", "silver-secret"} <= {
        v.decode() for v in before.values() if v is not None
    }
    with transaction(factory) as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "biometric.rekey"))
        assert entry.object_id == key_id(NEW).hex()
        assert entry.after is not None
        assert "gold-secret" not in entry.after  # counts and the key id only
        assert "silver-secret" not in entry.after
        assert verify(session).ok
        assert rekey(session, console_actor()).total == 0  # nothing left to re-seal


def test_without_the_old_key_nothing_is_resealed_and_nothing_audited(
    sealed_under_old_key: SessionFactory, engine: Engine
) -> None:
    factory = sealed_under_old_key
    before = stored(factory)
    bind_cipher(engine, BiometricCipher(NEW))
    with pytest.raises(DecryptionError, match=PURPOSE), transaction(factory) as session:
        rekey(session, console_actor())
    assert stored(factory) == before
    with transaction(factory) as session:
        rekeys = session.scalars(select(AuditEntry).where(AuditEntry.action == "biometric.rekey"))
        assert list(rekeys) == []


def test_every_encrypted_column_is_covered() -> None:
    assert {c.name for c in encrypted_columns()} == {
        "alert_probe.jpeg",
        "blue_list_entry.image",
        "blue_list_entry.template",
        "user_account.totp_secret",
        "watchlist_image.image",
        "watchlist_image.template",
        "web_second_factor_steps.pending_secret",
    }


def test_lfr_db_rekey_uses_the_configured_keys(
    sealed_under_old_key: SessionFactory, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)
    monkeypatch.setenv("LFR_BIOMETRIC_KEY", base64.b64encode(NEW).decode())
    runner = CliRunner()
    for previous, exit_code in (("[]", 1), (f'["{base64.b64encode(OLD).decode()}"]', 0)):
        monkeypatch.setenv("LFR_BIOMETRIC_PREVIOUS_KEYS", previous)
        get_settings.cache_clear()
        result = runner.invoke(app, ["db", "rekey"])
        assert result.exit_code == exit_code, result.output
    assert "user_account.totp_secret: 2 re-sealed" in result.output
    assert key_id(NEW).hex() in result.output
