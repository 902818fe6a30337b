"""First run: the bootstrap administrator's one-time password works once, and the first
sign-in demands a second factor and a new password before anything else."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.db.session import transaction
from lfr.demo import seed_accounts
from lfr.keyring import prepare_database
from lfr.services.people import ensure_administrator
from lfr.settings import Settings
from lfr.web.app import create_app
from lfr.web.context import web_context

pytestmark = pytest.mark.db


def csrf(page: str) -> str:
    return re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]


def test_first_run_administrator_must_add_second_factor_and_new_password(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path)
    db = prepare_database(settings)
    bootstrap = ensure_administrator(db)
    assert bootstrap is not None
    assert ensure_administrator(db) is None  # only on an empty database
    client = TestClient(create_app(web_context(settings, db)))
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "username": "admin",
            "password": bootstrap.one_time_password,
            "csrf_token": csrf(form.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/sign-in/second-factor"
    page = client.get("/sign-in/second-factor").text
    secret = re.findall(r'id="totp-secret">([A-Z2-7]+)<', page)[0]
    response = client.post(
        "/sign-in/second-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf(page)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account/password"
    assert client.get("/people", follow_redirects=False).status_code == 303
    page = client.get("/account/password").text
    short = client.post(
        "/account/password",
        data={"new_password": "short", "repeat": "short", "csrf_token": csrf(page)},
    )
    assert short.status_code == 422
    assert "12 characters" in short.text
    page = client.get("/account/password").text
    client.post(
        "/account/password",
        data={
            "new_password": "a long new password",
            "repeat": "a long new password",
            "csrf_token": csrf(page),
        },
    )
    assert client.get("/people").status_code == 200


def test_demo_second_factors_are_enrolled_with_audit_entries(tmp_path: Path) -> None:
    """AUD-1: the demo's TOTP secrets are set through the people service, each audited."""
    db = prepare_database(Settings(environment="test", data_dir=tmp_path))
    accounts = seed_accounts(db)
    with transaction(db) as session:
        enrolled = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.second_factor_enrolled")
        ).all()
    with_factor = {a.actor.user_id for a in accounts.values() if a.totp_secret is not None}
    assert with_factor
    assert {entry.object_id for entry in enrolled} == with_factor
    assert all(entry.actor_id.startswith("console:") for entry in enrolled)
