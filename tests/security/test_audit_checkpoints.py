"""Checkpoints made without anyone asking (AUD-1): at every deployment end, in its own
transaction, and whenever the last one is an hour old; `lfr audit verify --against` checks
the database against a copy of the public feed, from a file or a URL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from lfr.audit import AuditCheckpoint, AuditEntry, record
from lfr.audit.log import make_checkpoint_if_due
from lfr.cli import app as cli_app
from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import SYSTEM_ACTOR
from lfr.services import deployments
from lfr.services.retention import RUN_ACTION, run_retention_if_due
from lfr.settings import get_settings
from lfr.web.app import create_app
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas, remove_append_only_guard
from tests.integration.governance.world import World

pytestmark = pytest.mark.db


def _checkpoints(factory: SessionFactory) -> list[tuple[int, str]]:
    with transaction(factory) as session:
        rows = session.execute(select(AuditCheckpoint.sequence, AuditCheckpoint.head_hash))
        return [(sequence, head_hash) for sequence, head_hash in rows]


def _note(factory: SessionFactory) -> None:
    with transaction(factory) as session:
        record(
            session, actor=SYSTEM_ACTOR, action="x.note", object_type="x", object_id=1, summary="s"
        )


def test_every_deployment_end_makes_a_checkpoint(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """AUD-1: the end's own entries are pinned by a checkpoint signed in the same
    transaction (the checkpoint names the head right after the end)."""
    before = _checkpoints(session_factory)
    with transaction(session_factory) as session:
        deployments.end_deployment(session, personas.gold, world.deployment_id, policy=POLICY)
    after = _checkpoints(session_factory)
    with transaction(session_factory) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
    assert last is not None
    assert len(after) == len(before) + 1
    assert after[-1] == (last.sequence, last.hash)


def test_a_deployment_ended_by_its_window_s_end_makes_a_checkpoint_too(
    session_factory: SessionFactory, world: World
) -> None:
    """AUD-1: the system's end (the window is over) pins the record like a person's."""
    before = _checkpoints(session_factory)
    with transaction(session_factory) as session:
        far_future = utcnow() + timedelta(days=3650)
        ended = deployments.end_out_of_force(
            session, world.deployment_id, now=far_future, policy=POLICY
        )
    assert ended is not None
    after = _checkpoints(session_factory)
    with transaction(session_factory) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
    assert last is not None
    assert len(after) == len(before) + 1
    assert after[-1] == (last.sequence, last.hash)


def at_once(times: int, work: Callable[[], object]) -> list[object]:
    """`work` in `times` threads released together, as instances asking at the same instant."""
    barrier = threading.Barrier(times)
    results: list[object] = [None] * times

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_instances_asking_at_once_make_one_checkpoint(session_factory: SessionFactory) -> None:
    """AUD-1 with several instances: "due?" is decided under the chain head's lock."""
    _note(session_factory)

    def checkpoint_if_due() -> object:
        with transaction(session_factory) as session:
            return make_checkpoint_if_due(session)

    made = [r for r in at_once(4, checkpoint_if_due) if r is not None]
    with transaction(session_factory) as session:
        count = session.scalar(select(func.count()).select_from(AuditCheckpoint))
    assert (len(made), count) == (1, 1)


def test_instances_asking_at_once_run_retention_once(session_factory: SessionFactory) -> None:
    """DP-1 with several instances: one retention run per period, however many ask."""

    def retention_if_due() -> object:
        with transaction(session_factory) as session:
            return run_retention_if_due(session, interval=timedelta(hours=1), policy=POLICY)

    ran = [r for r in at_once(4, retention_if_due) if r is not None]
    with transaction(session_factory) as session:
        runs = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == RUN_ACTION)
        )
    assert (len(ran), runs) == (1, 1)


def test_a_checkpoint_is_made_when_the_last_is_an_hour_old(session_factory: SessionFactory) -> None:
    """AUD-1: `make_checkpoint_if_due` (scheduled by `lfr serve`) signs at least hourly."""
    _note(session_factory)
    now = utcnow()
    with transaction(session_factory) as session:
        first = make_checkpoint_if_due(session, now=now)
        too_soon = make_checkpoint_if_due(session, now=now + timedelta(minutes=59))
    _note(session_factory)
    with transaction(session_factory) as session:
        due = make_checkpoint_if_due(session, now=utcnow() + timedelta(hours=1, seconds=1))
        count = session.scalar(select(func.count()).select_from(AuditCheckpoint))
    assert first is not None
    assert first.sequence == 1
    assert too_soon is None
    assert due is not None
    assert due.sequence == 2
    assert count == 2


@pytest.fixture
def cli_env(migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["audit", "verify", *args])
    return result.exit_code, result.output


def test_verify_against_a_kept_file_reports_a_truncation(
    session_factory: SessionFactory,
    migrated_url: str,
    app_client: TestClient,
    cli_env: None,
    tmp_path: Path,
) -> None:
    """AUD-1: `lfr audit verify --against FILE` with a copy of the feed kept before."""
    for _ in range(5):
        _note(session_factory)
    with transaction(session_factory) as session:
        make_checkpoint_if_due(session)
    kept = tmp_path / "feed.json"
    kept.write_text(app_client.get("/api/public/audit/checkpoints").text, encoding="utf-8")
    assert _verify("--against", str(kept))[0] == 0
    remove_append_only_guard(migrated_url)
    with transaction(session_factory) as session:
        session.execute(AuditEntry.__table__.delete().where(AuditEntry.sequence > 3))
        session.execute(
            AuditCheckpoint.__table__.delete()  # the forger also removes the checkpoint
        )
    code, output = _verify("--against", str(kept))
    assert code == 1
    assert "checkpoint beyond log" in output
    assert "checkpoint withdrawn" in output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(web_context: WebContext) -> Iterator[str]:
    """The real app served over HTTP on a local port."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(web_context), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_verify_against_the_live_head_url(
    session_factory: SessionFactory, migrated_url: str, cli_env: None, served: str
) -> None:
    """AUD-1: `lfr audit verify --against URL` fetches the signed head or the feed from the
    running service and checks the database against it."""
    for _ in range(3):
        _note(session_factory)
    assert _verify("--against", f"{served}/api/public/audit/head")[0] == 0
    code, output = _verify("--against", f"{served}/api/public/audit/checkpoints")
    assert code == 0, output
