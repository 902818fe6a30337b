"""No single person can grant or take over biometric access (issue 23, item 2; SPEC "People
and roles": nobody grants themselves a role).

Found: an administrator made a second administrator, signed in as it and approved their own
reviewer grant; an administrator reset a reviewer's second factor, received the one-time
password and enrolled their own code; a session that signed in with a password alone while
a grant was pending read probes once it was approved."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.bus.identity import NodeIdentity
from lfr.bus.messages import NodeReport
from lfr.db.people import User
from lfr.db.session import SessionFactory, transaction
from lfr.db.web_sessions import WebSession
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import fleet, people
from lfr.web import signin
from lfr.web.context import WebContext
from tests.db_fixtures import PERSONA_PASSWORD, Personas, trained_account
from tests.web.test_reconciler import signed_origin
from tests.web.test_sign_in import csrf_of, sign_in

pytestmark = pytest.mark.db


def _administrator(factory: SessionFactory, username: str) -> Actor:
    """An administrator made at the server's console (as the first two are)."""
    with transaction(factory) as session:
        return trained_account(
            session,
            username=username,
            display_name=username.replace("-", " ").title(),
            rank=Rank.STAFF,
            roles=(Role.ADMINISTRATOR,),
        )


@pytest.fixture
def second_admin(session_factory: SessionFactory) -> Actor:
    return _administrator(session_factory, "administrator-2")


def _roles(factory: SessionFactory, user_id: str) -> frozenset[Role]:
    with transaction(factory) as session:
        return people.get_user(session, user_id).roles


def _sessions_of(factory: SessionFactory, user_id: str) -> int:
    with transaction(factory) as session:
        return len(list(session.scalars(select(WebSession).where(WebSession.user_id == user_id))))


def test_one_administrator_cannot_make_another_and_approve_through_it(
    session_factory: SessionFactory, personas: Personas, client_for
) -> None:
    """Finding (a): the administrator role was not held back, so its holder made a second
    administrator and approved their own reviewer grant through it."""
    admin = client_for(personas.administrator)
    page = admin.get("/people")
    created = admin.post(
        "/people",
        data={
            "username": "puppet",
            "display_name": "Puppet Account",
            "rank": "STAFF",
            "roles": ["administrator"],
            "csrf_token": csrf_of(page.text),
        },
    )
    assert created.status_code == 200
    with transaction(session_factory) as session:
        puppet = people.find_user(session, "puppet")
        assert puppet is not None
        (grant,) = people.pending_grants(session)
        puppet_id, grant_id = puppet.id, grant.id
    assert _roles(session_factory, puppet_id) == frozenset()
    refused = admin.post(f"/api/people/grants/{grant_id}/approve")
    assert refused.status_code == 422
    assert "second administrator" in refused.text
    assert _roles(session_factory, puppet_id) == frozenset()


def test_the_accounts_creator_cannot_approve_its_roles(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor
) -> None:
    """The creator knew the account's first password: a grant another administrator asked
    for is still not theirs to approve; a third administrator's approval grants it."""
    with transaction(session_factory) as session:
        user = people.create_user(
            session,
            actor=second_admin,
            username="made-by-second",
            display_name="Made By Second",
            rank=Rank.STAFF,
            password=people.generate_password(),
            roles=[Role.ENGINEER],
        )
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=user.id,
            roles={Role.ENGINEER, Role.REVIEWER},
            reason="moves to review",
        )
        (grant,) = people.pending_grants(session)
        user_id, grant_id = user.id, grant.id
    with (
        pytest.raises(Refusal, match="created this account"),
        transaction(session_factory) as session,
    ):
        people.decide_grant(session, actor=second_admin, grant_id=grant_id, approve=True)
    third = _administrator(session_factory, "administrator-3")
    with transaction(session_factory) as session:
        signin.decide_grant(session, third, grant_id, approve=True)
    assert _roles(session_factory, user_id) == {Role.ENGINEER, Role.REVIEWER}


