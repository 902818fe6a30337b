"""The JSON sign-in for scripts: password, then the second factor (enrolled with its first
right code where none was yet), each step with its own CSRF token; refusals in the one
shape and never saying which part was wrong."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.db_fixtures import PERSONA_PASSWORD, Personas

pytestmark = pytest.mark.db


def opened(client: TestClient) -> str:
    state = client.get("/api/session").json()
    assert state["stage"] == "anonymous"
    client.headers["X-CSRF-Token"] = state["csrf_token"]
    return str(state["csrf_token"])


def test_password_then_second_factor_over_json(app_client: TestClient, personas: Personas) -> None:
    first = opened(app_client)
    wrong = app_client.post("/api/session", json={"username": "silver", "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"][0]["rule"] == "sign-in"
    assert "check the account name and password" in wrong.json()["detail"][0]["reason"]
    step = app_client.post(
        "/api/session", json={"username": "silver", "password": PERSONA_PASSWORD}
    ).json()
    assert step["stage"] == "second_factor"
    assert step["csrf_token"] != first  # a new session at each step (no fixation)
    app_client.headers["X-CSRF-Token"] = step["csrf_token"]
    assert app_client.get("/api/me").status_code == 401  # not signed in yet
    secret = parse_qs(urlparse(step["enrolment_uri"]).query)["secret"][0]
    bad = app_client.post("/api/session/second-factor", json={"code": "000000"})
    assert bad.status_code == 401
    signed = app_client.post(
        "/api/session/second-factor", json={"code": pyotp.TOTP(secret).now()}
    ).json()
    assert signed["stage"] == "signed_in"
    assert signed["enrolment_uri"] is None
    app_client.headers["X-CSRF-Token"] = signed["csrf_token"]
    assert app_client.get("/api/me").json()["user_id"] == personas.silver.user_id
    assert app_client.delete("/api/session").status_code == 204
    assert app_client.get("/api/me").status_code == 401


def test_a_password_only_role_is_signed_in_at_once(
    app_client: TestClient, personas: Personas
) -> None:
    opened(app_client)
    state = app_client.post(
        "/api/session", json={"username": "oversight", "password": PERSONA_PASSWORD}
    ).json()
    assert state["stage"] == "signed_in"
    app_client.headers["X-CSRF-Token"] = state["csrf_token"]
    assert app_client.get("/api/me").json()["roles"] == ["oversight"]


def test_the_password_step_needs_the_sessions_csrf_token(
    app_client: TestClient, personas: Personas
) -> None:
    opened(app_client)
    app_client.headers["X-CSRF-Token"] = "forged"
    refused = app_client.post(
        "/api/session", json={"username": "operator", "password": PERSONA_PASSWORD}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["rule"] == "access"
