"""The keys the audit log uses, from the settings unless configured (AUD-1).

``record()`` is called from every service without a key argument, so the chain key comes
from here: the web application and the commands configure it from their settings; anything
else (tests, scripts) gets it from the environment's settings.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lfr.audit.checkpoint import load_signing_key
from lfr.settings import Settings, get_settings

_configured: Settings | None = None


def configure(settings: Settings) -> None:
    """Use these settings' audit keys in this process (``None`` settings: the environment's)."""
    global _configured
    _configured = settings


def _settings() -> Settings:
    return _configured if _configured is not None else get_settings()


def chain_key() -> bytes:
    """The HMAC key that seals each entry's hash (never stored in the database)."""
    return _settings().audit_chain_key_bytes()


def signing_key() -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints and the served head."""
    return load_signing_key(_settings().audit_signing_key_bytes())
