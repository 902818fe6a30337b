"""Alembic migrations are the schema: they match the models and upgrade an empty database."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from lfr.db.migrate import current_revision, downgrade, upgrade
from lfr.db.registry import metadata
from lfr.db.session import make_engine
from lfr.reports.recognition import RecognitionConfig
from lfr.vision.calibration import shipped_calibration_file

pytestmark = pytest.mark.db


def test_upgrade_creates_every_table_and_is_repeatable(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade(database_url)
    upgrade(database_url)  # already at head: nothing to do, no error
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
    assert current_revision(database_url) is not None


def test_migrated_schema_matches_the_models(migrated_url: str) -> None:
    """A model changed without a migration (or the reverse) fails here."""
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(
    database_url: str,
) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(database_url)
    assert current_revision(database_url) is not None


def test_instances_started_together_on_an_empty_database_both_migrate(database_url: str) -> None:
    """Two instances at once on an empty database: one migrates, the other waits for it
    and finds the newest revision (no duplicate alembic_version row, no crash)."""
    barrier = threading.Barrier(3)
    failures: list[BaseException] = []

    def migrate() -> None:
        barrier.wait()
        try:
            upgrade(database_url)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []
    assert current_revision(database_url) is not None


LEGACY = (("conditioned", 0.96), ("as-applied", None))


def _insert_legacy_deployments(database_url: str) -> None:
    """Two deployments as stored at revision 0008, without their accounts or authorities
    (foreign keys not enforced for these rows: the raw SQLite connection's default, a
    replica session on PostgreSQL)."""
    insert = (
        "INSERT INTO deployment (id, authority_id, status, places, cameras, alert_threshold, "
        "created_by, created_at, refused_alerts) VALUES "
        "(:id, :id, 'ended', '[]', '[]', :threshold, 'u', '2026-12-01 10:00:00+00:00', 0)"
    )
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            for name, threshold in LEGACY:
                connection.execute(insert, {"id": name, "threshold": threshold})
        return
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for name, threshold in LEGACY:
                connection.execute(text(insert), {"id": name, "threshold": threshold})
    finally:
        engine.dispose()


def test_deployments_from_before_0009_are_given_the_shipped_engines_configuration(
    database_url: str,
) -> None:
    """REC-2: a deployment stored before recognition configurations were recorded gets the
    one the shipped engine resolves for it (its authority's threshold, else the shipped
    default, with the shipped calibration), so every reader finds one."""
    upgrade(database_url, "0008")
    _insert_legacy_deployments(database_url)
    upgrade(database_url)
    shipped = shipped_calibration_file("dlib-resnet-v1")
    assert shipped is not None
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            selected = connection.execute(text("SELECT id, recognition FROM deployment"))
            rows = {str(row[0]): str(row[1]) for row in selected}
            texts = connection.execute(text("SELECT calibration FROM deployment")).scalars()
            assert set(texts) == {shipped.text}
    finally:
        engine.dispose()
    for name, threshold in LEGACY:
        recorded = RecognitionConfig.model_validate_json(rows[name])
        assert recorded.threshold == (threshold or 0.946)
        assert recorded.threshold_source == ("authority" if threshold else "engine setting")
        assert recorded.calibration is not None
        assert recorded.calibration.sha256 == shipped.sha256
