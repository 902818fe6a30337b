"""Operations endpoints (REC-5, REC-4): health, readiness that fails with the database, and
metrics whose labels never name a subject, an entry or an alert."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from lfr.db.session import make_engine, make_session_factory
from lfr.setting_groups import WebSettings
from lfr.web.app import create_app
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CachingEnroler, build_world, match_event

pytestmark = pytest.mark.db

__all__ = ["enroler"]


def test_healthz_answers_and_readyz_checks_the_database(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    ready = app_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    assert ready.json()["bus"] == "not used"  # no recognition runtime in this app


def test_readyz_fails_when_the_database_is_down(web_context: WebContext) -> None:
    down = "postgresql+psycopg://lfr@127.0.0.1:1/lfr?connect_timeout=2"  # nothing listens
    broken = replace(web_context, db=make_session_factory(make_engine(down)))
    with TestClient(create_app(broken)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["ready"] is False
    assert answer.json()["database"].startswith("unavailable")


def test_metrics_count_alerts_by_deployment_and_camera_never_by_subject(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    app_client: TestClient,
) -> None:
    world = build_world(web_context.db, personas, enroler, faces_dir)
    event = match_event(world, faces_dir, score=0.97)
    alert_id = web_context.control.record_alert(event)
    assert alert_id is not None
    web_context.control.record_alert(match_event(world, faces_dir, score=0.1))  # refused
    app_client.get("/healthz")  # a request timed
    web_context.settings = web_context.settings.model_copy(
        update={"web": WebSettings(metrics_token=SecretStr("t" * 32))}
    )
    with TestClient(create_app(web_context)) as client:
        text = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32}).text
    raised = (
        f'lfr_alerts_raised_total{{camera="{event.camera}",deployment="{world.deployment_id}"}}'
    )
    assert raised in text
    assert f'lfr_alerts_refused_total{{deployment="{world.deployment_id}",rule="REC-2"}}' in text
    assert "lfr_http_request_duration_seconds_bucket" in text
    for private in (*world.entry_ids, world.blue_id, alert_id, str(event.event_id)):
        assert private not in text


def test_a_page_or_an_api_call_while_the_database_is_down_is_a_503_and_one_log_line(
    web_context: WebContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a 500 "Something went wrong" with tracebacks in the log: the reader is told to
    try again, the log names the path and the database's reason in one line."""
    down = "postgresql+psycopg://lfr@127.0.0.1:1/lfr?connect_timeout=2"  # nothing listens
    broken = replace(web_context, db=make_session_factory(make_engine(down)))
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        page = client.get("/sign-in")
        api = client.get("/api/session")
    assert page.status_code == 503
    assert "Database unavailable" in page.text
    assert page.headers["Retry-After"] == "5"
    assert api.status_code == 503
    assert api.json()["detail"][0]["rule"] == "database"
    logged = [r for r in caplog.records if "database unavailable on" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in logged] == [
        "database unavailable on GET /sign-in",
        "database unavailable on GET /api/session",
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert "Connection refused" in logged[0].getMessage() or "connect" in logged[0].getMessage()