def test_roles_replaced_withdraw_the_grants_still_awaiting_a_second_administrator(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor
) -> None:
    """Found: roles replaced by an empty set left the earlier reviewer grant pending, and a
    second administrator then granted what the first had taken back. Replacing roles
    withdraws every pending grant of the account (audited); what is still wanted is asked
    for again, once."""
    operator = personas.operator.user_id
    with transaction(session_factory) as session:
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=operator,
            roles={*personas.operator.roles, Role.REVIEWER},
            reason="moves to review",
        )
        (first,) = people.pending_grants(session)
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=operator,
            roles=set(),
            reason="leaves the unit",
        )
        assert people.pending_grants(session) == []
        first_id = first.id
    with (
        pytest.raises(Refusal, match="already decided"),
        transaction(session_factory) as session,
    ):
        people.decide_grant(session, actor=second_admin, grant_id=first_id, approve=True)
    assert _roles(session_factory, operator) == frozenset()
    with transaction(session_factory) as session:
        withdrawn = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.roles_withdrawn")
        ).all()
        assert len(withdrawn) == 1
        assert first_id in withdrawn[0].summary
        for _ in range(2):  # asked twice: one grant awaits, not two
            people.set_roles(
                session,
                actor=personas.administrator,
                user_id=operator,
                roles={Role.REVIEWER},
                reason="back to review",
            )
        (again,) = people.pending_grants(session)
        assert again.role_set == {Role.REVIEWER}


def test_a_second_factor_reset_of_a_reviewer_needs_a_second_administrator(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor, client_for
) -> None:
    """Finding (b): one administrator reset a reviewer's second factor, received the
    one-time password and enrolled their own code. Now the reset is a request: no password
    until a second administrator approves, and then only to that administrator."""
    reviewer = client_for(personas.auditor)
    admin = client_for(personas.administrator)
    url = f"/api/people/{personas.auditor.user_id}/second-factor-reset"
    asked = admin.post(url, json={"reason": "lost phone"})
    assert asked.status_code == 200
    body = asked.json()
    assert body["one_time_password"] is None
    reset_id = body["pending"]["id"]
    assert body["pending"]["kind"] == "second_factor"
    with transaction(session_factory) as session:
        user = session.get(User, personas.auditor.user_id)
        assert user is not None
        assert people.verify_password(user, PERSONA_PASSWORD)
    assert reviewer.get("/alerts").status_code == 200  # nothing changed yet
    refused = admin.post(f"/api/people/resets/{reset_id}/approve")
    assert refused.status_code == 422
    assert "not the requester" in refused.text
    approved = client_for(second_admin).post(f"/api/people/resets/{reset_id}/approve")
    assert approved.status_code == 200
    assert len(approved.json()["one_time_password"]) >= 20
    assert approved.json()["request"]["approved"] is True
    assert _sessions_of(session_factory, personas.auditor.user_id) == 0
    assert reviewer.get("/api/alerts").status_code == 401
    with transaction(session_factory) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))
    assert actions[-3:] == [
        "user.reset_requested",
        "user.reset_second_factor",
        "user.reset_password",
    ]


