"""Signing in: password, second factor for deciding and commanding roles, one-time
passwords, lockout, CSRF and session expiry."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from lfr.db.base import utcnow
from lfr.db.session import transaction
from lfr.db.web_sessions import WebSession
from lfr.services import people
from lfr.services.people import mark_one_time
from lfr.web.context import WebContext
from tests.db_fixtures import PERSONA_PASSWORD, Personas

pytestmark = pytest.mark.db


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str) -> tuple[int, str]:
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("location", response.text)


def test_engineer_signs_in_with_password_only(app_client: TestClient, personas: Personas) -> None:
    """A role that never sees a face signs in with a password; those that do need a second
    factor (tests/security/test_separation_of_duties.py)."""
    status, location = sign_in(app_client, "engineer", PERSONA_PASSWORD)
    assert (status, location) == (303, "/")
    assert app_client.get("/cameras", follow_redirects=False).status_code != 303


def test_session_cookie_is_httponly_and_samesite(
    app_client: TestClient, personas: Personas
) -> None:
    response = app_client.get("/sign-in")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP here; TLS requests get Secure


def test_session_cookie_is_secure_over_tls(web_context: WebContext) -> None:
    from lfr.web.app import create_app

    with TestClient(create_app(web_context), base_url="https://testserver") as client:
        cookie = client.get("/sign-in").headers["set-cookie"].lower()
    assert "secure" in cookie


def test_wrong_password_is_refused_without_saying_which_part(
    app_client: TestClient, personas: Personas
) -> None:
    status, body = sign_in(app_client, "operator", "not the password")
    assert status == 401
    assert "sign-in failed" in body
    status, body = sign_in(app_client, "nobody-by-this-name", "not the password")
    assert status == 401
    assert "sign-in failed" in body


def test_account_locks_after_repeated_failures(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    for _ in range(web_context.account_lock.after_failures):
        sign_in(app_client, "operator", "wrong password here")
    status, body = sign_in(app_client, "operator", PERSONA_PASSWORD)
    assert status == 401
    assert "too many failed attempts" in body


def test_client_address_is_throttled_across_accounts(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    """Trying one password on many accounts from one place is slowed too."""
    limit = web_context.web_settings.max_failed_sign_ins
    for index in range(limit):
        sign_in(app_client, f"guess-{index}", "password guess")
    status, body = sign_in(app_client, "operator", PERSONA_PASSWORD)
    assert status == 401
    assert "too many failed attempts" in body


def second_factor(client: TestClient, code: str) -> tuple[int, str]:
    page = client.get("/sign-in/second-factor")
    response = client.post(
        "/sign-in/second-factor",
        data={"code": code, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("location", response.text)


def test_silver_needs_a_second_factor_and_enrols_one(
    app_client: TestClient, personas: Personas
) -> None:
    status, location = sign_in(app_client, "silver", PERSONA_PASSWORD)
    assert (status, location) == (303, "/sign-in/second-factor")
    assert app_client.get("/console", follow_redirects=False).status_code == 303
    page = app_client.get("/sign-in/second-factor").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret, "enrolment shows the secret"
    status, _ = second_factor(
        app_client, "000000" if pyotp.TOTP(secret.group(1)).now() != "000000" else "111111"
    )
    assert status == 401
    status, location = second_factor(app_client, pyotp.TOTP(secret.group(1)).now())
    assert (status, location) == (303, "/")
    assert app_client.get("/console").status_code == 200


def test_a_second_factor_code_works_only_once(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    secret = pyotp.random_base32()
    with transaction(web_context.db) as db:
        people.get_user(db, personas.silver.user_id).totp_secret = secret.encode()
    code = pyotp.TOTP(secret).now()
    sign_in(app_client, "silver", PERSONA_PASSWORD)
    assert second_factor(app_client, code)[0] == 303
    app_client.cookies.clear()
    sign_in(app_client, "silver", PERSONA_PASSWORD)
    status, body = second_factor(app_client, code)
    assert status == 401
    assert "already used" in body


def test_one_time_password_must_be_replaced(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    with transaction(web_context.db) as db:
        mark_one_time(db, personas.engineer.user_id)
    status, location = sign_in(app_client, "engineer", PERSONA_PASSWORD)
    assert (status, location) == (303, "/account/password")
    assert app_client.get("/cameras", follow_redirects=False).status_code == 303
    page = app_client.get("/account/password")
    response = app_client.post(
        "/account/password",
        data={
            "new_password": "a much better password",
            "repeat": "a much better password",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert app_client.get("/cameras").status_code == 200
    app_client.cookies.clear()
    assert sign_in(app_client, "engineer", "a much better password") == (303, "/")


def test_post_without_csrf_token_is_refused(app_client: TestClient, personas: Personas) -> None:
    app_client.get("/sign-in")
    response = app_client.post(
        "/sign-in", data={"username": "operator", "password": PERSONA_PASSWORD}
    )
    assert response.status_code == 403
    assert "security token is missing" in response.text


def test_csrf_token_of_an_ended_session_is_refused(
    app_client: TestClient, personas: Personas
) -> None:
    """A token captured before sign-out (a replay) does not work in the next session."""
    sign_in(app_client, "engineer", PERSONA_PASSWORD)
    old_token = csrf_of(app_client.get("/").text)
    response = app_client.post("/sign-out", data={"csrf_token": old_token}, follow_redirects=False)
    assert response.status_code == 303
    sign_in(app_client, "engineer", PERSONA_PASSWORD)
    replay = app_client.post("/sign-out", data={"csrf_token": old_token})
    assert replay.status_code == 403
    assert "not valid for this session" in replay.text


def test_csrf_token_of_another_session_is_refused(client_for, personas: Personas) -> None:
    operator = client_for(personas.operator)
    applicant = client_for(personas.applicant)
    foreign = applicant.headers["X-CSRF-Token"]
    response = operator.post("/sign-out", headers={"X-CSRF-Token": foreign})
    assert response.status_code == 403


def test_idle_session_expires(client_for, personas: Personas, web_context: WebContext) -> None:
    client = client_for(personas.operator)
    assert client.get("/console").status_code == 200
    idle = timedelta(minutes=web_context.web_settings.session_idle_minutes + 1)
    with transaction(web_context.db) as db:
        db.execute(update(WebSession).values(last_seen_at=utcnow() - idle))
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
    assert client.get("/api/me").status_code == 401


def test_disabled_account_loses_its_session(
    client_for, personas: Personas, web_context: WebContext
) -> None:
    client = client_for(personas.operator)
    with transaction(web_context.db) as db:
        people.get_user(db, personas.operator.user_id).active = False
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_sign_in_refuses_open_redirects(app_client: TestClient, personas: Personas) -> None:
    form = app_client.get("/sign-in?next=//evil.example/")
    assert 'value="/"' in form.text


def test_api_reference_is_served_without_a_cdn(app_client: TestClient) -> None:
    page = app_client.get("/api/docs")
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")
    schema = app_client.get("/api/openapi.json").json()
    assert "/api/alerts" in schema["paths"]
    assert app_client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
