"""Rotating the biometric key (DP-2): re-seal every encrypted value under the current key.

A key is rotated by configuring the new key as `biometric_key` and the old one in
`biometric_previous_keys`, then running `rekey` (``lfr db rekey``): every value of every
`EncryptedBytes` column that is not yet sealed under the current key is opened and sealed
again, in one transaction with one audit entry that names the new key's id and the counts
per column (never a value). Afterwards the old key can be removed from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, LargeBinary, Table, select, type_coerce, update
from sqlalchemy.orm import Session

from lfr.audit import record
from lfr.crypto import BiometricCipher, EncryptedBytes, cipher_of
from lfr.db.registry import metadata
from lfr.domain.people import Actor


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column[bytes]
    purpose: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


@dataclass(frozen=True)
class RekeyReport:
    key_id: str
    """Hex id of the key every value is now sealed under."""
    resealed: dict[str, int]
    """Values re-sealed, per ``table.column``."""

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


def encrypted_columns() -> list[EncryptedColumn]:
    """Every column of the schema that holds sealed biometric (or secret) bytes."""
    return [
        EncryptedColumn(table, column, column.type.purpose)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedBytes)
    ]


def rekey(session: Session, actor: Actor, cipher: BiometricCipher | None = None) -> RekeyReport:
    """Re-seal, under the current key, every value sealed under another key or in the
    format from before key ids; audited in the same transaction. `cipher`: by default
    the one the session's database was opened with."""
    using = cipher or cipher_of(session)
    resealed = {
        column.name: _reseal_column(session, column, using) for column in encrypted_columns()
    }
    report = RekeyReport(using.key_id.hex(), resealed)
    record(
        session,
        actor=actor,
        action="biometric.rekey",
        object_type="biometric_key",
        object_id=report.key_id,
        summary=f"{report.total} encrypted value(s) re-sealed under key {report.key_id}",
        after={"key_id": report.key_id, "resealed": resealed},
        reason="DP-2: biometric key rotation",
    )
    return report


def _reseal_column(session: Session, column: EncryptedColumn, cipher: BiometricCipher) -> int:
    # Read and write the stored bytes as they are (type_coerce bypasses EncryptedBytes,
    # which would open them with the engine's cipher). The rows stay locked until the
    # transaction ends, so a value destroyed (WL-6) or re-enrolled meanwhile is not written
    # back from this read (SQLite's transactions already hold the write lock throughout).
    raw = type_coerce(column.column, LargeBinary)
    keys = list(column.table.primary_key.columns)
    found = select(*keys, raw).where(column.column.is_not(None)).with_for_update()
    rows = session.execute(found).all()
    count = 0
    for row in rows:
        *identity, sealed = row
        if cipher.sealed_with_current_key(sealed):
            continue
        fresh = cipher.seal(cipher.open(sealed, column.purpose), column.purpose)
        match = [key == value for key, value in zip(keys, identity, strict=True)]
        session.execute(
            update(column.table)
            .where(*match)
            .values({column.column.name: type_coerce(fresh, LargeBinary)})
        )
        count += 1
    return count