def test_a_password_reset_of_an_administrator_needs_a_second_administrator(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor, client_for
) -> None:
    """Taking over another administrator's account would give one person two votes."""
    admin = client_for(personas.administrator)
    page = admin.get("/people")
    response = admin.post(
        f"/people/{second_admin.user_id}/password-reset",
        data={"reason": "forgotten", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 200
    assert 'id="one-time-password"' not in response.text
    assert "second administrator" in response.text
    (request,) = _pending_resets(session_factory)
    own = admin.post(f"/people/resets/{request}/approve", data={"csrf_token": csrf_of(page.text)})
    assert own.status_code == 422
    assert 'id="refused"' in own.text
    assert "not the requester" in own.text
    assert 'id="one-time-password"' not in own.text


def test_removing_a_holders_roles_does_not_make_their_reset_one_administrators(
    session_factory: SessionFactory, personas: Personas, client_for
) -> None:
    """Found: one administrator removed an operator's roles (one person may take access
    away), then reset the account's password and second factor alone, and a routine grant
    restored the roles to an account they now signed in to. An account that has held a
    two-person role keeps its resets two-person; an account that never held one does not."""
    admin = client_for(personas.administrator)
    operator = personas.operator.user_id
    stripped = admin.put(f"/api/people/{operator}/roles", json={"roles": [], "reason": "moved"})
    assert stripped.status_code == 200
    assert _roles(session_factory, operator) == frozenset()
    for kind in ("password-reset", "second-factor-reset"):
        asked = admin.post(f"/api/people/{operator}/{kind}", json={"reason": "forgotten"})
        assert asked.status_code == 200, asked.text
        assert asked.json()["one_time_password"] is None
        assert asked.json()["pending"] is not None
    with transaction(session_factory) as session:
        user = session.get(User, operator)
        assert user is not None
        assert people.verify_password(user, PERSONA_PASSWORD)  # nothing reset yet
    engineer = admin.post(
        f"/api/people/{personas.engineer.user_id}/password-reset", json={"reason": "forgotten"}
    )
    assert engineer.status_code == 200
    assert engineer.json()["one_time_password"] is not None  # never held one: one person


def _pending_resets(factory: SessionFactory) -> list[str]:
    with transaction(factory) as session:
        return [request.id for request in people.pending_resets(session)]


def test_an_approved_grant_ends_the_holders_sessions(
    session_factory: SessionFactory, personas: Personas, second_admin: Actor, client_for
) -> None:
    """The new roles start with a fresh sign-in (and its second factor)."""
    engineer = client_for(personas.engineer)
    assert engineer.get("/api/alerts").status_code == 403
    with transaction(session_factory) as session:
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=personas.engineer.user_id,
            roles={Role.ENGINEER, Role.REVIEWER},
            reason="moves to review",
        )
        (grant,) = people.pending_grants(session)
        grant_id = grant.id
    response = client_for(second_admin).post(f"/api/people/grants/{grant_id}/approve")
    assert response.status_code == 200
    assert _sessions_of(session_factory, personas.engineer.user_id) == 0
    assert engineer.get("/api/alerts").status_code == 401


def test_a_password_only_session_never_carries_a_biometric_role(
    app_client: TestClient, personas: Personas, web_context: WebContext
) -> None:
    """Finding: the second-factor step was decided only at sign-in. An engineer signed in
    with a password; the reviewer role given at the console (no session ended) does not
    reach that session, which was never asked for a second factor."""
    assert sign_in(app_client, "engineer", PERSONA_PASSWORD) == (303, "/")
    assert app_client.get("/alerts", follow_redirects=False).status_code == 403
    with transaction(web_context.db) as session:
        people.set_roles(
            session,
            actor=people.console_actor(),
            user_id=personas.engineer.user_id,
            roles={Role.ENGINEER, Role.REVIEWER},
            reason="moves to review",
        )
    assert _roles(web_context.db, personas.engineer.user_id) == {Role.ENGINEER, Role.REVIEWER}
    assert app_client.get("/alerts", follow_redirects=False).status_code == 403
    assert app_client.get("/api/alerts").status_code == 403
    assert app_client.get("/cameras", follow_redirects=False).status_code == 200
    app_client.cookies.clear()
    assert sign_in(app_client, "engineer", PERSONA_PASSWORD) == (303, "/sign-in/second-factor")


def test_one_administrator_alone_cannot_enrol_a_node(
    web_context: WebContext, personas: Personas, second_admin: Actor, client_for
) -> None:
    """Found: one administrator enrolled a node key, which then received decrypted
    templates. A node enrolled by one administrator is trusted with nothing (its reports
    refused, no watchlist released to it) until a second one approves."""
    van = NodeIdentity.generate()
    admin = client_for(personas.administrator)
    enrolled = admin.post("/api/fleet", json={"name": "van-3", "public_key": van.public().text()})
    assert enrolled.status_code == 201
    assert enrolled.json()["approved_at"] is None
    with transaction(web_context.db) as session:
        assert fleet.trusted_key(session, "van-3") is None
    web_context.control.record_node_report(_report(), signed_origin(van, "van-3", _report()))
    assert _reported(web_context) == set()  # refused: not approved
    own = admin.post("/fleet/van-3/approve")
    assert own.status_code == 422
    assert 'id="refused"' in own.text
    assert "not the one who enrolled it" in own.text
    approved = client_for(second_admin).post("/api/fleet/van-3/approve")
    assert approved.status_code == 200
    assert approved.json()["approved_at"] is not None
    with transaction(web_context.db) as session:
        assert fleet.trusted_key(session, "van-3") is not None
    web_context.control.record_node_report(_report(), signed_origin(van, "van-3", _report()))
    assert _reported(web_context) == {"van-3"}


def _report() -> NodeReport:
    return NodeReport(node="van-3", deployment_id="dep-1", state="running", version="0.1.0")


def _reported(context: WebContext) -> set[str]:
    with transaction(context.db) as session:
        return {row.name for row in fleet.node_statuses(session)}


def _first_password_by_creation(admin: TestClient, personas: Personas) -> tuple[str, str]:
    created = admin.post(
        "/api/people",
        json={"username": "new-admin", "display_name": "New Admin", "rank": "STAFF"},
    ).json()
    admin.put(
        f"/api/people/{created['id']}/roles",
        json={"roles": ["administrator"], "reason": "joins the administrators"},
    )
    return "new-admin", created["one_time_password"]


def _first_password_by_reset(admin: TestClient, personas: Personas) -> tuple[str, str]:
    user_id = personas.engineer.user_id
    reset = admin.post(f"/api/people/{user_id}/password-reset", json={"reason": "forgot"})
    admin.put(
        f"/api/people/{user_id}/roles",
        json={"roles": ["engineer", "administrator"], "reason": "joins the administrators"},
    )
    return "engineer", reset.json()["one_time_password"]


@pytest.mark.parametrize("issued", [_first_password_by_creation, _first_password_by_reset])
def test_an_approved_administrator_grant_voids_the_one_time_password_its_requester_saw(
    app_client: TestClient, personas: Personas, second_admin: Actor, client_for, issued
) -> None:
    """Found: an administrator created an account (or reset one that held no two-person
    role), asked for the administrator role for it, and once a second administrator approved,
    signed in with the one-time password they had been shown: a second administrator
    account of their own. The approval now issues a new one-time password, to the approver."""
    admin = client_for(personas.administrator)
    username, requester_saw = issued(admin, personas)
    (grant,) = admin.get("/api/people/grants").json()
    approved = client_for(second_admin).post(f"/api/people/grants/{grant['id']}/approve")
    assert approved.status_code == 200, approved.text
    approver_saw = approved.json()["one_time_password"]
    assert approver_saw is not None
    assert approver_saw != requester_saw
    assert sign_in(app_client, username, requester_saw)[0] != 303
    assert sign_in(app_client, username, approver_saw) == (303, "/sign-in/second-factor")


def test_an_approved_grant_keeps_a_password_its_holder_chose(
    personas: Personas, second_admin: Actor, client_for
) -> None:
    """Only a one-time password is replaced: a holder who chose their own keeps it."""
    admin = client_for(personas.administrator)
    admin.put(
        f"/api/people/{personas.engineer.user_id}/roles",
        json={"roles": ["engineer", "reviewer"], "reason": "moves to review"},
    )
    (grant,) = admin.get("/api/people/grants").json()
    approved = client_for(second_admin).post(f"/api/people/grants/{grant['id']}/approve")
    assert approved.json()["one_time_password"] is None
