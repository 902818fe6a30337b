"""Separation of duties (issue 13; SPEC "People and roles": an administrator never sees
biometric data): the two-person rule for roles that read biometrics, a second factor for
each of them, one-time passwords that cannot be kept, common passwords refused, and an
audit view that gives administrators actions and objects, not what was written about a
person. Plus the account administration of issue 12."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from lfr.audit import AuditEntry, record
from lfr.cli import app as cli_app
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import BIOMETRIC_ROLES, Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import people
from lfr.services.people import mark_one_time
from lfr.settings import get_settings
from lfr.web.context import WebContext
from lfr.web.signin import SECOND_FACTOR_ROLES
from tests.db_fixtures import PERSONA_PASSWORD, Personas, trained_account
from tests.web.test_sign_in import csrf_of, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
def second_admin(session_factory: SessionFactory) -> Actor:
    with transaction(session_factory) as session:
        return trained_account(
            session,
            username="administrator-2",
            display_name="Second Administrator",
            rank=Rank.STAFF,
            roles=(Role.ADMINISTRATOR,),
        )


def _roles(factory: SessionFactory, user_id: str) -> frozenset[Role]:
    with transaction(factory) as session:
        return people.get_user(session, user_id).roles


def test_an_administrator_cannot_give_an_account_a_biometric_role_alone(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor
) -> None:
    """Issue 13: an administrator created a reviewer and read 12/13 watchlist images. Now
    the reviewer role waits for a second administrator; the requester cannot approve."""
    with transaction(session_factory) as session:
        user = people.create_user(
            session,
            actor=personas.administrator,
            username="new-reviewer",
            display_name="New Reviewer",
            rank=Rank.STAFF,
            password=people.generate_password(),
            roles=[Role.REVIEWER, Role.ENGINEER],
        )
        (grant,) = people.pending_grants(session)
        user_id, grant_id = user.id, grant.id
    assert _roles(session_factory, user_id) == {Role.ENGINEER}
    with pytest.raises(Refusal, match="second administrator"), transaction(session_factory) as s:
        people.decide_grant(s, actor=personas.administrator, grant_id=grant_id, approve=True)
    assert _roles(session_factory, user_id) == {Role.ENGINEER}
    with transaction(session_factory) as session:
        people.decide_grant(session, actor=second_admin, grant_id=grant_id, approve=True)
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))
    assert _roles(session_factory, user_id) == {Role.ENGINEER, Role.REVIEWER}
    assert actions[-3:] == ["user.create", "user.roles_requested", "user.roles_approved"]


def test_set_roles_holds_back_biometric_roles_and_a_refusal_grants_nothing(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor
) -> None:
    with transaction(session_factory) as session:
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=personas.outsider.user_id,
            roles={Role.OPERATOR, Role.OVERSIGHT},
            reason="joins the team",
        )
        (grant,) = people.pending_grants(session)
        grant_id = grant.id
    assert _roles(session_factory, personas.outsider.user_id) == {Role.OVERSIGHT}
    with transaction(session_factory) as session:
        people.decide_grant(
            session, actor=second_admin, grant_id=grant_id, approve=False, reason="not trained"
        )
    assert _roles(session_factory, personas.outsider.user_id) == {Role.OVERSIGHT}


def test_every_biometric_role_needs_a_second_factor() -> None:
    assert BIOMETRIC_ROLES <= SECOND_FACTOR_ROLES
    assert Role.REVIEWER in BIOMETRIC_ROLES


@pytest.mark.parametrize("persona", ["operator", "auditor", "engagement-officer", "applicant"])
def test_biometric_roles_sign_in_with_a_second_factor(
    app_client: TestClient, personas: Personas, persona: str
) -> None:
    """Issue 13: the reviewer had no second factor; a password alone reached the probes."""
    assert sign_in(app_client, persona, PERSONA_PASSWORD) == (303, "/sign-in/second-factor")


def test_a_one_time_password_cannot_become_the_password(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    """Issue 13: the one-time password was accepted as the new one."""
    with transaction(web_context.db) as db:
        mark_one_time(db, personas.engineer.user_id)
    assert sign_in(app_client, "engineer", PERSONA_PASSWORD) == (303, "/account/password")
    page = app_client.get("/account/password")
    response = app_client.post(
        "/account/password",
        data={
            "new_password": PERSONA_PASSWORD,
            "repeat": PERSONA_PASSWORD,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "must differ from the current password" in response.text


@pytest.mark.parametrize(
    "password", ["Password1234", "qwertyuiop123", "iloveyou2024!", "Engineer12345"]
)
def test_common_and_guessable_passwords_are_refused(
    session_factory: SessionFactory, personas: Personas, password: str
) -> None:
    """NIST SP 800-63B: checked against zxcvbn's lists of breached and common passwords,
    names and words, besides the length."""
    with (
        pytest.raises(Refusal, match="common or easily guessed"),
        transaction(session_factory) as s,
    ):
        people.set_password(
            s, actor=personas.engineer, user_id=personas.engineer.user_id, password=password
        )


def test_administrator_audit_view_shows_actions_not_free_text(
    session_factory: SessionFactory, personas: Personas, client_for
) -> None:
    """Issue 13: the audit log showed the administrator subject references, watchlist
    reasons and dismissal notes; it stays with reviewers and oversight."""
    secret = "PNC-4711 wanted for robbery at the bank"
    with transaction(session_factory) as session:
        record(
            session,
            actor=personas.applicant,
            action="watchlist.add_entry",
            object_type="watchlist",
            object_id="w-1",
            summary=f"entry {secret} added",
            reason=secret,
        )
    admin_page = client_for(personas.administrator).get("/audit").text
    admin_json = client_for(personas.administrator).get("/api/audit/entries").json()
    reviewer_page = client_for(personas.auditor).get("/audit").text
    assert "watchlist.add_entry" in admin_page
    assert "PNC-4711" not in admin_page
    assert "PNC-4711" not in str(admin_json)
    assert "PNC-4711" in reviewer_page


# --- account administration (issue 12) -------------------------------------------------------


@pytest.mark.parametrize(
    "lookalike",
    [
        "Operator",
        "OPERATOR",
        "\uff4fperator",
        "operator\u200b",
        "\u043eperator",  # Cyrillic о
        "\u039fPERATOR",  # Greek capital omicron
        "operat\u03bfr",  # Greek small omicron
    ],
)
def test_an_account_name_that_reads_as_anothers_is_refused(
    personas: Personas, client_for, lookalike: str
) -> None:
    """People and roles: an account is named by its sign-in name in assignments and in the
    audit ("account operator"). A second account named "Operator", "ｏperator" in
    full-width letters or "оperator" with a Cyrillic о would read as the first there; it is
    refused as taken."""
    admin = client_for(personas.administrator)
    body = {"username": lookalike, "display_name": "Someone else", "rank": "CONSTABLE"}
    response = admin.post("/api/people", json=body)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["field"] == "username"
    assert "taken" in problem["reason"]


def test_disabling_an_account_ends_its_session_at_once(personas: Personas, client_for) -> None:
    operator = client_for(personas.operator)
    admin = client_for(personas.administrator)
    assert operator.get("/api/people", follow_redirects=False).status_code == 403  # signed in
    response = admin.post(
        f"/api/people/{personas.operator.user_id}/disable", json={"reason": "left the force"}
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert operator.get("/console", follow_redirects=False).status_code == 303
    assert operator.get("/api/alerts").status_code == 401
    enabled = admin.post(
        f"/api/people/{personas.operator.user_id}/enable", json={"reason": "returned"}
    )
    assert enabled.json()["active"] is True


def test_password_reset_issues_a_one_time_password(
    app_client: TestClient, personas: Personas, client_for
) -> None:
    admin = client_for(personas.administrator)
    response = admin.post(
        f"/people/{personas.engineer.user_id}/password-reset", data={"reason": "forgotten"}
    )
    assert response.status_code == 200
    one_time = response.text.split('id="one-time-password">')[1].split("<")[0]
    assert sign_in(app_client, "engineer", PERSONA_PASSWORD)[1] != "/"
    app_client.cookies.clear()
    assert sign_in(app_client, "engineer", one_time) == (303, "/account/password")


def test_second_factor_reset_removes_it_and_needs_a_new_one_time_password(
    session_factory: SessionFactory, personas: Personas, client_for
) -> None:
    with transaction(session_factory) as session:
        user = session.get(User, personas.engineer.user_id)
        assert user is not None
        user.totp_secret = pyotp.random_base32().encode()
    admin = client_for(personas.administrator)
    response = admin.post(
        f"/api/people/{personas.engineer.user_id}/second-factor-reset",
        json={"reason": "lost phone"},
    )
    assert response.status_code == 200
    assert len(response.json()["one_time_password"]) >= 20
    with transaction(session_factory) as session:
        user = session.get(User, personas.engineer.user_id)
        assert user is not None
        assert user.totp_secret is None
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))
    assert actions[-2:] == ["user.reset_second_factor", "user.reset_password"]


def test_an_administrator_cannot_disable_themselves(personas: Personas, client_for) -> None:
    admin = client_for(personas.administrator)
    response = admin.post(
        f"/api/people/{personas.administrator.user_id}/disable", json={"reason": "x"}
    )
    assert response.status_code == 422


def test_users_commands_administer_accounts(
    session_factory: SessionFactory,
    personas: Personas,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`lfr users disable | enable | set-roles | reset-password | reset-second-factor`."""
    monkeypatch.setenv("LFR_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        steps = [
            ["users", "disable", "engineer", "--reason", "left"],
            ["users", "enable", "engineer", "--reason", "back"],
            ["users", "set-roles", "engineer", "--role", "engineer", "--role", "oversight",
             "--reason", "also oversight"],
            ["users", "reset-password", "engineer", "--reason", "forgotten"],
            ["users", "reset-second-factor", "engineer", "--reason", "lost phone"],
        ]  # fmt: skip
        for step in steps:
            result = runner.invoke(cli_app, step)
            assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    assert _roles(session_factory, personas.engineer.user_id) == {Role.ENGINEER, Role.OVERSIGHT}
    with transaction(session_factory) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))
    assert {"user.disable", "user.enable", "user.set_roles", "user.reset_password"} <= set(actions)
