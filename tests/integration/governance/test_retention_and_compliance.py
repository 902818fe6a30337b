"""Retention runs (DP-1, DP-3, WL-6) and compliance checks (AUD-2), services and CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lfr.audit import AuditEntry, verify
from lfr.cli import app
from lfr.db.base import utcnow
from lfr.db.governance import AlertProbeRow, AlertRow, AuthorityRow, WatchlistImageRow
from lfr.db.people import TrainingRecord
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import TimeWindow
from lfr.services import alerts, deployments
from lfr.services.compliance import Level, check_compliance
from lfr.services.retention import (
    RUN_ACTION,
    last_retention_run,
    run_retention,
    run_retention_if_due,
)
from lfr.settings import get_settings
from tests.db_fixtures import POLICY, Personas, remove_frozen_authority_guard
from tests.integration.governance.world import CAMERAS, PLACES, World, approved, match_event

pytestmark = pytest.mark.db


def counts(factory: SessionFactory) -> tuple[int, int, int]:
    with transaction(factory) as session:
        return (
            session.scalar(select(func.count()).select_from(AlertRow)) or 0,
            session.scalar(select(func.count()).select_from(AlertProbeRow)) or 0,
            session.scalar(select(func.count()).select_from(WatchlistImageRow)) or 0,
        )


def aged_alert(session: Session, world: World, faces_dir: Path, *, days: int) -> str:
    """An alert raised now, then aged by `days` (as if it had been raised then)."""
    alert_id = alerts.create_alert(session, match_event(world, faces_dir), policy=POLICY).id
    created = utcnow() - timedelta(days=days)
    session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(created_at=created))
    return alert_id


def test_retention_deletes_due_alerts_and_audits_each(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """DP-1: an alert older than 31 days goes with its probe, one audit entry each; a
    younger one and a held one stay (DP-3)."""
    now = utcnow()
    with transaction(session_factory) as session:
        old = aged_alert(session, world, faces_dir, days=32)
        held = aged_alert(session, world, faces_dir, days=40)
        young = aged_alert(session, world, faces_dir, days=30)
        alerts.hold_alert(
            session,
            personas.auditor,
            held,
            "Operation X",
            (now + timedelta(days=10)).date(),
            policy=POLICY,
        )
    with transaction(session_factory) as session:
        report = run_retention(session, now=now, policy=POLICY)
    assert report.alerts_deleted == 1
    with transaction(session_factory) as session:
        left = set(session.scalars(select(AlertRow.id)))
        deletions = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert.delete")
        ).all()
        assert verify(session).ok
    assert left == {held, young}
    assert [d.object_id for d in deletions] == [old]
    assert deletions[0].reason == "DP-1: kept 31 days"
    assert counts(session_factory)[:2] == (2, 2)
    later = now + timedelta(days=11)
    with transaction(session_factory) as session:
        assert (
            run_retention(session, now=later, policy=POLICY).alerts_deleted == 2
        )  # hold's review passed


def test_retention_destroys_biometrics_after_the_window(
    session_factory: SessionFactory, planned_world: World
) -> None:
    """WL-6: a deployment that never ran keeps no biometrics past its window's end."""
    with transaction(session_factory) as session:
        assert run_retention(session, policy=POLICY).watchlists_destroyed == 0
    assert counts(session_factory)[2] == 2
    after_window = utcnow() + timedelta(hours=5)
    with transaction(session_factory) as session:
        report = run_retention(session, now=after_window, policy=POLICY)
    assert (report.watchlists_destroyed, report.images_destroyed) == (1, 3)
    assert counts(session_factory)[2] == 0
    with transaction(session_factory) as session:
        assert run_retention(session, now=after_window, policy=POLICY).watchlists_destroyed == 0


def test_running_deployment_in_order(session_factory: SessionFactory, world: World) -> None:
    """AUD-2: an authority in force and a running deployment in order give no failure."""
    with transaction(session_factory) as session:
        findings = check_compliance(session, policy=POLICY)
    assert [f for f in findings if f.level is Level.FAILURE] == []
    assert {("AUTH-2", Level.OK), ("DEP-1", Level.OK)} <= {(f.rule, f.level) for f in findings}


