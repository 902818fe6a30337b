"""The secrets a database is opened with: the settings' biometric cipher (DP-2) and audit
keys (AUD-1), bound to the engine itself.

Every road to the record opens its engine here, `lfr.system.build` (`lfr serve`, the
tests, the benchmarks) and the console commands alike, so what is sealed, signed and
verified is governed by the settings that opened the database, never by whatever the
process's environment would say. See `lfr.crypto.bind_cipher` for why the engine (and
not the process) carries the key.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from lfr.audit.keys import AuditKeys, bind_audit_keys
from lfr.crypto import BiometricCipher, bind_cipher
from lfr.db.migrate import upgrade
from lfr.db.session import SessionFactory, make_engine, make_session_factory
from lfr.domain.redaction import redacted
from lfr.settings import Settings

log = logging.getLogger("lfr.serve")


def bind_keys(engine: Engine, settings: Settings) -> Engine:
    """Seal, open, sign and verify everything that passes through `engine` with the keys
    of `settings` (which must allow them: built-in keys only in development and test)."""
    bind_cipher(engine, BiometricCipher.from_settings(settings))
    audit_keys = AuditKeys.of(settings.audit_chain_key_bytes(), settings.audit_signing_key_bytes())
    bind_audit_keys(engine, audit_keys)
    return engine


def engine_of(db: SessionFactory) -> Engine:
    """The engine a session factory opens its sessions on."""
    bind = db.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the session factory is bound to no engine")
    return bind


def open_database(settings: Settings, url: str | None = None) -> SessionFactory:
    """Sessions on `url` (default: the settings' database) with the settings' keys bound."""
    return make_session_factory(bind_keys(make_engine(url or settings.database_url), settings))


def prepare_database(settings: Settings) -> SessionFactory:
    """Applies every migration, then returns sessions on the database, opened with the
    settings' keys."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log.info("database: %s", redacted(settings.database_url))
    upgrade(settings.database_url)
    log.info("database migrated to the newest revision")
    return open_database(settings)
