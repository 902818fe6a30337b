"""AES-256-GCM sealing of biometric bytes (DP-2)."""

from __future__ import annotations

import os

import pytest

from lfr.crypto import BiometricCipher, DecryptionError

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
