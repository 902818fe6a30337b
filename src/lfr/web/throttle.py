"""Sign-in throttling and lockout as pure decisions (no I/O), table-tested.

Failures are counted per key: one key per account name and one per client address, so
guessing many passwords for one account and trying one password on many accounts are
both slowed. The store (`lfr.web.sessions`) only loads and saves `ThrottleState`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What is remembered for one key: consecutive failures and any lock in force."""

    failures: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    lockout: timedelta


def locked(state: ThrottleState, now: datetime) -> bool:
    """True while a lock is in force; an expired lock no longer counts."""
    return state.locked_until is not None and now < state.locked_until


def after_failure(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    """Counts one failure; the one that reaches the limit starts a lock.

    A failure after an expired lock starts counting afresh, so a locked-out user gets the
    full number of tries again once the lock has run out.
    """
    failures = 1 if _lock_expired(state, now) else state.failures + 1
    if failures >= policy.max_failures:
        return ThrottleState(failures=failures, locked_until=now + policy.lockout)
    return replace(state, failures=failures, locked_until=None)


def after_success() -> ThrottleState:
    """A successful sign-in clears the count."""
    return ThrottleState()


def _lock_expired(state: ThrottleState, now: datetime) -> bool:
    return state.locked_until is not None and now >= state.locked_until
