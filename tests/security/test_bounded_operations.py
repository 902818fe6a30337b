"""Operations that give away nothing and stay bounded (issue 23, item 4).

Found: `/metrics` was public, listed running deployments and cameras, showed a deployment
whose announcement was delayed (hidden everywhere else), and any HTTP method became a new
label (40 requests, 720 new series); `Host: evil.example` was reflected into `/public` and
the Atom feed, and allowed hosts defaulted to `*` even in production."""

from __future__ import annotations

import base64
import os
import socket
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from lfr.cli import app as cli_app
from lfr.db.governance import AuthorityRow
from lfr.db.session import transaction
from lfr.services import publication
from lfr.setting_groups import WebSettings
from lfr.settings import InsecureSettingsError, Settings, get_settings
from lfr.web.app import create_app
from lfr.web.context import WebContext
from lfr.web.routes.operations import serve_metrics_apart
from tests.db_fixtures import Personas
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CachingEnroler, World, build_world, match_event

pytestmark = pytest.mark.db

__all__ = ["enroler"]

TOKEN = "scrape-" + "k" * 32


def _with_web(context: WebContext, **web: object) -> WebContext:
    context.settings = context.settings.model_copy(update={"web": WebSettings(**web)})  # type: ignore[arg-type]
    return context


def _scrape(client: TestClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def test_metrics_need_the_scrape_token(web_context: WebContext) -> None:
    with TestClient(create_app(web_context)) as client:
        assert client.get("/metrics").status_code == 404  # no token set: not served here
    _with_web(web_context, metrics_token=SecretStr(TOKEN))
    with TestClient(create_app(web_context)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer guessed"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("text/plain")  # a scraper's log line
        assert wrong.text == "present the metrics token\n"
        assert "lfr_http_request_duration_seconds" in _scrape(client)


def test_metrics_can_have_an_address_of_their_own(web_context: WebContext) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _with_web(web_context, metrics_address=f"127.0.0.1:{port}")
    server = serve_metrics_apart(web_context)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert "lfr_alerts_raised" in text


@pytest.fixture
def alerting_world(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> World:
    world = build_world(web_context.db, personas, enroler, faces_dir)
    assert web_context.control.record_alert(match_event(world, faces_dir, score=0.97))
    return world


def test_metrics_withhold_a_deployment_whose_announcement_is_delayed(
    web_context: WebContext, personas: Personas, alerting_world: World
) -> None:
    """PUB-1: what the public pages hide, the metrics do not show either."""
    _with_web(web_context, metrics_token=SecretStr(TOKEN))
    deployment = alerting_world.deployment_id
    with TestClient(create_app(web_context)) as client:
        assert f'deployment="{deployment}"' in _scrape(client)
        with transaction(web_context.db) as session:
            authority = session.get(AuthorityRow, alerting_world.authority_id)
            assert authority is not None
            publication.delay_announcement(
                session,
                personas.authorising_officer,
                alerting_world.authority_id,
                authority.window_end,
                "covert operation under way",
            )
        withheld = _scrape(client)
        public = client.get("/public").text
    assert alerting_world.authority_id not in public
    assert deployment not in withheld
    assert alerting_world.authority_id not in withheld


def _request_labels(scraped: str, label: str) -> set[str]:
    """The values `label` takes in the request-duration series of a scrape."""
    return {
        line.split(f'{label}="')[1].split('"')[0]
        for line in scraped.splitlines()
        if line.startswith("lfr_http_request_duration_seconds_count")
    }


def test_unknown_methods_share_one_label(web_context: WebContext) -> None:
    """Found: 40 requests with made-up methods made 720 new series."""
    _with_web(web_context, metrics_token=SecretStr(TOKEN))
    with TestClient(create_app(web_context)) as client:
        for number in range(40):
            client.request(f"M{number}", "/healthz")
        text = _scrape(client)
    methods = _request_labels(text, "method")
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_paths_are_labelled_by_route_template_never_by_what_was_asked(
    web_context: WebContext,
) -> None:
    """Made-up paths share one label and a route with an id is labelled by its template,
    so no request adds a series of its own."""
    _with_web(web_context, metrics_token=SecretStr(TOKEN))
    with TestClient(create_app(web_context)) as client:
        for number in range(40):
            client.get(f"/no-such-page-{number}")
            client.get(f"/alerts/{number:08d}-made-up")
        text = _scrape(client)
    routes = _request_labels(text, "route")
    assert "unmatched" in routes
    assert "/alerts/{alert_id}" in routes
    assert not any("no-such-page" in route or "made-up" in route for route in routes)


def test_a_forged_host_is_reflected_nowhere(web_context: WebContext) -> None:
    """With any host allowed (development), neither the public pages nor the feed copy the
    Host header; the feed's links come from `web.public_url` (or the allowed hosts)."""
    evil = {"host": "evil.example"}
    with TestClient(create_app(web_context)) as client:
        for path in ("/public", "/public/feed.atom", "/public/documents", "/sign-in"):
            response = client.get(path, headers=evil)
            assert response.status_code == 200, path
            assert "evil.example" not in response.text, path
    _with_web(web_context, public_url="https://lfr.police.example")
    with TestClient(create_app(web_context)) as client:
        feed = client.get("/public/feed.atom", headers=evil).text
    assert "https://lfr.police.example/public/feed.atom" in feed
    assert "evil.example" not in feed


FRESH = {
    "LFR_BIOMETRIC_KEY": base64.b64encode(os.urandom(32)).decode(),
    "LFR_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    "LFR_SESSION_SECRET": base64.b64encode(os.urandom(32)).decode(),
}


def test_production_refuses_to_start_answering_any_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, web_context: WebContext
) -> None:
    """Found: allowed hosts defaulted to `*` in production. `lfr serve` now refuses in one
    line naming the setting, before it touches anything; so does the app factory."""
    for name, value in {**FRESH, "LFR_ENVIRONMENT": "production"}.items():
        monkeypatch.setenv(name, value)
    data_dir = tmp_path / "service"
    data_dir.mkdir()
    monkeypatch.setenv("LFR_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "LFR_ALLOWED_HOSTS" in lines[0]
    assert list(data_dir.iterdir()) == []  # no database made
    production = Settings(environment="production", data_dir=data_dir, **_fresh_fields())  # type: ignore[arg-type]
    with pytest.raises(InsecureSettingsError, match="allowed_hosts"):
        create_app(WebContext(production, web_context.db, web_context.request_id_var))
    hosts = production.model_copy(update={"allowed_hosts": ["lfr.police.example"]})
    create_app(WebContext(hosts, web_context.db, web_context.request_id_var))


def _fresh_fields() -> dict[str, str]:
    return {name.removeprefix("LFR_").lower(): value for name, value in FRESH.items()}
