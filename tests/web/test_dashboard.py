"""The commanders' dashboard (DEP-2, REC-5): a deployment's alerts by state and its newest
alerts, camera health and halt delivery, for the Gold, Silver and Bronze assigned to it;
the counts follow each decision; nobody else reads it (no IDOR)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lfr.domain.people import Rank, Role
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.web.rehearsal import match_event
from tests.web.test_alert_flow import another_account

pytestmark = pytest.mark.db


def count_of(page: str, state: str) -> int:
    """The count the alerts-by-state table shows for `state`."""
    found = re.search(rf'data-state="{state}">.*?class="count">(\d+)<', page)
    assert found is not None, state
    return int(found.group(1))


def test_counts_by_state_follow_refer_and_dismiss(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    first = web_context.control.record_alert(match_event(rehearsal, subject_image))
    second = web_context.control.record_alert(match_event(rehearsal, subject_image))
    assert first is not None
    assert second is not None
    silver = client_for(personas.silver)
    url = f"/deployments/{rehearsal.deployment_id}/dashboard"

    page = silver.get(url)
    assert page.status_code == 200
    assert count_of(page.text, "pending") == 2
    assert count_of(page.text, "referred") == 0
    assert "2 waiting for an operator" in page.text
    assert 'data-live-feed="/deployments/' in page.text  # camera health follows live
    assert 'href="/console"' in page.text
    assert "What the authority allows" in page.text  # the conditions Silver keeps within

    console = client_for(personas.silver).get("/console").text
    assert f'href="{url}"' in console  # and back from the console
    index = silver.get("/deployments").text
    assert f'href="{url}"' in index
    deployment_page = silver.get(f"/deployments/{rehearsal.deployment_id}").text
    assert f'href="{url}"' in deployment_page
    assert (
        'id="dashboard-link"'
        not in client_for(personas.operator).get(f"/deployments/{rehearsal.deployment_id}").text
    )  # the operator commands nothing: no link to a page that would refuse them
    assert f'href="/deployments/{rehearsal.deployment_id}"' in page.text
    assert f'href="/alerts/{first}"' in page.text

    operator = client_for(personas.operator)
    assert operator.post(f"/console/alerts/{first}/refer").status_code in (200, 303)
    dismissed = operator.post(
        f"/console/alerts/{second}/dismiss", data={"reason": "not the same person"}
    )
    assert dismissed.status_code in (200, 303)

    panel = silver.get(f"{url}/alerts")
    assert panel.status_code == 200
    assert count_of(panel.text, "pending") == 0
    assert count_of(panel.text, "referred") == 1
    assert count_of(panel.text, "dismissed") == 1
    assert "waiting for an operator" not in panel.text
    assert "not the same person" in panel.text  # what happened to each

    twin = silver.get(f"/api/deployments/{rehearsal.deployment_id}/dashboard")
    assert twin.status_code == 200
    body = twin.json()
    counts = {c["state"]: c["count"] for c in body["alerts_by_state"]}
    assert counts == {
        "pending": 0,
        "referred": 1,
        "dismissed": 1,
        "engaged": 0,
        "not_engaged": 0,
        "concluded": 0,
        "not_adjudicated": 0,
    }
    assert {a["id"] for a in body["latest_alerts"]} == {first, second}
    assert body["status"] == "running"
    assert body["halt"] is None


def test_halt_delivery_shows_once_silver_halts(
    web_context: WebContext, personas: Personas, rehearsal, client_for
) -> None:
    silver = client_for(personas.silver)
    halted = silver.post(
        f"/deployments/{rehearsal.deployment_id}/halt",
        data={"reason": "crowd too dense", "halt_confirmed": "true"},
    )
    assert halted.status_code in (200, 303)
    page = silver.get(f"/deployments/{rehearsal.deployment_id}/dashboard").text
    assert 'id="halt-delivery"' in page
    assert 'id="deployment-status">halted<' in page
    body = silver.get(f"/api/deployments/{rehearsal.deployment_id}/dashboard").json()
    assert body["status"] == "halted"
    assert body["halt"]["reason"] == "crowd too dense"


def test_bronze_gets_the_counts_but_no_alert_details(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """Bronze commands the ground: the dashboard and its counts, but no alert's details,
    the console or an alert's record (with its images): no alert route admits Bronze."""
    web_context.control.record_alert(match_event(rehearsal, subject_image))
    bronze = client_for(personas.bronze)
    page = bronze.get(f"/deployments/{rehearsal.deployment_id}/dashboard")
    assert page.status_code == 200
    assert count_of(page.text, "pending") == 1
    assert 'id="alert-details-withheld"' in page.text
    assert "DEMO-0001" not in page.text
    assert 'href="/console"' not in page.text
    assert 'href="/alerts/' not in page.text
    body = bronze.get(f"/api/deployments/{rehearsal.deployment_id}/dashboard").json()
    assert body["latest_alerts"] == []


def test_only_the_deployments_own_commanders_read_it(
    web_context: WebContext, personas: Personas, rehearsal, client_for
) -> None:
    other_silver = client_for(
        another_account(web_context, "silver-2", Rank.CHIEF_INSPECTOR, Role.SILVER)
    )
    base = f"/deployments/{rehearsal.deployment_id}/dashboard"
    for url in (base, f"{base}/alerts", f"/api/deployments/{rehearsal.deployment_id}/dashboard"):
        assert other_silver.get(url).status_code == 404, url
    assert f'href="{base}"' not in other_silver.get("/deployments").text  # no dead end
    assert client_for(personas.operator).get(base).status_code == 403