def test_compliance_finds_lapsed_training_and_a_changed_window(
    session_factory: SessionFactory, personas: Personas, world: World, migrated_url: str
) -> None:
    """AUD-2: an assigned operator whose training lapses, and WAD query columns edited
    behind the WAD's back (by someone who first removed the database's guard), are
    failures."""
    remove_frozen_authority_guard(migrated_url)
    with transaction(session_factory) as session:
        # the operator's training record ran out yesterday, mid-deployment
        session.execute(
            update(TrainingRecord)
            .where(TrainingRecord.user_id == personas.operator.user_id)
            .values(expires_at=utcnow() - timedelta(days=1))
        )
        session.execute(
            update(AuthorityRow)
            .where(AuthorityRow.id == world.authority_id)
            .values(window_end=utcnow() + timedelta(days=30))
        )
    with transaction(session_factory) as session:
        failures = {
            (f.rule, f.subject.split()[0])
            for f in check_compliance(session, policy=POLICY)
            if f.level is Level.FAILURE
        }
    assert ("TRN-1", "deployment") in failures
    assert ("AUTH-5", "authority") in failures


def test_overdue_retention_is_a_failure(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """AUD-2/DP-1/WL-6: what retention should have deleted is reported until it is."""
    with transaction(session_factory) as session:
        aged_alert(session, world, faces_dir, days=40)
        deployments.end_deployment(
            session,
            personas.silver,
            world.deployment_id,
            policy=POLICY,
        )
    with transaction(session_factory) as session:
        failing = {
            f.rule for f in check_compliance(session, policy=POLICY) if f.level is Level.FAILURE
        }
    assert failing == {"DP-1"}  # the end destroyed the biometrics already (WL-6)
    with transaction(session_factory) as session:
        run_retention(session, policy=POLICY)
        assert [
            f for f in check_compliance(session, policy=POLICY) if f.level is Level.FAILURE
        ] == []


@pytest.fixture
def cli(migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_check_and_retention_run(
    cli: CliRunner, session_factory: SessionFactory, world: World, faces_dir: Path
) -> None:
    """AUD-2/DP-1: `lfr audit check` exits 1 on a failure; `lfr retention run` fixes it."""
    with transaction(session_factory) as session:
        aged_alert(session, world, faces_dir, days=40)
    checked = cli.invoke(app, ["audit", "check"])
    assert checked.exit_code == 1, checked.output
    assert "DP-1" in checked.output
    ran = cli.invoke(app, ["retention", "run"])
    assert ran.exit_code == 0, ran.output
    assert "deleted 1 alert(s)" in ran.output
    rechecked = cli.invoke(app, ["audit", "check"])
    assert rechecked.exit_code == 0, rechecked.output
    assert "0 failure(s)" in rechecked.output
    published = cli.invoke(app, ["retention", "policy"])
    assert "31 days" in published.output


def test_planned_deployments_not_ready_are_warnings(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """AUD-2/DEP-1: a planned deployment's unmet conditions are warnings, not failures, and
    a window that has not opened yet is not one of them."""
    tomorrow = utcnow() + timedelta(days=1)
    window = TimeWindow(tomorrow, tomorrow + timedelta(hours=4))
    authority_id = approved(session_factory, personas, consult=False, window=window)
    with transaction(session_factory) as session:
        deployments.plan_deployment(
            session, personas.silver, authority_id, [PLACES[0]], [CAMERAS[0]], policy=POLICY
        )
    with transaction(session_factory) as session:
        findings = check_compliance(session, policy=POLICY)
    not_ready = {(f.rule, f.level) for f in findings if "not ready" in f.subject}
    assert ("AUTH-4", Level.WARNING) in not_ready
    assert ("DEP-1", Level.WARNING) in not_ready  # nobody assigned yet
    assert all(f.level is not Level.FAILURE for f in findings)
    assert not any("window" in f.detail for f in findings if "not ready" in f.subject)


def test_retention_runs_when_due_and_records_each_run(
    session_factory: SessionFactory, world: World
) -> None:
    """DP-1: what a scheduler calls: a run when the interval has passed since the last
    recorded one, recorded as one audit entry; not before."""
    hour = timedelta(hours=1)
    with transaction(session_factory) as session:
        assert last_retention_run(session) is None
        assert run_retention_if_due(session, interval=hour, policy=POLICY) is not None
    with transaction(session_factory) as session:
        ran_at = last_retention_run(session)
        assert ran_at is not None
        assert run_retention_if_due(session, interval=hour, policy=POLICY) is None
        assert (
            run_retention_if_due(session, interval=hour, now=ran_at + 2 * hour, policy=POLICY)
            is not None
        )
    with transaction(session_factory) as session:
        runs = session.scalars(select(AuditEntry).where(AuditEntry.action == RUN_ACTION)).all()
        assert len(runs) == 2
        assert runs[0].object_type == "retention"
        shown = [f for f in check_compliance(session, policy=POLICY) if f.subject == "retention"]
        assert [(f.rule, f.level) for f in shown] == [("DP-1", Level.OK)]
        assert shown[0].detail.startswith("last ran ")
