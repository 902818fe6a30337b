"""Every route × every persona: exactly the roles a route declares get past its gate.

Two sources are compared so that neither can drift silently: the declarations read from the
app's routes (`Admit`), and the table below written out by hand. Then every route is called
as every persona (and anonymously) and the answer must match the table: admitted personas
get anything but 401/403/redirect-to-sign-in, refused ones get exactly that.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from lfr.domain.people import Actor, Role
from lfr.web.access import route_admission
from lfr.web.app import create_app
from lfr.web.context import WebContext
from lfr.web.routes import api_routes
from tests.db_fixtures import Personas, sqlite_url

pytestmark = pytest.mark.db


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Which persona each route admits does not depend on the database engine: SQLite only
    (`tests.db_fixtures.sqlite_url`)."""
    return sqlite_url(tmp_path)


PUBLIC = "public"
SIGNED_IN = "signed in"
A, AO, CO = Role.APPLICANT, Role.AUTHORISING_OFFICER, Role.CHIEF_OFFICER
GOLD, SILVER, BRONZE = Role.GOLD, Role.SILVER, Role.BRONZE
OP, EO, ENG = Role.OPERATOR, Role.ENGAGEMENT_OFFICER, Role.ENGINEER
REV, OVS, ADM = Role.REVIEWER, Role.OVERSIGHT, Role.ADMINISTRATOR

APPLICATION_READERS = {A, AO, CO, GOLD, SILVER, REV, OVS}
DEPLOYMENT_READERS = {A, GOLD, SILVER, BRONZE, OP, EO, ENG, REV}
AUDIT = {REV, OVS, ADM}
CONSOLE = {OP, SILVER}
REVIEW_READERS = {REV, OVS, GOLD, SILVER, AO}
EQUITABILITY_READERS = {AO, CO, REV, OVS, ENG}
MONITORS = {REV, OVS, GOLD, AO, CO}
ALERT_READERS = {OP, EO, SILVER, GOLD, REV}
HOLDERS = {GOLD, SILVER, REV}
COMMANDERS = {GOLD, SILVER, BRONZE}

