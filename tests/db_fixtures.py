"""Database fixtures for every area (a pytest plugin loaded by tests/conftest.py).

- ``database_url``: an empty database; SQLite (a temporary file) always, and PostgreSQL when
  ``LFR_TEST_POSTGRES_URL`` is set (each test gets its own schema, dropped afterwards).
- ``migrated_url``: the same, with every Alembic migration applied (so migrations are what
  the tests exercise).
- ``session_factory``: sessions bound to the migrated database, opened with the test
  settings' keys (`TEST_SETTINGS`, as `lfr.system.build` opens it); use it with
  ``lfr.db.session.transaction``.
- ``personas``: one account per role of SPEC's table, trained for its roles; each attribute
  is an ``Actor`` (``personas.silver.user_id`` is the account id).

Mark tests that use them ``@pytest.mark.db``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lfr import demo
from lfr.db.migrate import upgrade
from lfr.db.session import SessionFactory, make_engine, make_session_factory, transaction
from lfr.domain.people import Actor, Rank, Role
from lfr.keyring import bind_keys
from lfr.services import people
from lfr.services.policy import GovernancePolicy
from lfr.settings import Settings

POSTGRES_ENV = "LFR_TEST_POSTGRES_URL"
PERSONA_PASSWORD = "correct horse battery staple"
TEST_SETTINGS = Settings(environment="test")
"""The settings the test databases are opened with (their keys are the built-in ones)."""
POLICY = GovernancePolicy.from_settings(TEST_SETTINGS)
"""The governance limits of the test settings, for tests that call a service directly."""


def keyed_engine(url: str, **options: object) -> Engine:
    """An engine on `url` with the test settings' biometric and audit keys bound."""
    return bind_keys(make_engine(url, **options), TEST_SETTINGS)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Argon2 with small parameters: the same algorithm, a fraction of the time per account."""
    people.configure_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _postgres_schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) on each configured backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    admin = make_engine(os.environ[POSTGRES_ENV])
    schema = f"t_{uuid.uuid4().hex}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(os.environ[POSTGRES_ENV], schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database in `tmp_path`: for the modules whose behaviour does not
    depend on the database engine (pages, documents, route gates), which override
    `database_url` with it so that they run once, the integration and web tests covering
    both engines."""
    return f"sqlite:///{tmp_path / 'lfr.db'}"


ON_SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For a test whose subject does not depend on the database engine (a broker's
permissions, the memory of an upload fuzz run): it runs once, on SQLite."""


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per run; each test gets a copy (faster than re-running)."""
    path = tmp_path_factory.mktemp("template") / "lfr.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated_url(database_url: str, request: pytest.FixtureRequest) -> str:
    """``database_url`` with every migration applied."""
    if database_url.startswith("sqlite:///"):
        template = request.getfixturevalue("_migrated_sqlite_template")
        shutil.copyfile(template, database_url.removeprefix("sqlite:///"))
    else:
        upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = keyed_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> SessionFactory:
    return make_session_factory(engine)


AUDIT_TABLES = ("audit_entry", "audit_checkpoint")


