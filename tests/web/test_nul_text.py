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
