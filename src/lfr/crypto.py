"""Encryption of biometric data at rest (DP-2).

Images and templates are sealed with AES-256-GCM under the key in ``Settings.biometric_key``.
A sealed value is ``version (1 byte) || key id (8 bytes) || nonce (12 bytes) || ciphertext
|| tag (16 bytes)``, version 2; the key id is the first 8 bytes of the key's SHA-256, so a
value names the key that opens it without revealing it. Version 1 values (no key id, from
before key rotation) open with whichever configured key fits. A fresh random nonce per
value means the same image stored twice gives different bytes. The column's purpose (e.g.
``"watchlist_image.image"``) is bound as associated data, so a ciphertext copied into
another column fails to open instead of being misread.

Rotating the key: set the new key as ``biometric_key`` and the old one in
``biometric_previous_keys`` (opening only), run ``lfr db rekey`` (every value re-sealed
under the new key, audited), then drop the old key.

Models declare ``EncryptedBytes("table.column")`` and see plaintext; the database sees only
ciphertext. The key is the one of the engine the value passes through (`bind_cipher`):
whoever opens the database binds the cipher of its settings to it (`lfr.keyring`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, Engine, LargeBinary, TypeDecorator
from sqlalchemy.orm import Session

from lfr.settings import Settings

FORMAT_VERSION = 2
LEGACY_VERSION = 1
"""Values sealed before key ids: ``version || nonce || ciphertext || tag``."""
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(ValueError):
    """A sealed value could not be opened: wrong key, wrong column, or altered bytes."""


def key_id(key: bytes) -> bytes:
    """The 8-byte id a sealed value carries for `key` (a hash prefix, not the key)."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


class BiometricCipher:
    """AES-256-GCM sealing under one current key, opening under it or any previous key;
    thread-safe (AESGCM holds no per-call state)."""

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        for candidate in (key, *previous):
            if len(candidate) != 32:
                raise ValueError(f"biometric_key: AES-256 needs 32 bytes, got {len(candidate)}")
        self.key_id = key_id(key)
        self._aead = AESGCM(key)
        self._by_id = {key_id(k): AESGCM(k) for k in (*previous, key)}

    @classmethod
    def from_settings(cls, settings: Settings) -> BiometricCipher:
        settings.require_production_secrets()
        return cls(settings.biometric_key_bytes(), settings.biometric_previous_key_bytes())

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return bytes([FORMAT_VERSION]) + self.key_id + nonce + sealed

    def sealed_with_current_key(self, sealed: bytes) -> bool:
        """Whether `sealed` is already in the current format under the current key."""
        return sealed[:1] == bytes([FORMAT_VERSION]) and sealed[1 : 1 + KEY_ID_BYTES] == self.key_id

    def open(self, sealed: bytes, purpose: str) -> bytes:
        version = sealed[0] if sealed else None
        if version == FORMAT_VERSION and len(sealed) >= 1 + KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES:
            sealed_id, rest = sealed[1 : 1 + KEY_ID_BYTES], sealed[1 + KEY_ID_BYTES :]
            aead = self._by_id.get(sealed_id)
            if aead is None:
                raise DecryptionError(
                    f"{purpose}: sealed under key id {sealed_id.hex()}, which is neither "
                    "biometric_key nor one of biometric_previous_keys"
                )
            return self._open_with(aead, rest, purpose)
        if version == LEGACY_VERSION and len(sealed) >= 1 + NONCE_BYTES + TAG_BYTES:
            for aead in self._by_id.values():
                with contextlib.suppress(DecryptionError):
                    return self._open_with(aead, sealed[1:], purpose)
            raise DecryptionError(
                f"{purpose}: authentication failed under every configured key "
                "(wrong key, wrong column or altered data)"
            )
        raise DecryptionError(f"{purpose}: not an lfr sealed value (format or length)")

    @staticmethod
    def _open_with(aead: AESGCM, nonce_and_body: bytes, purpose: str) -> bytes:
        nonce, body = nonce_and_body[:NONCE_BYTES], nonce_and_body[NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, body, purpose.encode())
        except InvalidTag as error:
            raise DecryptionError(
                f"{purpose}: authentication failed (wrong key, wrong column or altered data)"
            ) from error


class CipherNotBoundError(RuntimeError):
    """An encrypted column was read or written through an engine no cipher is bound to."""


_bound: weakref.WeakKeyDictionary[Dialect, BiometricCipher] = weakref.WeakKeyDictionary()
_bound_lock = threading.Lock()


def bind_cipher(engine: Engine, cipher: BiometricCipher) -> None:
    """Seal and open every `EncryptedBytes` value that passes through `engine` with `cipher`.

    Why the engine: a column type cannot be handed an argument per statement, yet it is
    handed the dialect that runs the statement, and SQLAlchemy makes one dialect object
    per engine (connections and `execution_options` copies share it). Binding the cipher
    to that object gives each engine, hence each system built by `lfr.system.build`, its
    own key, even several in one process; no process-wide key exists to be read by
    mistake. The binding lives as long as the engine (a weak reference), so a disposed
    test database leaves nothing behind."""
    with _bound_lock:
        _bound[engine.dialect] = cipher


def cipher_for(dialect: Dialect) -> BiometricCipher:
    """The cipher bound to the engine whose `dialect` this is.

    Raises:
        CipherNotBoundError: the engine was made without `bind_cipher` (a programming
            error: refusing is safer than sealing under a key nobody configured).
    """
    with _bound_lock:
        cipher = _bound.get(dialect)
    if cipher is None:
        raise CipherNotBoundError(
            "no biometric cipher is bound to this database engine: open the database "
            "through lfr.keyring.bind_keys (as lfr.system.build does)"
        )
    return cipher


def cipher_of(session: Session) -> BiometricCipher:
    """The cipher of the engine `session` runs on."""
    return cipher_for(session.get_bind().dialect)


class EncryptedBytes(TypeDecorator[bytes]):
    """A column holding bytes that are encrypted before they reach the database (DP-2)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else cipher_for(dialect).seal(bytes(value), self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else cipher_for(dialect).open(bytes(value), self.purpose)
