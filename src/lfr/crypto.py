"""Encryption of biometric data at rest (DP-2).

Images and templates are sealed with AES-256-GCM under the key in ``Settings.biometric_key``.
A sealed value is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``;
a fresh random nonce per value means the same image stored twice gives different bytes.
The column's purpose (e.g. ``"watchlist_image.image"``) is bound as associated data, so a
ciphertext copied into another column fails to open instead of being misread.

Models declare ``EncryptedBytes("table.column")`` and see plaintext; the database sees only
ciphertext.
"""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, LargeBinary, TypeDecorator

from lfr.settings import Settings, get_settings

FORMAT_VERSION = 1
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A sealed value could not be opened: wrong key, wrong column, or altered bytes."""


class BiometricCipher:
    """AES-256-GCM with one key; thread-safe (AESGCM holds no per-call state)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError(f"biometric_key: AES-256 needs 32 bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> BiometricCipher:
        settings.require_production_secrets()
        return cls(settings.biometric_key_bytes())

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return bytes([FORMAT_VERSION]) + nonce + sealed

    def open(self, sealed: bytes, purpose: str) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != FORMAT_VERSION:
            raise DecryptionError(f"{purpose}: not an lfr sealed value (format or length)")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, purpose.encode())
        except InvalidTag as error:
            raise DecryptionError(
                f"{purpose}: authentication failed (wrong key, wrong column or altered data)"
            ) from error


_lock = threading.Lock()
_cipher: BiometricCipher | None = None


def configure_cipher(cipher: BiometricCipher | None) -> None:
    """Set the process-wide cipher (None: use the settings' key on next use)."""
    global _cipher
    with _lock:
        _cipher = cipher


def current_cipher() -> BiometricCipher:
    """The process-wide cipher, created from ``get_settings()`` on first use."""
    global _cipher
    with _lock:
        if _cipher is None:
            _cipher = BiometricCipher.from_settings(get_settings())
        return _cipher


class EncryptedBytes(TypeDecorator[bytes]):
    """A column holding bytes that are encrypted before they reach the database (DP-2)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current_cipher().seal(bytes(value), self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current_cipher().open(bytes(value), self.purpose)
