"""AES-256-GCM sealing of biometric bytes (DP-2)."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lfr.crypto import NONCE_BYTES, BiometricCipher, DecryptionError, key_id

IMAGE = b"\xff\xd8\xff\xe0 pretend JPEG of a watchlist face"


def test_sealed_bytes_hide_the_plaintext_and_open_again() -> None:
    cipher = BiometricCipher(os.urandom(32))
    sealed = cipher.seal(IMAGE, "watchlist_image.image")
    assert IMAGE not in sealed
    assert cipher.open(sealed, "watchlist_image.image") == IMAGE


def test_the_same_image_sealed_twice_gives_different_bytes() -> None:
    cipher = BiometricCipher(os.urandom(32))
    assert cipher.seal(IMAGE, "p") != cipher.seal(IMAGE, "p")


@pytest.mark.parametrize("change", ["key", "purpose", "byte"])
def test_wrong_key_other_column_or_altered_bytes_do_not_open(change: str) -> None:
    cipher = BiometricCipher(os.urandom(32))
    sealed = bytearray(cipher.seal(IMAGE, "a.b"))
    purpose = "a.b"
    if change == "key":
        cipher = BiometricCipher(os.urandom(32))
    elif change == "purpose":
        purpose = "c.d"
    else:
        sealed[-1] ^= 1
    with pytest.raises(DecryptionError, match=purpose):
        cipher.open(bytes(sealed), purpose)


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        BiometricCipher(b"too short")


def test_a_value_names_its_key_and_opens_under_a_previous_key_after_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = BiometricCipher(old).seal(IMAGE, "p")
    assert sealed[1:9] == key_id(old)
    rotated = BiometricCipher(new, previous=[old])
    assert rotated.open(sealed, "p") == IMAGE
    assert not rotated.sealed_with_current_key(sealed)
    assert rotated.sealed_with_current_key(rotated.seal(IMAGE, "p"))


def test_a_value_under_a_key_no_longer_configured_names_the_missing_key() -> None:
    old = os.urandom(32)
    sealed = BiometricCipher(old).seal(IMAGE, "p")
    with pytest.raises(DecryptionError, match=f"key id {key_id(old).hex()}"):
        BiometricCipher(os.urandom(32)).open(sealed, "p")


def test_values_from_before_key_ids_open_with_whichever_key_fits() -> None:
    old, new = os.urandom(32), os.urandom(32)
    nonce = os.urandom(NONCE_BYTES)
    legacy = b"\x01" + nonce + AESGCM(old).encrypt(nonce, IMAGE, b"p")
    assert BiometricCipher(new, previous=[old]).open(legacy, "p") == IMAGE
    with pytest.raises(DecryptionError, match="every configured key"):
        BiometricCipher(new).open(legacy, "p")