def _drop_guard(
    url: str, postgres_functions: Sequence[str], sqlite_triggers: Sequence[str]
) -> None:
    """Drop a guard's triggers, as an attacker with the database owner's rights could."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                for function in postgres_functions:
                    connection.execute(text(f"DROP FUNCTION {function}() CASCADE"))
                return
            for trigger in sqlite_triggers:
                connection.execute(text(f"DROP TRIGGER {trigger}"))
    finally:
        engine.dispose()


AUDIT_HEAD_TRIGGERS = ("audit_head_forward", "audit_head_no_insert", "audit_head_no_delete")


def remove_append_only_guard(url: str) -> None:
    """Drop the triggers that keep the audit tables append-only and the chain head moving
    forward only; what remains to catch tampering is the chain, its seal and checkpoints."""
    triggers = [f"{table}_no_{event}" for table in AUDIT_TABLES for event in ("update", "delete")]
    _drop_guard(
        url, ["lfr_append_only", "lfr_audit_head_forward"], [*triggers, *AUDIT_HEAD_TRIGGERS]
    )


def remove_frozen_authority_guard(url: str) -> None:
    """Drop the triggers that freeze a stored authority (migration 0005); what remains to
    catch an edited WAD is its hash, checked on every read and by `lfr audit check`."""
    _drop_guard(url, ["lfr_frozen_authority"], ["authority_frozen", "authority_no_delete"])


@dataclass(frozen=True)
class Personas:
    """One actor per role (SPEC "People and roles"); the authorising officers differ by rank."""

    applicant: Actor
    authorising_officer: Actor  # Superintendent
    inspector: Actor  # authorising officer by rank Inspector: urgent applications only
    chief_officer: Actor
    gold: Actor
    silver: Actor
    bronze: Actor
    operator: Actor
    engagement_officer: Actor
    engineer: Actor
    auditor: Actor
    oversight: Actor
    administrator: Actor
    outsider: Actor  # an account with no role


PERSONA_ROLES: dict[str, tuple[Rank, tuple[Role, ...]]] = {
    "applicant": (Rank.SERGEANT, (Role.APPLICANT,)),
    "authorising_officer": (Rank.SUPERINTENDENT, (Role.AUTHORISING_OFFICER,)),
    "inspector": (Rank.INSPECTOR, (Role.AUTHORISING_OFFICER,)),
    "chief_officer": (Rank.COMMANDER, (Role.CHIEF_OFFICER,)),
    "gold": (Rank.CHIEF_SUPERINTENDENT, (Role.GOLD,)),
    "silver": (Rank.CHIEF_INSPECTOR, (Role.SILVER,)),
    "bronze": (Rank.INSPECTOR, (Role.BRONZE,)),
    "operator": (Rank.STAFF, (Role.OPERATOR,)),
    "engagement_officer": (Rank.CONSTABLE, (Role.ENGAGEMENT_OFFICER,)),
    "engineer": (Rank.STAFF, (Role.ENGINEER,)),
    "auditor": (Rank.STAFF, (Role.REVIEWER,)),
    "oversight": (Rank.STAFF, (Role.OVERSIGHT,)),
    "administrator": (Rank.STAFF, (Role.ADMINISTRATOR,)),
    "outsider": (Rank.CONSTABLE, ()),
}


@pytest.fixture
def personas(session_factory: SessionFactory) -> Personas:
    """Accounts for every persona, each trained for its roles for the coming year (TRN-1)."""
    return make_personas(session_factory)


def make_personas(session_factory: SessionFactory) -> Personas:
    """The personas' accounts on any database (the fixture's, or a benchmark's)."""
    actors: dict[str, Actor] = {}
    with transaction(session_factory) as session:
        for field in fields(Personas):
            rank, roles = PERSONA_ROLES[field.name]
            actors[field.name] = trained_account(
                session,
                username=field.name.replace("_", "-"),
                display_name=field.name.replace("_", " ").title(),
                rank=rank,
                roles=roles,
            )
    return Personas(**actors)


def trained_account(
    session: Session, *, username: str, display_name: str, rank: Rank, roles: Sequence[Role]
) -> Actor:
    """An account created by the console administrator, holding `roles`, each with training
    completed yesterday and valid for the coming year (TRN-1); password `PERSONA_PASSWORD`."""
    user = demo.trained_account(
        session,
        username=username,
        display_name=display_name,
        rank=rank,
        roles=roles,
        password=PERSONA_PASSWORD,
    )
    return people.to_actor(user)


def persona_accounts(personas: Personas) -> dict[str, Actor]:
    """The personas under the demo's account names, for `lfr.demo`'s building steps
    (the one builder of a governance world: authority, watchlist, staffed deployment)."""
    return {
        "applicant": personas.applicant,
        "authoriser": personas.authorising_officer,
        "chief": personas.chief_officer,
        "gold": personas.gold,
        "silver": personas.silver,
        "bronze": personas.bronze,
        "operator": personas.operator,
        "engagement": personas.engagement_officer,
        "engineer": personas.engineer,
    }
