"""Choosing, not typing (AUTH-6, TRN-1): the plan form offers the places and cameras the
authority allows, the staffing form the accounts trained for each role; the rules still
refuse anything else, on the form, with what was chosen kept."""

from __future__ import annotations

import re

import pytest

from lfr.db.session import transaction
from lfr.domain.authorisation import Conditions
from lfr.domain.people import Rank, Role
from lfr.services import deployments, people
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import CAMERAS, PLACES, approved

pytestmark = pytest.mark.db

NARROWED = Conditions(places=PLACES[:1], cameras=CAMERAS[:1])


def offered(page: str, name: str) -> list[str]:
    """The values the page offers for `name` (checkboxes, or the select's options)."""
    boxes = re.findall(rf'name="{name}" value="([^"]+)"', page)
    select = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', page)
    return boxes or (re.findall(r'<option value="([^"]+)"', select[1]) if select else [])


def test_the_plan_form_offers_only_what_the_authority_allows(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    authority_id = approved(web_context.db, personas, conditions=NARROWED)
    silver = client_for(personas.silver)
    page = silver.get("/deployments").text
    assert offered(page, "places") == list(PLACES[:1])
    assert offered(page, "cameras") == list(CAMERAS[:1])
    assert 'type="text"' not in page.split('id="plan-')[1]  # nothing to type

    # A camera the authority does not cover, sent anyway, is still refused (AUTH-6).
    form = {"authority_id": authority_id, "places": PLACES[0], "cameras": CAMERAS[1]}
    refused = silver.post("/deployments", data=form)
    assert refused.status_code == 422
    assert "not covered by the authority" in refused.text
    assert 'href="#camera"' in refused.text
    nothing = silver.post("/deployments", data={"authority_id": authority_id})
    assert nothing.status_code == 422
    assert "Name the place(s) and camera(s)" in nothing.text
    assert 'value="Station exit north" checked' not in nothing.text  # the untick is kept

    operator = client_for(personas.operator).get("/deployments").text
    assert 'id="plan-' not in operator  # no form that would refuse them
    assert 'href="/cameras"' not in operator
    form["cameras"] = CAMERAS[0]
    planned = silver.post("/deployments", data=form, follow_redirects=False)
    assert planned.status_code == 303


def test_the_staffing_form_offers_the_accounts_trained_for_each_role(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    authority_id = approved(web_context.db, personas)
    with transaction(web_context.db) as session:
        deployment_id = deployments.plan_deployment(
            session, personas.silver, authority_id, PLACES[:1], CAMERAS[:1], policy=POLICY
        ).id
        untrained = people.create_user(
            session,
            actor=people.console_actor(),
            username="operator-untrained",
            display_name="Operator Untrained",
            rank=Rank.STAFF,
            password="another long password",
            roles=[Role.OPERATOR],
        )
        untrained_id = untrained.id
    gold = client_for(personas.gold)
    url = f"/deployments/{deployment_id}"
    choices = offered(gold.get(url).text, "assignment")
    operator = f"{personas.operator.user_id}|operator"
    assert operator in choices
    assert f"{personas.silver.user_id}|silver" in choices
    assert f"{personas.operator.user_id}|silver" not in choices  # not their role
    assert f"{untrained_id}|operator" not in choices  # no training (TRN-1)
    assert 'id="username"' not in gold.get(url).text  # nothing to type

    assigned = gold.post(f"{url}/assign", data={"assignment": operator}, follow_redirects=False)
    assert assigned.status_code == 303
    assert operator not in offered(gold.get(url).text, "assignment")  # already assigned

    refused = gold.post(f"{url}/assign", data={"assignment": f"{untrained_id}|operator"})
    assert refused.status_code == 422
    assert 'class="problems"' in refused.text
    assert "TRN-1" in refused.text


def test_the_application_form_offers_the_configured_cameras_to_tick(
    web_context: WebContext, personas: Personas, client_for, video_dir
) -> None:
    """AUTH-6: configured cameras are ticked, not typed; one not configured yet can still be
    named, and a draft saved with both keeps each in its place."""
    from lfr.services import cameras

    with transaction(web_context.db) as session:
        for name in ("cam-east", "cam-west"):
            cameras.configure_camera(
                session, personas.engineer, name, str(video_dir / "short_hamilton_clip.mp4")
            )
    applicant = client_for(personas.applicant)
    page = applicant.get("/applications/new").text
    assert offered(page, "camera_choices") == ["cam-east", "cam-west"]
    form = {"title": "Picker", "camera_choices": ["cam-west"], "cameras": "van-camera\ncam-west"}
    saved = applicant.post("/applications", data=form, follow_redirects=False)
    assert saved.status_code == 303
    edit = applicant.get(saved.headers["location"] + "/edit").text
    assert 'value="cam-west" checked' in edit
    assert 'value="cam-east" checked' not in edit
    other = re.search(r'<textarea id="cameras" name="cameras"[^>]*>(.*?)</textarea>', edit, re.S)
    assert other is not None
    assert other[1].strip() == "van-camera"
