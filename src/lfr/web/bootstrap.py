"""First run: migrations and the bootstrap administrator."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from lfr.audit.log import request_id_var
from lfr.db.migrate import hold_first_start_lock, upgrade
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import Rank, Role
from lfr.domain.redaction import redacted
from lfr.keyring import open_database
from lfr.services import people
from lfr.settings import Settings
from lfr.web.context import WebContext
from lfr.web.signin import mark_one_time

log = logging.getLogger("lfr.serve")

BOOTSTRAP_USERNAME = "admin"


@dataclass(frozen=True, slots=True)
class Bootstrap:
    username: str
    one_time_password: str


def prepare_database(settings: Settings) -> SessionFactory:
    """Applies every migration, then returns sessions on the database, opened with the
    settings' keys (`lfr.keyring`)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log.info("database: %s", _printable_url(settings.database_url))
    upgrade(settings.database_url)
    log.info("database migrated to the newest revision")
    return open_database(settings)


def ensure_administrator(db: SessionFactory) -> Bootstrap | None:
    """On an empty database, creates the administrator whose one-time password the caller
    prints; its first sign-in must replace the password and add a second factor."""
    with transaction(db) as session:
        hold_first_start_lock(session)  # instances started together: one creates it
        if session.scalar(select(func.count()).select_from(User)):
            return None
        password = people.generate_password()
        user = people.create_user(
            session,
            actor=people.console_actor(),
            username=BOOTSTRAP_USERNAME,
            display_name="Administrator",
            rank=Rank.STAFF,
            password=password,
            roles=[Role.ADMINISTRATOR],
        )
        mark_one_time(session, user.id)
    return Bootstrap(username=BOOTSTRAP_USERNAME, one_time_password=password)


def web_context(settings: Settings, db: SessionFactory) -> WebContext:
    return WebContext(settings=settings, db=db, request_id_var=request_id_var)


def _printable_url(url: str) -> str:
    return redacted(url)
