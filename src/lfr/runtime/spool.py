"""A node's alerts kept on its own disk until the service has them (DEP-2, REC-4, DP-2).

A van may lose its link for hours and its power at any moment. Each alert a node's camera
worker emits is written here, encrypted, before it is queued for the bus, and deleted once
the stream has acknowledged it; a worker that starts finds what an earlier run left and
sends it first. The probe crop inside is an alert, not a passer-by: nothing about a face
that did not alert is ever written (REC-4). Health figures are never kept: stale counts
are worthless.

Each alert is one file, ``<time ns>-<random>.alert``, sealed with AES-256-GCM under a key
derived from the node's own signing key (HKDF), with the file's name bound to it, written
to a temporary name, synced, then renamed, so a power cut leaves either the whole alert or
none. The folder holds at most ``limit`` alerts; beyond it the newest is refused (and the
worker says so), as the memory outbox does. An alert older than ``retention_s`` is
destroyed, never sent (`expire`; the node counts and reports it): nothing stays on a
node's disk beyond the retention period.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SUFFIX = ".alert"
NONCE_BYTES = 12


class SpoolFullError(RuntimeError):
    """The folder holds its limit of alerts already."""


def spool_key(private_signing: bytes) -> bytes:
    """The node's spool key: derived from its own key, never stored beside the alerts."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lfr node spool v1").derive(
        private_signing
    )


@dataclass(frozen=True)
class Spool:
    """One camera's folder of alerts not yet acknowledged (picklable: a worker gets it)."""

    folder: Path
    key: bytes
    limit: int = 10_000
    retention_s: float | None = None
    """How long an alert may wait here; None: until sent."""

    def put(self, subject: str, data: bytes) -> Path:
        """Keep one alert; returns its file, to `remove` once the stream holds it."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if len(self.pending()) >= self.limit:
            raise SpoolFullError(f"{self.folder} holds {self.limit} alerts already")
        path = self.folder / f"{time.time_ns():020d}-{uuid.uuid4().hex}{SUFFIX}"
        nonce = os.urandom(NONCE_BYTES)
        content = json.dumps({"subject": subject, "data": data.decode()}).encode()
        sealed = nonce + AESGCM(self.key).encrypt(nonce, content, path.name.encode())
        _write_durably(path, sealed)
        return path

    def pending(self) -> list[Path]:
        """Alerts left to send, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*{SUFFIX}"))

    def read(self, path: Path) -> tuple[str, bytes] | None:
        """The alert in `path`; None (and the file removed) if it was altered or torn."""
        try:
            sealed = path.read_bytes()
            content = AESGCM(self.key).decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], path.name.encode()
            )
        except (OSError, InvalidTag, ValueError):
            self.remove(path)
            return None
        parsed = json.loads(content)
        return str(parsed["subject"]), str(parsed["data"]).encode()

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def expired(self, path: Path, now_ns: int | None = None) -> bool:
        """Whether the alert in `path` has waited longer than the retention period."""
        if self.retention_s is None:
            return False
        age_ns = (now_ns or time.time_ns()) - written_ns(path)
        return age_ns > self.retention_s * 1e9

    def expire(self) -> int:
        """Destroy every alert older than the retention period; how many there were."""
        now_ns = time.time_ns()
        old = [path for path in self.pending() if self.expired(path, now_ns)]
        for path in old:
            self.remove(path)
        return len(old)


def written_ns(path: Path) -> int:
    """When an alert was kept (its file name's first part), in ns since the epoch."""
    try:
        return int(path.name.split("-", 1)[0])
    except ValueError:
        return 0  # not a name this spool wrote: as old as can be


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
