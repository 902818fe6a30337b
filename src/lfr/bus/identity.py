"""A node's identity: an Ed25519 key that signs what it publishes, and an X25519 key that
sealed watchlists are encrypted to (DEP-2, WL-1, DP-2); from the first, a third key it
signs in to NATS with (`bus_seed`, `lfr.bus.nats_auth`).

`lfr fleet keygen` makes both on the node and keeps the private half in a file only the node
reads; an administrator enrols the public half under the node's name (`lfr fleet enrol`,
the Fleet page or the API). The service then accepts alerts, health and reports for a
camera `node:<name>` only when signed by that enrolled, unrevoked node, and releases a
deployment's watchlist to each of its nodes encrypted to that node alone: an unknown or
revoked node receives nothing it can open, and what it publishes is refused.

Sealing is an ephemeral-static X25519 exchange, HKDF-SHA256, then AES-256-GCM with the
release's terms as associated data (the construction of HPKE's base mode, written out).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PUBLIC_PREFIX = "lfr-node-1"
"""Marks the text form of a node's public keys (and its version)."""
SERVICE_PREFIX = "lfr-service-1"
"""Marks the text form of the service's release-signing public key."""

NONCE_BYTES = 12
KEY_BYTES = 32


class IdentityError(ValueError):
    """A key that cannot be read or used; the message names what is wrong."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise IdentityError(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise IdentityError(f"{what} must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class NodePublicKey:
    """What an administrator enrols: the node's verifying and sealing keys, and the key it
    signs in to NATS with (`bus`; None for a key enrolled before nodes had one)."""

    signing: bytes
    sealing: bytes
    bus: bytes | None = None

    def text(self) -> str:
        keys = [self.signing, self.sealing, *([self.bus] if self.bus is not None else [])]
        return ":".join([PUBLIC_PREFIX, *(_b64(key) for key in keys)])

    @classmethod
    def parse(cls, text: str) -> NodePublicKey:
        """From `text()`'s form; `IdentityError` says what is wrong with it."""
        parts = text.strip().split(":")
        if len(parts) not in (3, 4) or parts[0] != PUBLIC_PREFIX:
            raise IdentityError(
                f"a node's public key reads '{PUBLIC_PREFIX}:<signing>:<sealing>:<bus>' "
                "(as `lfr fleet keygen` prints it)"
            )
        bus = _unb64(parts[3], "the bus key") if len(parts) == 4 else None
        return cls(_unb64(parts[1], "the signing key"), _unb64(parts[2], "the sealing key"), bus)

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.signing).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def seal(self, plaintext: bytes, associated: bytes) -> tuple[bytes, bytes]:
        """Encrypt to this node: (ephemeral public key, nonce || ciphertext)."""
        ephemeral = X25519PrivateKey.generate()
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.sealing))
        ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key = _derive(shared, ephemeral_public, self.sealing)
        nonce = os.urandom(NONCE_BYTES)
        return ephemeral_public, nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


@dataclass(frozen=True)
class NodeSigner:
    """A node's name and signing key: what its processes sign with (picklable, so a camera
    worker receives it over the spawn pipe, never through a file)."""

    node: str
    private_signing: bytes

    def sign(self, data: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.private_signing).sign(data)

    def public_signing(self) -> bytes:
        """The raw Ed25519 key that verifies this signer's signatures."""
        public = Ed25519PrivateKey.from_private_bytes(self.private_signing).public_key()
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def bus_seed(self) -> bytes:
        """The seed of the NATS user key this signer signs in with (`bus_seed`)."""
        return bus_seed(self.private_signing)

    def bus_public(self) -> bytes:
        """The public half of that NATS user key."""
        return NodeSigner(self.node, self.bus_seed()).public_signing()


@dataclass(frozen=True)
class NodeIdentity:
    """The node's private keys (only on the node)."""

    private_signing: bytes
    private_sealing: bytes

    @classmethod
    def generate(cls) -> NodeIdentity:
        signing = Ed25519PrivateKey.generate().private_bytes_raw()
        sealing = X25519PrivateKey.generate().private_bytes_raw()
        return cls(signing, sealing)

    def public(self) -> NodePublicKey:
        signing = Ed25519PrivateKey.from_private_bytes(self.private_signing).public_key()
        sealing = X25519PrivateKey.from_private_bytes(self.private_sealing).public_key()
        return NodePublicKey(
            signing.public_bytes(Encoding.Raw, PublicFormat.Raw),
            sealing.public_bytes(Encoding.Raw, PublicFormat.Raw),
            self.signer("").bus_public(),
        )

    def signer(self, node: str) -> NodeSigner:
        return NodeSigner(node, self.private_signing)

    def open(self, ephemeral_public: bytes, sealed: bytes, associated: bytes) -> bytes:
        """Decrypt what `NodePublicKey.seal` made for this node; `IdentityError` if it was
        made for another node or altered."""
        private = X25519PrivateKey.from_private_bytes(self.private_sealing)
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
            key = _derive(shared, ephemeral_public, self.public().sealing)
            nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
            return AESGCM(key).decrypt(nonce, body, associated)
        except (InvalidTag, ValueError):
            raise IdentityError("sealed for another node, or altered") from None

    def save(self, path: Path) -> None:
        """Write the private keys, readable by this user only; never overwrites."""
        content = json.dumps(
            {
                "format": PUBLIC_PREFIX,
                "signing": _b64(self.private_signing),
                "sealing": _b64(self.private_sealing),
            }
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(content)

    @classmethod
    def load(cls, path: Path) -> NodeIdentity:
        try:
            content = json.loads(path.read_text())
            return cls(
                _unb64(content["signing"], "the signing key"),
                _unb64(content["sealing"], "the sealing key"),
            )
        except FileNotFoundError:
            raise IdentityError(f"{path}: no such key file (make one: lfr fleet keygen)") from None
        except (KeyError, TypeError, ValueError) as error:
            raise IdentityError(f"{path}: not a node key file ({error})") from None


def bus_seed(private_signing: bytes) -> bytes:
    """The Ed25519 seed a node (or the service) signs in to NATS with, derived from its
    signing key for that purpose alone: the broker's challenge is signed with this key,
    never with the key that signs messages, so a broker cannot obtain a message signature."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lfr nats user key v1"
    ).derive(private_signing)


def _derive(shared: bytes, ephemeral_public: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"lfr watchlist release v1" + ephemeral_public + recipient,
    ).derive(shared)


SERVICE_NAME = "lfr-service"
"""The name the service signs its releases under (no node may be enrolled under it)."""


def service_signer(audit_signing_key: bytes) -> NodeSigner:
    """The service's bus signing key, derived from its audit signing key (HKDF, a separate
    purpose): releases a node accepts carry its signature, so nobody else with access to
    the bus can hand a node a watchlist of their own (WL-1)."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lfr service bus v1"
    ).derive(audit_signing_key)
    return NodeSigner(SERVICE_NAME, seed)


def service_public_key(signer: NodeSigner) -> str:
    """The text a node is given (`lfr node --service-key`) to check the service's releases."""
    return f"{SERVICE_PREFIX}:{_b64(signer.public_signing())}"


def parse_service_key(text: str) -> bytes:
    prefix, _, key = text.strip().partition(":")
    if prefix != SERVICE_PREFIX or not key:
        raise IdentityError(
            f"the service's key reads '{SERVICE_PREFIX}:<key>' "
            "(as `lfr fleet service-key` prints it)"
        )
    return _unb64(key, "the service's key")


def verify_service(public: bytes, data: bytes, signature: bytes | None) -> bool:
    if signature is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except InvalidSignature:
        return False
    return True
