"""Signed checkpoints: Ed25519 signatures over (sequence, head hash, time) (AUD-1).

A checkpoint exported as JSON and published (or handed to an oversight body) lets anyone
holding only the public key confirm later that the log still contains, unchanged, every
entry up to that sequence. The signed message is the canonical JSON of::

    {"format": "lfr-audit-checkpoint/1", "sequence": N, "head_hash": "<hex>",
     "time": "<UTC ISO 8601>"}
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lfr.audit.chain import canonical_json, format_time

CHECKPOINT_FORMAT = "lfr-audit-checkpoint/1"
FEED_FORMAT = "lfr-audit-checkpoints/1"
"""The public feed: ``{"format": FEED_FORMAT, "public_key": ..., "checkpoints": [...]}``,
each checkpoint as a checkpoint file's object."""


class CheckpointError(ValueError):
    """A checkpoint file is malformed, or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    sequence: int
    head_hash: str
    time: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return checkpoint_message(self.sequence, self.head_hash, self.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "sequence": self.sequence,
            "head_hash": self.head_hash,
            "time": self.time,
            "public_key": self.public_key,
            "signature": self.signature,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SignedCheckpoint:
        return cls.from_dict(_parse(text))

    @classmethod
    def from_dict(cls, body: Any) -> SignedCheckpoint:
        if not isinstance(body, dict) or body.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint: field format must be {CHECKPOINT_FORMAT!r}")
        for name, kind in (
            ("sequence", int),
            ("head_hash", str),
            ("time", str),
            ("public_key", str),
            ("signature", str),
        ):
            if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool):
                raise CheckpointError(f"checkpoint: field {name} missing or not {kind.__name__}")
        return cls(
            sequence=body["sequence"],
            head_hash=body["head_hash"],
            time=body["time"],
            public_key=body["public_key"],
            signature=body["signature"],
        )


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint: not JSON ({error})") from error


def feed_json(checkpoints: list[SignedCheckpoint], public_key: str) -> dict[str, Any]:
    """The public feed of signed checkpoints (oldest first)."""
    return {
        "format": FEED_FORMAT,
        "public_key": public_key,
        "checkpoints": [checkpoint.to_dict() for checkpoint in checkpoints],
    }


def read_published(text: str) -> tuple[tuple[SignedCheckpoint, ...], bool]:
    """Checkpoints from a copy of the feed, or one checkpoint or signed head; the flag says
    whether they came from the feed (so each must still be stored: none may be withdrawn)."""
    body = _parse(text)
    if isinstance(body, dict) and body.get("format") == FEED_FORMAT:
        listed = body.get("checkpoints")
        if not isinstance(listed, list):
            raise CheckpointError("feed: field checkpoints missing or not a list")
        return tuple(SignedCheckpoint.from_dict(item) for item in listed), True
    return (SignedCheckpoint.from_dict(body),), False


def checkpoint_message(sequence: int, head_hash: str, time: str) -> bytes:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "sequence": sequence,
        "head_hash": head_hash,
        "time": time,
    }
    return canonical_json(payload).encode("utf-8")


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """Base64 of the raw 32-byte public key: what is published for outside verification."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_signing_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def sign_checkpoint(
    private_key: Ed25519PrivateKey, sequence: int, head_hash: str, time: datetime
) -> SignedCheckpoint:
    time_text = format_time(time)
    signature = private_key.sign(checkpoint_message(sequence, head_hash, time_text))
    return SignedCheckpoint(
        sequence=sequence,
        head_hash=head_hash,
        time=time_text,
        public_key=public_key_text(private_key),
        signature=base64.b64encode(signature).decode(),
    )


def require_trusted_key(
    checkpoints: tuple[SignedCheckpoint, ...], trusted_public_key: str | None
) -> None:
    """A checkpoint brought from outside proves nothing without a key trusted independently."""
    if checkpoints and trusted_public_key is None:
        raise CheckpointError("a trusted public key is needed to verify a given checkpoint")


def check_public_key(text: str) -> None:
    """Raise CheckpointError unless `text` is an Ed25519 public key as `lfr audit public-key`
    prints it (base64 of 32 bytes): a mistyped key is the verifier's error, not tampering."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as error:
        raise CheckpointError(f"not an Ed25519 public key in base64 ({error})") from error


def verify_signature(checkpoint: SignedCheckpoint, trusted_public_key: str) -> None:
    """Raise CheckpointError unless the checkpoint was signed by ``trusted_public_key``.

    The key inside the checkpoint file is only informative: trust comes from the key the
    verifier obtained independently (published by the force).
    """
    try:
        key = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(trusted_public_key, validate=True)
        )
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CheckpointError(f"checkpoint: public key or signature malformed ({error})") from error
    try:
        key.verify(signature, checkpoint.message())
    except InvalidSignature as error:
        raise CheckpointError(
            f"checkpoint at sequence {checkpoint.sequence}: signature does not verify "
            "with the trusted public key"
        ) from error
