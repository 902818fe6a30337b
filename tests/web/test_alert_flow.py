"""Alerts through the web: the console shows a running deployment's alert with its probe and
watchlist image (ADJ-1); only the operator refers (ADJ-2); the engagement officer engages
and records the outcome (ADJ-3); people outside the deployment cannot read it (no IDOR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lfr.db.session import transaction
from lfr.domain.people import Actor, Rank, Role
from lfr.services import people
from lfr.vision.calibration import one_in, shipped_calibration
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas
from tests.web.rehearsal import match_event

pytestmark = pytest.mark.db


def another_account(web_context: WebContext, username: str, rank: Rank, role: Role) -> Actor:
    """An account holding `role` but assigned to nothing (to try reading what it should not)."""
    with transaction(web_context.db) as db:
        user = people.create_user(
            db,
            actor=people.console_actor(),
            username=username,
            display_name=f"Another {role.value}",
            rank=rank,
            password="another long password",
            roles=[role],
        )
        return people.to_actor(user)


def test_alert_reaches_console_and_is_referred_then_concluded(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """ADJ-1..3: console card with both images, refer, engage, outcome; each audited."""
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    assert alert_id is not None
    operator = client_for(personas.operator)
    console = operator.get("/console")
    assert f'id="alert-{alert_id}"' in console.text
    assert "DEMO-0001" in console.text
    probe = operator.get(f"/alerts/{alert_id}/probe.jpg")
    assert probe.headers["content-type"] == "image/jpeg"
    assert probe.content.startswith(b"\xff\xd8")
    watchlist_image = operator.get(f"/watchlist-entries/{rehearsal.entry_id}/image")
    assert watchlist_image.status_code == 200

    officer = client_for(personas.engagement_officer)
    assert alert_id not in officer.get("/handheld").text  # not referred yet
    refer = operator.post(f"/console/alerts/{alert_id}/refer", headers={"HX-Request": "true"})
    assert refer.status_code == 200
    assert "referred" in refer.text
    assert alert_id in officer.get("/handheld").text
    assert (
        officer.post(f"/handheld/alerts/{alert_id}/engage", follow_redirects=False).status_code
        == 303
    )
    outcome = officer.post(
        f"/handheld/alerts/{alert_id}/outcome",
        data={"identity": "confirmed", "actions": ["leaflet_given"], "notes": "rehearsal"},
        follow_redirects=False,
    )
    assert outcome.status_code == 303
    # the operator still sees what became of it, and where it happened
    history = operator.get("/console").text
    row = history[history.index('id="alert-history"') :]
    assert "identity confirmed" in row
    assert "leaflet given" in row
    assert "Rehearsal Street" in console.text  # the card names the place

    auditor = client_for(personas.auditor)
    entries = auditor.get("/api/audit/entries", params={"object_id": alert_id}).json()
    actions = [e["action"] for e in entries]
    assert actions == [
        "alert.outcome",
        "alert.engage",
        "alert.refer",
        "alert.claim",
        "biometric.viewed",
        "alert.create",
    ]
    assert all(e["request_id"] for e in entries if e["action"] != "alert.create")
    assert auditor.get("/api/audit/verify").json()["ok"] is True


def test_opening_a_biometric_image_is_audited_and_a_refused_one_is_not(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """AUD-1: each opening of a probe or watchlist image leaves an access record naming who
    opened what; a refused request (wrong role) leaves none; the chain still verifies."""
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    assert alert_id is not None
    auditor = client_for(personas.auditor)

    def views_of(object_id: str) -> list[dict[str, object]]:
        entries = auditor.get("/api/audit/entries", params={"object_id": object_id}).json()
        return [e for e in entries if e["action"] == "biometric.viewed"]

    assert client_for(personas.applicant).get(f"/alerts/{alert_id}/probe.jpg").status_code == 403
    assert views_of(alert_id) == []
    operator = client_for(personas.operator)
    assert operator.get(f"/alerts/{alert_id}/probe.jpg").status_code == 200
    assert operator.get(f"/alerts/{alert_id}/probe.jpg").status_code == 200
    assert operator.get(f"/watchlist-entries/{rehearsal.entry_id}/image").status_code == 200
    probe_views = views_of(alert_id)
    image_views = views_of(rehearsal.entry_id)
    assert len(probe_views) == 2
    assert len(image_views) == 1
    assert {e["actor"] for e in probe_views + image_views} == {personas.operator.name}
    assert image_views[0]["object_type"] == "watchlist_entry"
    assert all(e["request_id"] for e in probe_views + image_views)
    assert auditor.get("/api/audit/verify").json()["ok"] is True


def test_engagement_officer_cannot_refer(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """ADJ-2: only the operator can refer; the route refuses the engagement officer."""
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    officer = client_for(personas.engagement_officer)
    response = officer.post(f"/console/alerts/{alert_id}/refer")
    assert response.status_code == 403


def test_dismiss_needs_a_reason_and_records_it(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    operator = client_for(personas.operator)
    blank = operator.post(f"/console/alerts/{alert_id}/dismiss", data={"reason": "  "})
    assert blank.status_code == 422
    done = operator.post(
        f"/console/alerts/{alert_id}/dismiss",
        data={"reason": "different person"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    console = operator.get("/console").text
    assert f'id="alert-{alert_id}"' not in console  # no longer waiting
    assert f'href="/alerts/{alert_id}"' in console  # in the history, opening its record


def test_operator_of_another_deployment_cannot_read_the_alert(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """No IDOR: an operator not assigned to the deployment gets 404 for card and probe."""
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    other_actor = another_account(web_context, "operator-2", Rank.STAFF, Role.OPERATOR)
    client = client_for(other_actor)
    assert client.get(f"/console/alerts/{alert_id}/card").status_code == 404
    assert client.get(f"/alerts/{alert_id}/probe.jpg").status_code == 404
    assert client.get(f"/watchlist-entries/{rehearsal.entry_id}/image").status_code == 404
    assert alert_id not in client.get("/console").text
    assert client.post(f"/console/alerts/{alert_id}/refer").status_code == 404


def test_alert_below_threshold_or_after_halt_is_refused(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """REC-2 and DEP-2: the sink records nothing below the threshold or once halted."""
    assert (
        web_context.control.record_alert(match_event(rehearsal, subject_image, score=0.5)) is None
    )
    silver = client_for(personas.silver)
    halted = silver.post(
        f"/deployments/{rehearsal.deployment_id}/halt",
        data={"reason": "rehearsal over", "halt_confirmed": "true"},
        follow_redirects=False,
    )
    assert halted.status_code == 303
    assert web_context.control.record_alert(match_event(rehearsal, subject_image)) is None
    page = silver.get(f"/deployments/{rehearsal.deployment_id}")
    assert "halted" in page.text
    assert "rehearsal over" in page.text


def test_wad_verifies_and_application_is_not_readable_by_another_applicant(
    web_context: WebContext, personas: Personas, rehearsal, client_for
) -> None:
    other_actor = another_account(web_context, "applicant-2", Rank.SERGEANT, Role.APPLICANT)
    owner = client_for(personas.applicant)
    wad = owner.get(f"/applications/{rehearsal.application_id}/wad")
    assert "Verified" in wad.text
    intruder = client_for(other_actor)
    assert intruder.get(f"/applications/{rehearsal.application_id}").status_code == 404
    assert intruder.get(f"/api/applications/{rehearsal.application_id}").status_code == 404
    assert rehearsal.application_id not in intruder.get("/applications").text


def test_public_page_shows_the_running_deployment_without_biometrics(
    web_context: WebContext, rehearsal, app_client: TestClient
) -> None:
    page = app_client.get("/public")
    assert "Rehearsal Street" in page.text
    assert "DEMO-0001" not in page.text
    data = app_client.get("/api/public/deployments").json()
    assert data["planned"][0]["area"] == "Rehearsal Street"


def test_camera_view_is_for_the_deployment_staff_and_gone_at_halt(
    web_context: WebContext, personas: Personas, rehearsal, client_for
) -> None:
    """REC-5/REC-4: the blurred live view is shown to the deployment's staff only, and its
    frame is forgotten the moment Silver halts."""
    from lfr.runtime.preview import PreviewHub

    hub = PreviewHub()
    web_context.preview = hub
    hub.keep(rehearsal.deployment_id, "demo-cam", b"\xff\xd8frame")
    url = f"/deployments/{rehearsal.deployment_id}/cameras/demo-cam/preview.jpg"
    operator = client_for(personas.operator)
    assert operator.get(url).content == b"\xff\xd8frame"
    with transaction(web_context.db) as db:
        other = people.create_user(
            db,
            actor=people.console_actor(),
            username="operator-3",
            display_name="Operator 3",
            rank=Rank.STAFF,
            password="another long password",
            roles=[Role.OPERATOR],
        )
        outsider = people.to_actor(other)
    assert client_for(outsider).get(url).status_code == 404
    silver = client_for(personas.silver)
    silver.post(
        f"/deployments/{rehearsal.deployment_id}/halt",
        data={"reason": "done", "halt_confirmed": "true"},
    )
    hub.keep(rehearsal.deployment_id, "demo-cam", b"\xff\xd8late frame")
    assert operator.get(url).status_code == 404


def test_start_checklist_lists_every_unmet_condition(
    web_context: WebContext, personas: Personas, subject_image: Path, client_for, enroler
) -> None:
    """DEP-1: a deployment with no staff and no camera source shows every missing condition,
    and a start is refused naming them all."""
    from lfr.demo import authorise, compile_watchlist, rehearsal_application
    from lfr.services import deployments
    from tests.db_fixtures import persona_accounts

    accounts = persona_accounts(personas)
    _application, authority = authorise(
        web_context.db, accounts, rehearsal_application(personas.applicant)
    )
    compile_watchlist(
        web_context.db, personas.applicant, authority, subject_image.read_bytes(), enroler
    )
    with transaction(web_context.db) as db:
        deployment = deployments.plan_deployment(
            db, personas.applicant, authority, ["Rehearsal Street"], ["demo-cam"], policy=POLICY
        ).id
    silver = client_for(personas.silver)
    page = silver.get(f"/deployments/{deployment}").text
    for missing in ("gold", "silver", "operator", "engagement", "no source configured"):
        assert missing in page.lower()
    # each unmet condition says who fixes it and links to where, in words, not field names
    assert "Silver or Gold assigns someone here" in page
    assert 'href="#assignment"' in page
    assert "The system engineer sets the camera&#39;s source" in page
    assert 'href="/cameras"' in page
    assert "engagement_officer" not in page.split('id="checklist"')[1].split("</ul>")[0]
    refused = silver.post(f"/deployments/{deployment}/start")
    assert refused.status_code == 422
    assert "no source configured" in refused.text
    refusal = refused.text.split('id="start-refused"')[1].split("</div>")[0]
    assert "Not started" in refusal
    assert "Engagement officer: no engagement officer assigned" in refusal
    assert 'href="/cameras"' in refusal
    checklist = silver.get(f"/api/deployments/{deployment}/checklist").json()
    assert checklist["ready"] is False
    assert {"REC-1", "DEP-1"} <= {u["rule"] for u in checklist["unmet"]}


def test_api_refer_needs_the_csrf_header_and_answers_json(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    operator = client_for(personas.operator)
    token = operator.headers.pop("X-CSRF-Token")
    assert operator.post(f"/api/alerts/{alert_id}/refer").status_code == 403
    response = operator.post(f"/api/alerts/{alert_id}/refer", headers={"X-CSRF-Token": token})
    assert response.json()["state"] == "referred"
    assert response.json()["referred_by"] == personas.operator.user_id
    again = operator.post(
        f"/api/alerts/{alert_id}/dismiss", json={"reason": "x"}, headers={"X-CSRF-Token": token}
    )
    assert again.status_code == 422
    assert again.json()["detail"][0]["rule"] == "ADJ-2"


def test_an_alert_says_how_rarely_a_stranger_scores_that_high(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    """Issue 15: the score of an alert speaks the calibrated unit, on the card and in the
    API: the evaluated false-match rate of that score, from the shipped calibration."""
    calibration = shipped_calibration(web_context.settings.evaluated_model_version)
    assert calibration is not None
    event = match_event(rehearsal, subject_image, score=0.956)
    alert_id = web_context.control.record_alert(event)
    operator = client_for(personas.operator)
    rate = operator.get(f"/api/alerts/{alert_id}").json()["score_false_match_rate"]
    assert rate == pytest.approx(calibration.false_match_rate(0.956))
    assert 1e-6 < rate < 1e-5  # 0.956 lies between 1 in 100,000 and 1 in 1,000,000
    card = operator.get(f"/alerts/{alert_id}").text
    assert f"a stranger scores this high about {one_in(rate)} comparisons" in card
    stricter = web_context.control.record_alert(match_event(rehearsal, subject_image, score=0.965))
    assert operator.get(f"/api/alerts/{stricter}").json()["score_false_match_rate"] < rate
