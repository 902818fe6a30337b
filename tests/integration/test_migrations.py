"""Alembic migrations are the schema: they match the models and upgrade an empty database."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from lfr.db.migrate import current_revision, downgrade, upgrade
from lfr.db.registry import metadata
from lfr.db.session import make_engine

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
