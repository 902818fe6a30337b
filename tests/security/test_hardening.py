"""The rest of issue 13's findings, each as a regression test: ADJ-2 probes, alert events
scoped to readable deployments, the sign-in throttle, cache and transport headers, allowed
hosts, cameras of a running deployment, and `lfr watch` on unreadable files."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from lfr.cli import app as cli_app
from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, transaction
from lfr.demo import check_demo_environment
from lfr.domain.people import Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import alerts, cameras, people
from lfr.settings import Settings
from lfr.web.alert_views import alerts_visible_to
from lfr.web.app import create_app
from lfr.web.context import WebContext
from lfr.web.live import alert_message
from lfr.web.middleware import AllowedHosts
from lfr.web.signin import FAILED
from tests.db_fixtures import PERSONA_PASSWORD, Personas
from tests.integration.governance.test_alert_services import new_alert
from tests.integration.governance.world import World, extra_person
from tests.web.test_sign_in import sign_in

pytestmark = pytest.mark.db


def test_engagement_sees_a_probe_only_after_referral(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """ADJ-2 (issue 13: an engagement officer fetched a pending alert's probe)."""
    alert_id = new_alert(session_factory, world, faces_dir)
    with (
        pytest.raises(Refusal, match="ADJ-2"),
        transaction(session_factory) as session,
    ):
        alerts.probe_image(session, personas.engagement_officer, alert_id)
    with transaction(session_factory) as session:
        alerts.claim_alert(session, personas.operator, alert_id)
        alerts.refer_alert(session, personas.operator, alert_id)
    with transaction(session_factory) as session:
        assert alerts.probe_image(session, personas.engagement_officer, alert_id)


def test_alert_events_reach_only_those_who_may_read_the_alert(
    session_factory: SessionFactory, personas: Personas, world: World, faces_dir: Path
) -> None:
    """Issue 13: alert ids of other deployments reached every operator over SSE."""
    alert_id = new_alert(session_factory, world, faces_dir)
    stranger = extra_person(session_factory, "other-operator", Rank.STAFF, Role.OPERATOR)
    message = alert_message(alert_id)
    assigned = alerts_visible_to(session_factory, personas.operator)
    unassigned = alerts_visible_to(session_factory, stranger)
    assert asyncio.run(assigned(message)) is True
    assert asyncio.run(unassigned(message)) is False
    with transaction(session_factory) as session:
        people.set_active(
            session,
            actor=personas.administrator,
            user_id=personas.operator.user_id,
            active=False,
            reason="left",
        )
    assert asyncio.run(assigned(message)) is False  # a disabled account's stream goes quiet


def test_a_success_does_not_clear_the_address_count(
    app_client: TestClient, personas: Personas, web_context
) -> None:
    """Issue 13: 20 sprayed failures never locked, because the sprayer's own successful
    sign-in reset the address's count."""
    limit = web_context.web_settings.max_failed_sign_ins
    for index in range(limit - 1):
        sign_in(app_client, f"victim-{index}", "Winter2026!")
    app_client.cookies.clear()
    assert sign_in(app_client, "engineer", PERSONA_PASSWORD) == (303, "/")
    app_client.cookies.clear()
    sign_in(app_client, "victim-last", "Winter2026!")
    status, body = sign_in(app_client, "engineer", PERSONA_PASSWORD)
    assert status == 401
    assert "too many failed attempts" in body


def test_locked_and_unknown_accounts_get_the_same_answer(
    app_client: TestClient, personas: Personas, web_context
) -> None:
    """Issue 13: the lockout message revealed that an account exists."""
    with transaction(web_context.db) as db:
        user = people.find_user(db, "engineer")
        assert user is not None
        user.locked_until = utcnow() + timedelta(minutes=10)
    _, locked = sign_in(app_client, "engineer", PERSONA_PASSWORD)
    app_client.cookies.clear()
    _, unknown = sign_in(app_client, "nobody-here", PERSONA_PASSWORD)
    assert FAILED in locked
    assert FAILED in unknown


@pytest.mark.parametrize("path", ["/people", "/api/people", "/public"])
def test_responses_are_not_stored_by_caches(personas: Personas, client_for, path: str) -> None:
    """Issue 13: no `Cache-Control: no-store` on signed-in pages and JSON."""
    response = client_for(personas.administrator).get(path)
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]


def test_hsts_over_tls_only(web_context) -> None:
    app = create_app(web_context)
    with TestClient(app, base_url="https://testserver") as tls:
        assert "max-age=" in tls.get("/public").headers["strict-transport-security"]
    with TestClient(app, base_url="http://testserver") as plain:
        assert "strict-transport-security" not in plain.get("/public").headers


def test_allowed_hosts_refuse_a_forged_host() -> None:
    """Issue 13: `Host` was reflected into absolute URLs (the Atom feed)."""

    async def echo(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse(str(request.base_url))

    app = AllowedHosts(Starlette(routes=[Route("/", echo)]), ["lfr.police.example"])
    with TestClient(app, base_url="http://lfr.police.example") as client:
        assert client.get("/").status_code == 200
        forged = client.get("/", headers={"host": "evil.example"})
    assert forged.status_code == 400
    assert "evil.example" not in forged.text


def test_a_running_deployments_camera_cannot_be_repointed(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """DEP-1 (issue 13: an engineer re-pointed a running deployment's camera)."""
    running_camera = "cam-north"  # one of the world's running deployment's, with its source
    with pytest.raises(Refusal, match="DEP-1"), transaction(session_factory) as session:
        cameras.configure_camera(session, personas.engineer, running_camera, "rtsp://elsewhere/x")
    with transaction(session_factory) as session:
        cameras.configure_camera(session, personas.engineer, "cam-spare", "rtsp://spare/x")


def test_watch_fails_on_a_file_with_no_frame(tmp_path: Path, faces_dir: Path) -> None:
    """Issue 13: 19 of 30 corrupt videos ended `lfr watch` with exit 0 and no word."""
    corrupt = tmp_path / "tiny.gif"
    corrupt.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00")
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    (watchlist / "obama.jpg").write_bytes(
        (faces_dir / "face_recognition-examples" / "obama_small.jpg").read_bytes()
    )
    result = CliRunner().invoke(cli_app, ["watch", str(corrupt), "--watchlist", str(watchlist)])
    assert result.exit_code == 1
    assert "tiny" in result.output
    assert "error" in result.output


def test_demo_refuses_production_before_touching_the_database(tmp_path: Path) -> None:
    """Issue 13: `lfr demo` created `admin` before refusing production."""
    fresh = {
        name: base64.b64encode(os.urandom(32)).decode()
        for name in ("biometric_key", "audit_signing_key", "session_secret")
    }
    settings = Settings(environment="production", data_dir=tmp_path, **fresh)  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="nothing was written"):
        check_demo_environment(settings)
    assert list(tmp_path.iterdir()) == []


def test_head_is_answered_wherever_get_is_with_no_body(web_context: WebContext) -> None:
    """RFC 9110: HEAD where GET works (a monitor's check of /healthz, a cache's of the
    public data): GET's status and headers, no body; a route without GET still says 405."""
    with TestClient(create_app(web_context)) as client:
        for path in ("/healthz", "/api/public/deployments", "/public"):
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
        assert client.head("/sign-out").status_code == 405
