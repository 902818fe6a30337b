"""The tamper-evident audit log (AUD-1): append with ``record``, check with ``verify``.

Every service writes its entry with ``record(session, actor=..., ...)`` inside the same
transaction as the change it describes. ``verify(session)`` recomputes the hash chain and
says where it is broken; signed checkpoints let an outsider verify it with a public key.
"""

from lfr.audit.chain import GENESIS_HASH, Problem, VerificationReport, canonical_json
from lfr.audit.checkpoint import CheckpointError, SignedCheckpoint
from lfr.audit.log import AuditLogMissingError, create_checkpoint, record, request_id_var
from lfr.audit.verify import verify
from lfr.db.audit_log import AuditCheckpoint, AuditEntry, AuditHead

__all__ = [
    "GENESIS_HASH",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuditLogMissingError",
    "CheckpointError",
    "Problem",
    "SignedCheckpoint",
    "VerificationReport",
    "canonical_json",
    "create_checkpoint",
    "record",
    "request_id_var",
    "verify",
]
