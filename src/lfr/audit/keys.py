"""The keys the audit log uses (AUD-1), bound to the database engine they guard.

``record()`` is called from every service with a session and no key, so the keys come
from the engine that session runs on: whoever opens the database binds its settings' keys
to it (`bind_audit_keys`, through `lfr.keyring.bind_keys`, as `lfr.system.build` does).
Like the biometric cipher (`lfr.crypto.bind_cipher`) they are bound to the engine's
dialect object, one per engine, so two systems built with different keys in one process
each seal and sign with their own, and nothing reads a process-wide key by mistake.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Dialect, Engine
from sqlalchemy.orm import Session

from lfr.audit.checkpoint import load_signing_key


@dataclass(frozen=True)
class AuditKeys:
    chain_key: bytes
    """The HMAC key that seals each entry's hash (never stored in the database)."""
    signing_key: Ed25519PrivateKey
    """The Ed25519 key that signs checkpoints and the served head."""

    @classmethod
    def of(cls, chain_key: bytes, signing_seed: bytes) -> AuditKeys:
        return cls(chain_key, load_signing_key(signing_seed))


class AuditKeysNotBoundError(RuntimeError):
    """The audit log was written or checked through an engine no audit keys are bound to."""


_bound: weakref.WeakKeyDictionary[Dialect, AuditKeys] = weakref.WeakKeyDictionary()
_bound_lock = threading.Lock()


def bind_audit_keys(engine: Engine, keys: AuditKeys) -> None:
    """Seal and sign the audit log of `engine` with `keys` (for as long as it lives)."""
    with _bound_lock:
        _bound[engine.dialect] = keys


def keys_of(session: Session) -> AuditKeys:
    """The audit keys of the engine `session` runs on.

    Raises:
        AuditKeysNotBoundError: the engine was opened without `bind_audit_keys`.
    """
    with _bound_lock:
        keys = _bound.get(session.get_bind().dialect)
    if keys is None:
        raise AuditKeysNotBoundError(
            "no audit keys are bound to this database engine: open the database through "
            "lfr.keyring.bind_keys (as lfr.system.build does)"
        )
    return keys


def chain_key(session: Session) -> bytes:
    """The HMAC key that seals each entry's hash on `session`'s database."""
    return keys_of(session).chain_key


def signing_key(session: Session) -> Ed25519PrivateKey:
    """The Ed25519 key that signs `session`'s database's checkpoints and served head."""
    return keys_of(session).signing_key
