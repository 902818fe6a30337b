"""The reconciler through a database outage: what it says (DEP-2)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from lfr.runtime.reconciler import Reconciler
from lfr.services.policy import GovernancePolicy


def test_a_pass_that_cannot_reach_the_database_is_one_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database outage fails every pass (about one a second): each is logged as one line
    saying the database does not answer and why, without a traceback, and the passes go
    on. The statement's parameters never reach the log."""
    reconciler = Reconciler(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        policy=GovernancePolicy(),
        interval_s=0.01,
    )
    passes = 0

    async def unreachable() -> None:
        nonlocal passes
        passes += 1
        if passes == 3:
            reconciler._stopping = True
        refused = Exception('connection to server at "db", port 5432 failed: Connection refused')
        raise OperationalError("SELECT secret FROM lease WHERE x = %s", {"x": "p4ss"}, refused)

    caplog.set_level(logging.INFO, logger="lfr.reconciler")
    asyncio.run(reconciler._forever(unreachable, asyncio.Event()))
    assert passes == 3
    records: list[Any] = [r for r in caplog.records if r.name == "lfr.reconciler"]
    assert len(records) == 3
    for record in records:
        assert record.exc_info is None
        message = record.getMessage()
        assert "\n" not in message
        assert "database" in message
        assert "Connection refused" in message
        assert "p4ss" not in message
        assert "SELECT" not in message
