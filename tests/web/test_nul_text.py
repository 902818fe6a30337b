"""Text holding the NUL character (U+0000) is refused with a 4xx naming the field, on every
database: PostgreSQL cannot store it, so it once reached the database and failed there
with a 500 (an outside check's finding)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from docs.examples.drive_deployment import application
from sqlalchemy import func, select

from lfr.db.governance import ApplicationRow
from lfr.db.session import transaction
from lfr.web.context import WebContext
from lfr.web.schemas.base import NUL_REFUSED
from tests.db_fixtures import Personas
from tests.web.test_sign_in import csrf_of

pytestmark = pytest.mark.db


def _applications(web_context: WebContext) -> int:
    with transaction(web_context.db) as session:
        return int(session.scalar(select(func.count()).select_from(ApplicationRow)) or 0)


def test_nul_in_json_text_is_refused_naming_the_field(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    applicant = client_for(personas.applicant)
    body = application(datetime.now(UTC))
    for changed in ({"title": "a\u0000title"}, {"places": ["Example\u0000Street"]}):
        refused = applicant.post("/api/applications", json=body | changed)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["detail"]
        assert problem["field"].startswith(next(iter(changed)))
        assert "NUL character" in problem["reason"]
    assert _applications(web_context) == 0
    assert applicant.post("/api/applications", json=body).status_code == 201


def test_nul_in_a_form_is_refused_naming_the_field(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    applicant = client_for(personas.applicant)
    page = applicant.get("/applications/new")
    refused = applicant.post(
        "/applications", data={"title": "a\u0000title", "csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 422
    assert "NUL character" in refused.text
    assert _applications(web_context) == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/api/people",
            {"username": "a\u0000b", "display_name": "A", "rank": "STAFF"},
            "username",
        ),
        ("PUT", "/api/people/{outsider}/roles", {"roles": [], "reason": "left\u0000"}, "reason"),
        ("POST", "/api/people/{outsider}/disable", {"reason": "\u0000"}, "reason"),
        ("POST", "/api/fleet", {"name": "node\u0000", "public_key": "k"}, "name"),
    ],
)
def test_nul_in_the_administrators_json_is_refused_naming_the_field(
    personas: Personas, client_for, method: str, path: str, body: dict[str, object], field: str
) -> None:
    """The People and fleet routes took a NUL into an account name or a reason (stored on
    SQLite, a 500 on PostgreSQL); like every other body they now refuse it by field."""
    administrator = client_for(personas.administrator)
    url = path.format(outsider=personas.outsider.user_id)
    refused = administrator.request(method, url, json=body)
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["detail"]
    assert (problem["field"], problem["reason"]) == (field, f"Value error, {NUL_REFUSED}")


def test_an_unknown_field_in_an_administrators_body_is_refused(
    personas: Personas, client_for
) -> None:
    """A misspelt field (`reasons` for `reason`) was dropped silently; it is named now."""
    administrator = client_for(personas.administrator)
    url = f"/api/people/{personas.outsider.user_id}/disable"
    refused = administrator.post(url, json={"reason": "left", "reasons": "left"})
    assert refused.status_code == 422
    assert [p["field"] for p in refused.json()["detail"]] == ["reasons"]
