"""The deployment page is no dead end (DEP-2, REV-1, PUB-2): it links onward to what each
person may open; End and Halt need a ticked confirmation, and a refusal is shown on the
form with the typed reason kept; a halt opens the review the page then links to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lfr.audit import AuditEntry
from lfr.db.reports import DeploymentReviewRow
from lfr.db.session import transaction
from lfr.domain.deployment import DeploymentStatus
from lfr.reports import review
from lfr.services import reviews
from lfr.services.deployments import get_deployment
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CachingEnroler, World, build_world

__all__ = ["enroler"]  # fixtures used here

pytestmark = pytest.mark.db


@pytest.fixture
def world(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> World:
    return build_world(web_context.db, personas, enroler, faces_dir)


def status(context: WebContext, deployment_id: str) -> DeploymentStatus:
    with transaction(context.db) as session:
        return get_deployment(session, deployment_id).status


def audited(context: WebContext, action: str) -> int:
    with transaction(context.db) as session:
        return session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0


def hrefs(page: str) -> dict[str, str]:
    """The onward links of a deployment page, by id."""
    return {
        ident: href
        for href, ident in re.findall(
            r'<a class="button secondary" href="([^"]+)" id="([\w-]+)"', page
        )
    }


def test_an_unticked_halt_is_refused_on_the_form_keeping_the_reason(
    web_context: WebContext, personas: Personas, world: World, client_for
) -> None:
    """DEP-2: no stray click halts; the refusal says what to tick and keeps what was typed."""
    silver = client_for(personas.silver)
    url = f"/deployments/{world.deployment_id}"
    refused = silver.post(f"{url}/halt", data={"reason": "Crowd surge at the exit"})
    assert refused.status_code == 422
    assert 'class="problems"' in refused.text
    assert "tick the box to confirm: every camera stops now" in refused.text.lower()
    assert 'value="Crowd surge at the exit"' in refused.text
    assert 'href="#halt_confirmed"' in refused.text
    assert status(web_context, world.deployment_id) is DeploymentStatus.RUNNING
    assert audited(web_context, "deployment.halt") == 0

    halted = silver.post(
        f"{url}/halt",
        data={"reason": "Crowd surge at the exit", "halt_confirmed": "true"},
        follow_redirects=False,
    )
    assert halted.status_code == 303
    assert status(web_context, world.deployment_id) is DeploymentStatus.HALTED


def test_an_unticked_end_is_refused_and_the_api_needs_no_box(
    web_context: WebContext, personas: Personas, world: World, client_for
) -> None:
    """DEP-2: the page's End needs its box ticked; the JSON API is unchanged."""
    silver = client_for(personas.silver)
    refused = silver.post(f"/deployments/{world.deployment_id}/end")
    assert refused.status_code == 422
    assert "tick the box to confirm: the deployment ends for good" in refused.text.lower()
    assert 'id="end_confirmed"' in refused.text
    assert status(web_context, world.deployment_id) is DeploymentStatus.RUNNING
    ended = silver.post(f"/api/deployments/{world.deployment_id}/end")
    assert ended.status_code == 200
    assert status(web_context, world.deployment_id) is DeploymentStatus.ENDED


def test_a_halted_deployment_links_to_its_review_and_ending_it_opens_no_second(
    web_context: WebContext, personas: Personas, world: World, client_for
) -> None:
    """REV-1: the halt opens the review; the page links to it; End (ticked) keeps that one."""
    silver = client_for(personas.silver)
    url = f"/deployments/{world.deployment_id}"
    silver.post(f"{url}/halt", data={"reason": "Crowd surge", "halt_confirmed": "true"})
    with transaction(web_context.db) as session:
        opened = review.review_for_deployment(session, world.deployment_id)
        assert opened is not None
        review_id = opened.id
    page = silver.get(url).text
    assert hrefs(page)["review-link"] == f"/reviews/{review_id}"
    assert 'id="halt-button"' not in page  # halted: only End is left
    assert 'id="end-button"' in page

    ended = silver.post(f"{url}/end", data={"end_confirmed": "true"}, follow_redirects=False)
    assert ended.status_code == 303
    assert status(web_context, world.deployment_id) is DeploymentStatus.ENDED
    with transaction(web_context.db) as session:
        assert session.scalar(select(func.count()).select_from(DeploymentReviewRow)) == 1
    assert audited(web_context, "review.open") == 1
    assert 'id="end-button"' not in silver.get(url).text


def test_each_person_is_linked_onward_to_what_they_may_open(
    web_context: WebContext, personas: Personas, world: World, client_for
) -> None:
    """No dead ends: every link opens for the person shown it; none leads to a refusal."""
    url = f"/deployments/{world.deployment_id}"
    operator = hrefs(client_for(personas.operator).get(url).text)
    assert operator == {"console-link": "/console"}
    applicant = hrefs(client_for(personas.applicant).get(url).text)
    assert applicant == {"watchlist-link": f"/watchlists/{world.watchlist_id}"}
    engineer = hrefs(client_for(personas.engineer).get(url).text)
    assert engineer == {"cameras-link": "/cameras"}
    for persona in (personas.operator, personas.applicant, personas.engineer):
        client = client_for(persona)
        for href in hrefs(client.get(url).text).values():
            assert client.get(href).status_code == 200, href
    bronze = client_for(personas.bronze).get(url).text
    assert 'id="halt-button"' not in bronze  # Bronze cannot halt: no button to refuse them


def test_published_results_are_linked_once_the_review_is_signed_off(
    web_context: WebContext, personas: Personas, world: World, client_for
) -> None:
    """PUB-2: a halted deployment's results, once its review is signed off, are one click
    from its page, and the deployments index links each row to its page."""
    silver = client_for(personas.silver)
    url = f"/deployments/{world.deployment_id}"
    silver.post(f"{url}/halt", data={"reason": "Crowd surge", "halt_confirmed": "true"})
    with transaction(web_context.db) as session:
        opened = review.review_for_deployment(session, world.deployment_id)
        assert opened is not None
        reviews.update_assessment(
            session, personas.auditor, opened.id, performance="a", safeguards="b", lessons="c"
        )
        reviews.sign_off(session, personas.auditor, opened.id)
    links = hrefs(silver.get(url).text)
    assert links["results-link"] == f"/public/results/{world.deployment_id}"
    assert silver.get(links["results-link"]).status_code == 200
    assert f'href="{url}"' in silver.get("/deployments").text