EXPECTED: dict[tuple[str, str], str | set[Role]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/sign-in"): PUBLIC,
    ("POST", "/sign-in"): PUBLIC,
    ("GET", "/sign-in/second-factor"): PUBLIC,
    ("POST", "/sign-in/second-factor"): PUBLIC,
    ("GET", "/account/password"): PUBLIC,
    ("POST", "/account/password"): PUBLIC,
    ("GET", "/api/me"): SIGNED_IN,
    ("GET", "/api/session"): PUBLIC,
    ("POST", "/api/session"): PUBLIC,
    ("POST", "/api/session/second-factor"): PUBLIC,
    ("POST", "/api/session/password"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/public"): PUBLIC,
    ("GET", "/api/public/deployments"): PUBLIC,
    ("GET", "/applications"): APPLICATION_READERS,
    ("GET", "/applications/new"): {A},
    ("POST", "/applications"): {A},
    ("GET", "/applications/{application_id}"): APPLICATION_READERS,
    ("GET", "/applications/{application_id}/edit"): {A},
    ("POST", "/applications/{application_id}"): {A},
    ("POST", "/applications/{application_id}/submit"): {A},
    ("POST", "/applications/{application_id}/decide"): {AO},
    ("POST", "/applications/{application_id}/consult"): {CO},
    ("GET", "/applications/{application_id}/wad"): APPLICATION_READERS,
    ("GET", "/applications/{application_id}/wad.pdf"): APPLICATION_READERS,
    ("GET", "/applications/{application_id}/wad.json"): APPLICATION_READERS,
    ("GET", "/api/applications"): APPLICATION_READERS,
    ("GET", "/api/applications/{application_id}"): APPLICATION_READERS,
    ("POST", "/applications/{application_id}/withdraw"): {A},
    ("POST", "/authorities/{authority_id}/confirm"): {AO},
    ("POST", "/api/applications"): {A},
    ("PUT", "/api/applications/{application_id}"): {A},
    ("POST", "/api/applications/{application_id}/submit"): {A},
    ("POST", "/api/applications/{application_id}/withdraw"): {A},
    ("POST", "/api/applications/{application_id}/decision"): {AO},
    ("POST", "/api/applications/{application_id}/consultations"): {CO},
    ("GET", "/api/applications/{application_id}/wad"): APPLICATION_READERS,
    ("GET", "/api/applications/{application_id}/wad.txt"): APPLICATION_READERS,
    ("POST", "/api/authorities/{authority_id}/confirmation"): {AO},
    ("GET", "/watchlists"): {A, REV},
    ("POST", "/watchlists"): {A},
    ("GET", "/watchlists/{watchlist_id}"): {A, REV},
    ("POST", "/watchlists/check-image"): {A},
    ("POST", "/watchlists/{watchlist_id}/entries"): {A},
    ("POST", "/watchlists/{watchlist_id}/import"): {A},
    ("POST", "/watchlists/{watchlist_id}/entries/{entry_id}/remove"): {A},
    ("GET", "/api/watchlists"): {A, REV},
    ("POST", "/api/watchlists"): {A},
    ("GET", "/api/watchlists/{watchlist_id}"): {A, REV},
    ("POST", "/api/watchlists/{watchlist_id}/entries"): {A},
    ("POST", "/api/watchlists/{watchlist_id}/import"): {A},
    ("POST", "/api/watchlists/check-image"): {A},
    ("POST", "/api/watchlists/{watchlist_id}/entries/{entry_id}/remove"): {A},
    ("GET", "/deployments"): DEPLOYMENT_READERS,
    ("POST", "/deployments"): {A, GOLD, SILVER},
    ("GET", "/deployments/{deployment_id}"): DEPLOYMENT_READERS,
    ("GET", "/deployments/{deployment_id}/health"): DEPLOYMENT_READERS,
    ("GET", "/deployments/{deployment_id}/stream"): DEPLOYMENT_READERS,
    ("GET", "/deployments/{deployment_id}/dashboard"): COMMANDERS,
    ("GET", "/deployments/{deployment_id}/dashboard/alerts"): COMMANDERS,
    ("GET", "/api/deployments/{deployment_id}/dashboard"): COMMANDERS,
    ("POST", "/deployments/{deployment_id}/assign"): {A, GOLD, SILVER},
    ("POST", "/deployments/{deployment_id}/start"): {GOLD, SILVER},
    ("POST", "/deployments/{deployment_id}/halt"): {GOLD, SILVER},
    ("POST", "/deployments/{deployment_id}/end"): {GOLD, SILVER},
    ("GET", "/deployments/{deployment_id}/cameras/{camera}/preview.jpg"): {
        OP,
        SILVER,
        GOLD,
        BRONZE,
        ENG,
    },
    ("GET", "/cameras"): {ENG, ADM},
    ("POST", "/cameras"): {ENG, ADM},
    ("GET", "/api/deployments/{deployment_id}/checklist"): DEPLOYMENT_READERS,
    ("POST", "/api/deployments/{deployment_id}/start"): {GOLD, SILVER},
    ("POST", "/api/deployments/{deployment_id}/halt"): {GOLD, SILVER},
    ("GET", "/api/deployments/{deployment_id}/halt"): DEPLOYMENT_READERS,
    ("GET", "/fleet"): {ADM, ENG, GOLD, SILVER},
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/fleet"): {ADM},
    ("POST", "/fleet/{name}/revoke"): {ADM},
    ("POST", "/fleet/{name}/approve"): {ADM},
    ("GET", "/api/fleet"): {ADM, ENG, GOLD, SILVER},
    ("POST", "/api/fleet"): {ADM},
    ("POST", "/api/fleet/{name}/revoke"): {ADM},
    ("POST", "/api/fleet/{name}/approve"): {ADM},
    ("POST", "/deployments/{deployment_id}/unassign"): {GOLD, SILVER},
    ("POST", "/deployments/{deployment_id}/cancel"): {A, GOLD, SILVER},
    ("GET", "/deployments/{deployment_id}/blue-list"): DEPLOYMENT_READERS,
    ("POST", "/deployments/{deployment_id}/blue-list"): {ENG},
    ("GET", "/api/deployments"): DEPLOYMENT_READERS,
    ("POST", "/api/deployments"): {A, GOLD, SILVER},
    ("GET", "/api/deployments/{deployment_id}"): DEPLOYMENT_READERS,
    ("POST", "/api/deployments/{deployment_id}/assignments"): {A, GOLD, SILVER},
    ("POST", "/api/deployments/{deployment_id}/unassign"): {GOLD, SILVER},
    ("POST", "/api/deployments/{deployment_id}/cancel"): {A, GOLD, SILVER},
    ("POST", "/api/deployments/{deployment_id}/end"): {GOLD, SILVER},
    ("POST", "/api/deployments/{deployment_id}/blue-list"): {ENG},
    ("GET", "/api/cameras"): {ENG, ADM},
    ("POST", "/api/cameras"): {ENG, ADM},
    ("GET", "/console"): CONSOLE,
    ("GET", "/console/stream"): CONSOLE,
    ("GET", "/console/camera-status"): CONSOLE,
    ("GET", "/console/alerts/{alert_id}/card"): CONSOLE,
    ("POST", "/console/alerts/{alert_id}/refer"): CONSOLE,
    ("POST", "/console/alerts/{alert_id}/dismiss"): CONSOLE,
    ("GET", "/alerts/{alert_id}/probe.jpg"): {OP, EO, SILVER, GOLD, REV},
    ("GET", "/watchlist-entries/{entry_id}/image"): {A, OP, EO, SILVER, GOLD, REV},
    ("GET", "/api/alerts"): ALERT_READERS,
    ("GET", "/api/alerts/{alert_id}"): ALERT_READERS,
    ("POST", "/api/alerts/{alert_id}/hold"): HOLDERS,
    ("POST", "/api/alerts/{alert_id}/engage"): {EO},
    ("POST", "/api/alerts/{alert_id}/decline"): {EO},
    ("POST", "/api/alerts/{alert_id}/outcome"): {EO},
    ("GET", "/alerts"): ALERT_READERS,
    ("GET", "/alerts/{alert_id}"): ALERT_READERS,
    ("POST", "/alerts/{alert_id}/hold"): HOLDERS,
    ("POST", "/api/alerts/{alert_id}/refer"): CONSOLE,
    ("POST", "/api/alerts/{alert_id}/dismiss"): CONSOLE,
    ("GET", "/handheld"): {EO},
    ("GET", "/handheld/stream"): {EO},
    ("GET", "/handheld/alerts/{alert_id}/card"): {EO},
    ("POST", "/handheld/alerts/{alert_id}/engage"): {EO},
    ("POST", "/handheld/alerts/{alert_id}/decline"): {EO},
    ("POST", "/handheld/alerts/{alert_id}/outcome"): {EO},
    ("GET", "/audit"): AUDIT,
    ("GET", "/audit/verify"): AUDIT,
    ("GET", "/api/audit/entries"): AUDIT,
    ("GET", "/api/audit/verify"): AUDIT,
    ("GET", "/retention"): AUDIT,
    ("GET", "/people"): {ADM},
    ("POST", "/people"): {ADM},
    ("POST", "/people/{user_id}/training"): {ADM},
    ("GET", "/api/people"): {ADM},
    ("POST", "/people/{user_id}/disable"): {ADM},
    ("POST", "/people/{user_id}/enable"): {ADM},
    ("POST", "/people/{user_id}/roles"): {ADM},
    ("POST", "/people/{user_id}/password-reset"): {ADM},
    ("POST", "/people/{user_id}/second-factor-reset"): {ADM},
    ("POST", "/people/grants/{grant_id}/approve"): {ADM},
    ("POST", "/people/grants/{grant_id}/refuse"): {ADM},
    ("POST", "/people/resets/{reset_id}/approve"): {ADM},
    ("POST", "/people/resets/{reset_id}/refuse"): {ADM},
    ("POST", "/api/people"): {ADM},
    ("POST", "/api/people/{user_id}/training"): {ADM},
    ("POST", "/api/people/{user_id}/disable"): {ADM},
    ("POST", "/api/people/{user_id}/enable"): {ADM},
    ("PUT", "/api/people/{user_id}/roles"): {ADM},
    ("POST", "/api/people/{user_id}/password-reset"): {ADM},
    ("POST", "/api/people/{user_id}/second-factor-reset"): {ADM},
    ("GET", "/api/people/grants"): {ADM},
    ("POST", "/api/people/grants/{grant_id}/approve"): {ADM},
    ("POST", "/api/people/grants/{grant_id}/refuse"): {ADM},
    ("GET", "/api/people/resets"): {ADM},
    ("POST", "/api/people/resets/{reset_id}/approve"): {ADM},
    ("POST", "/api/people/resets/{reset_id}/refuse"): {ADM},
    # reports (REV-1, PUB-1..3, EQ-1..3)
    ("GET", "/public/results/{deployment_id}"): PUBLIC,
    ("GET", "/public/open-data"): PUBLIC,
    ("GET", "/public/open-data/results.csv"): PUBLIC,
    ("GET", "/public/open-data/results.json"): PUBLIC,
    ("GET", "/public/feed.atom"): PUBLIC,
    ("GET", "/public/documents"): PUBLIC,
    ("GET", "/public/audit"): PUBLIC,
    ("GET", "/api/public/audit/checkpoints"): PUBLIC,
    ("GET", "/api/public/audit/head"): PUBLIC,
    ("GET", "/public/documents/{document_id}"): PUBLIC,
    ("GET", "/public/documents/templates/{kind}"): PUBLIC,
    ("POST", "/public/documents"): {ADM},
    ("POST", "/authorities/{authority_id}/publication-delay"): {AO, GOLD},
    ("GET", "/api/public/results"): PUBLIC,
    ("GET", "/api/public/announcements"): PUBLIC,
    ("GET", "/reviews"): REVIEW_READERS,
    ("GET", "/reviews/{review_id}"): REVIEW_READERS,
    ("POST", "/reviews/{review_id}/assessment"): {REV},
    ("POST", "/reviews/{review_id}/sign-off"): {REV},
    ("GET", "/reviews/{review_id}/charts/{name}.png"): REVIEW_READERS,
    ("GET", "/reviews/{review_id}/export.pdf"): REVIEW_READERS,
    ("GET", "/api/reports/reviews/{review_id}"): REVIEW_READERS,
    ("GET", "/api/reports/reviews"): REVIEW_READERS,
    ("POST", "/api/reports/reviews/{review_id}/assessment"): {REV},
    ("POST", "/api/reports/reviews/{review_id}/sign-off"): {REV},
    ("GET", "/equitability"): EQUITABILITY_READERS,
    ("GET", "/equitability/{evaluation_id}"): EQUITABILITY_READERS,
    ("GET", "/equitability/{evaluation_id}/charts/{name}.png"): EQUITABILITY_READERS,
    ("GET", "/forecast"): {AO},
    ("GET", "/forecast/panel"): {AO},
    ("GET", "/api/reports/forecast"): {AO},
    ("GET", "/monitoring"): MONITORS,
    ("GET", "/monitoring/charts/{name}.png"): MONITORS,
    ("GET", "/api/reports/monitoring"): MONITORS,
    ("POST", "/api/reports/alerts/{alert_id}/perceived-group"): {EO},
    ("DELETE", "/api/session"): SIGNED_IN,  # last two: they end the session they are called with
    ("POST", "/sign-out"): SIGNED_IN,
}

STREAMS = {"/console/stream", "/handheld/stream", "/deployments/{deployment_id}/stream"}
PERSONA_NAMES = [f.name for f in fields(Personas)]


def declared_routes(context: WebContext) -> dict[tuple[str, str], object]:
    table: dict[tuple[str, str], object] = {}
    for route in api_routes():
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            table[(method, route.path)] = route_admission(route)
    return table


def expected_admits(expected: str | set[Role], actor: Actor | None) -> bool:
    if expected == PUBLIC:
        return True
    if actor is None:
        return False
    if expected == SIGNED_IN:
        return True
    assert isinstance(expected, set)
    return bool(expected & actor.roles)


def test_every_route_declares_its_roles_and_matches_the_table(web_context: WebContext) -> None:
    declared = declared_routes(web_context)
    undeclared = [key for key, admit in declared.items() if admit is None]
    assert undeclared == [], f"routes without Admit: {undeclared}"
    assert set(declared) == set(EXPECTED), (
        f"routes not in the table: {set(declared) - set(EXPECTED)}; "
        f"table rows without a route: {set(EXPECTED) - set(declared)}"
    )


def _persona_actor(personas: Personas, name: str) -> Actor:
    actor = getattr(personas, name)
    assert isinstance(actor, Actor)
    return actor


def test_declared_admission_equals_the_table_for_every_persona(
    web_context: WebContext, personas: Personas
) -> None:
    declared = declared_routes(web_context)
    for key, expected in EXPECTED.items():
        admit = declared[key]
        for name in [None, *PERSONA_NAMES]:
            actor = None if name is None else _persona_actor(personas, name)
            assert admit.admits(actor) == expected_admits(expected, actor), (key, name)  # type: ignore[union-attr]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


def _refused_by_gate(response: Response) -> bool:
    """The gate's own answers: 403 naming the roles, 401 (API) or a redirect to sign in that
    comes back (pages); anything else (200, 404, 422, a page's own redirect) got past it."""
    if response.status_code == 403:
        return "this page is for" in response.text
    if response.status_code == 401:
        return "sign in first" in response.text
    location = response.headers.get("location", "")
    return response.status_code == 303 and location.startswith("/sign-in?next=")


def test_every_route_answers_every_persona_as_the_table_says(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    app_client = TestClient(create_app(web_context))
    sign_in_page = app_client.get("/sign-in")  # an anonymous session with its CSRF token
    app_client.headers["X-CSRF-Token"] = re.findall(
        r'name="csrf_token" value="([^"]+)"', sign_in_page.text
    )[0]
    clients = {name: client_for(_persona_actor(personas, name)) for name in PERSONA_NAMES}
    mismatches: list[str] = []
    for (method, path), expected in EXPECTED.items():
        for name in [None, *PERSONA_NAMES]:
            actor = None if name is None else _persona_actor(personas, name)
            if path in STREAMS and expected_admits(expected, actor):
                continue  # an admitted stream never ends; its gate is checked above
            client = app_client if name is None else clients[name]
            response = client.request(method, _concrete(path), follow_redirects=False)
            refused = _refused_by_gate(response)
            if refused == expected_admits(expected, actor):
                mismatches.append(f"{method} {path} as {name}: {response.status_code}")
    assert mismatches == []
