"""One canonical JSON for everything that is hashed: the audit chain (AUD-1), the Written
Authority Document (AUTH-5) and a signed-off review's figures (REV-1).

Sorted keys, no optional whitespace, UTF-8 characters kept, times in UTC with
microseconds, so that equal values give equal text and an outsider can recompute any hash
with their language's JSON and SHA-256. Bytes are refused: they may be biometric.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def format_time(value: datetime) -> str:
    """UTC ISO 8601 with microseconds, e.g. ``2026-01-23T10:00:00.000000+00:00``."""
    if value.tzinfo is None:
        raise ValueError("canonical times must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        raise TypeError("bytes are never written as canonical JSON (they may be biometric)")
    raise TypeError(f"cannot write a {type(value).__name__} as canonical JSON")


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
