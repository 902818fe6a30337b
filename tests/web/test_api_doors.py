"""Every use-case has a door: the JSON routes (and the pages beside them) for the use-cases
that had none: urgent confirmation (AUTH-3), withdrawal (AUTH-1), cancellation and
unassignment (DEP-1, DEP-2), holds (DP-3), the blue list (REC-6) and entry removal (WL-3);
and the API's conventions: 201 with `Location`, one refusal shape."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.db.base import utcnow
from lfr.db.session import reading, transaction
from lfr.demo import (
    authorise,
    compile_watchlist,
    plan_and_staff,
    point_camera,
    rehearsal_application,
    seed_rehearsal,
)
from lfr.demo.media import DemoMedia
from lfr.domain.authorisation import authority_problems
from lfr.domain.people import Rank, Role
from lfr.services import alerts, authorisations, deployments
from lfr.services.watchlists import VisionEnroler
from lfr.vision.types import ListKind
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas, persona_accounts, trained_account
from tests.web.rehearsal import match_event, running_rehearsal

pytestmark = pytest.mark.db


def actions_on(web_context: WebContext, object_id: str) -> list[str]:
    with reading(web_context.db) as db:
        return list(
            db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == object_id)
                .order_by(AuditEntry.sequence)
            )
        )


def urgent_application(applicant: TestClient, personas: Personas) -> dict[str, Any]:
    """An urgent application drafted over JSON (201 with its Location)."""
    now = utcnow().replace(microsecond=0)
    answers = rehearsal_application(personas.applicant).to_json()
    answers.pop("applicant_id")
    answers.update(
        urgent=True,
        urgency_reason="A missing child was seen nearby an hour ago",
        window={"start": now.isoformat(), "end": (now + timedelta(hours=4)).isoformat()},
    )
    created = applicant.post("/api/applications", json=answers)
    assert created.status_code == 201
    assert created.headers["location"] == f"/api/applications/{created.json()['id']}"
    return created.json()  # type: ignore[no-any-return]


def test_a_superintendent_confirms_an_inspectors_urgent_authority(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    """AUTH-3: the Inspector's urgent authority shows when it lapses; the Superintendent's
    confirmation shows on the application and the authority stays in force past that time."""
    applicant = client_for(personas.applicant)
    draft = urgent_application(applicant, personas)
    assert applicant.post(f"/api/applications/{draft['id']}/submit").status_code == 200
    decided = client_for(personas.inspector).post(
        f"/api/applications/{draft['id']}/decision",
        json={"kind": "approve", "reasons": "Urgent: a child at risk"},
    )
    assert decided.status_code == 201, decided.text
    authority = decided.json()["authority"]
    assert authority["urgent"]
    assert authority["lapses_at"] is not None
    assert authority["confirmed_at"] is None
    superintendent = client_for(personas.authorising_officer)
    page = superintendent.get(f"/applications/{draft['id']}")
    assert 'id="urgent-unconfirmed"' in page.text
    assert 'id="confirm-form"' in page.text

    confirmed = superintendent.post(f"/api/authorities/{authority['id']}/confirmation")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_at"] is not None
    assert confirmed.json()["lapses_at"] is None
    assert 'id="urgent-confirmed"' in superintendent.get(f"/applications/{draft['id']}").text
    policy = web_context.policy
    after_lapse = utcnow() + policy.urgent_validity + timedelta(minutes=1)
    with reading(web_context.db) as db:
        loaded = authorisations.load_authority(db, authority["id"])
    problems = authority_problems(loaded, after_lapse, policy.urgent_validity)
    assert "AUTH-3" not in {p.rule for p in problems}
    assert "authority.confirm_urgent" in actions_on(web_context, authority["id"])


def test_an_inspector_cannot_confirm_and_refusals_have_one_shape(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    """AUTH-3 refusal, a validation error and a missing object: all `{"detail": [...]}`."""
    applicant = client_for(personas.applicant)
    draft = urgent_application(applicant, personas)
    applicant.post(f"/api/applications/{draft['id']}/submit")
    inspector = client_for(personas.inspector)
    decided = inspector.post(
        f"/api/applications/{draft['id']}/decision", json={"kind": "approve", "reasons": "Urgent"}
    ).json()
    refused = inspector.post(f"/api/authorities/{decided['authority']['id']}/confirmation")
    assert refused.status_code == 422
    assert {p["rule"] for p in refused.json()["detail"]} == {"AUTH-3"}
    policy = web_context.policy
    after_lapse = utcnow() + policy.urgent_validity + timedelta(minutes=1)
    with reading(web_context.db) as db:
        unconfirmed = authorisations.load_authority(db, decided["authority"]["id"])
    lapsed = authority_problems(unconfirmed, after_lapse, policy.urgent_validity)
    assert "AUTH-3" in {p.rule for p in lapsed}
    invalid = applicant.post("/api/applications", json={"urgent": "perhaps"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0] == {
        "rule": "request",
        "field": "urgent",
        "reason": invalid.json()["detail"][0]["reason"],
    }
    missing = applicant.get("/api/applications/no-such-application")
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["rule"] == "not-found"


def test_a_window_in_year_one_is_refused_and_the_public_page_stays_up(
    client_for, personas: Personas, app_client: TestClient
) -> None:
    """AUTH-1, PUB-1: a window in year 1 (UTC) has no UK time; accepted, its announcement
    made `/public` a 500 for everyone. It is refused when drafted, naming its start."""
    answers = rehearsal_application(personas.applicant).to_json()
    answers.pop("applicant_id")
    answers["window"] = {"start": "0001-01-01T00:00:00+00:00", "end": "0001-01-01T02:00:00+00:00"}
    refused = client_for(personas.applicant).post("/api/applications", json=answers)
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert (problem["rule"], problem["field"]) == ("AUTH-1", "window.start")
    assert app_client.get("/public").status_code == 200


def test_the_applicant_withdraws_an_application(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    """AUTH-1: withdrawn with a reason, audited; without one, refused and nothing changes."""
    applicant = client_for(personas.applicant)
    draft = urgent_application(applicant, personas)
    refused = applicant.post(f"/api/applications/{draft['id']}/withdraw", json={"reason": " "})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "reason"
    done = applicant.post(
        f"/api/applications/{draft['id']}/withdraw", json={"reason": "Subject found"}
    )
    assert done.json()["status"] == "withdrawn"
    assert actions_on(web_context, draft["id"])[-1] == "application.withdraw"
    other = urgent_application(applicant, personas)
    page = applicant.get(f"/applications/{other['id']}")
    assert 'id="withdraw-form"' in page.text
    posted = applicant.post(
        f"/applications/{other['id']}/withdraw",
        data={"reason": "Duplicate"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert applicant.get(f"/api/applications/{other['id']}").json()["status"] == "withdrawn"


@pytest.fixture
def planned(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
) -> dict[str, str]:
    """The rehearsal deployment, planned and staffed, not started."""
    media = DemoMedia(subject_image, video_dir / "short_hamilton_clip.mp4")
    rehearsal = seed_rehearsal(web_context.db, persona_accounts(personas), media, enroler)
    return {
        "deployment": rehearsal.deployment_id,
        "watchlist": rehearsal.watchlist_id,
        "entry": rehearsal.entry_id,
    }


def test_staffing_changes_and_cancellation(
    web_context: WebContext, personas: Personas, planned: dict[str, str], client_for
) -> None:
    """DEP-1/DEP-2: Silver unassigns with a reason; the planner cancels with a reason; the
    deployment reads back with its staff and status."""
    silver = client_for(personas.silver)
    deployment = planned["deployment"]
    body = {"user_id": personas.bronze.user_id, "role": "bronze", "reason": "Off sick"}
    after = silver.post(f"/api/deployments/{deployment}/unassign", json=body)
    assert after.status_code == 200, after.text
    assert "bronze" not in {a["role"] for a in after.json()["assignments"]}
    assigned = silver.post(
        f"/api/deployments/{deployment}/assignments", json={"username": "bronze", "role": "bronze"}
    )
    assert assigned.status_code == 201
    assert assigned.headers["location"] == f"/api/deployments/{deployment}"
    both = silver.post(
        f"/api/deployments/{deployment}/assignments",
        json={"username": "operator", "role": "engagement_officer"},
    )
    assert both.status_code == 422  # the persona lacks the role; never both either (ADJ-2)
    cancelled = client_for(personas.applicant).post(
        f"/api/deployments/{deployment}/cancel", json={"reason": "Subject arrested"}
    )
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "Subject arrested"
    assert "deployment.cancel" in actions_on(web_context, deployment)


def test_a_commander_of_another_deployment_cannot_change_its_staffing(
    web_context: WebContext, personas: Personas, planned: dict[str, str], client_for
) -> None:
    """DEP-1, DEP-2: a Silver with no part in a deployment that has its commanders neither
    assigns (themselves, to read its alerts and probes and command it) nor unassigns its
    staff; its own Silver still does both."""
    with transaction(web_context.db) as db:
        elsewhere = trained_account(
            db,
            username="silver-elsewhere",
            display_name="Silver Elsewhere",
            rank=Rank.CHIEF_INSPECTOR,
            roles=(Role.SILVER,),
        )
    outsider = client_for(elsewhere)
    deployment = planned["deployment"]
    joined = outsider.post(
        f"/api/deployments/{deployment}/assignments",
        json={"username": "silver-elsewhere", "role": "silver"},
    )
    assert joined.status_code == 422, joined.text
    assert ("DEP-1", "actor") in {(p["rule"], p["field"]) for p in joined.json()["detail"]}
    body = {"user_id": personas.operator.user_id, "role": "operator", "reason": "Not needed"}
    removed = outsider.post(f"/api/deployments/{deployment}/unassign", json=body)
    assert removed.status_code == 422, removed.text
    staff = client_for(personas.silver).get(f"/api/deployments/{deployment}").json()
    assert {(a["user_id"], a["role"]) for a in staff["assignments"]} >= {
        (personas.operator.user_id, "operator")
    }
    assert elsewhere.user_id not in {a["user_id"] for a in staff["assignments"]}


def test_the_compiler_removes_an_entry_before_the_seal(
    web_context: WebContext, personas: Personas, planned: dict[str, str], client_for
) -> None:
    """WL-3: only the compiling officer, with a reason; the entry and its images go."""
    path = f"/api/watchlists/{planned['watchlist']}/entries/{planned['entry']}/remove"
    reviewer = client_for(personas.auditor)
    assert reviewer.post(path, json={"reason": "x"}).status_code == 403
    removed = client_for(personas.applicant).post(path, json={"reason": "Arrested yesterday"})
    assert removed.status_code == 200, removed.text
    assert removed.json()["entries"] == []
    assert "watchlist.remove_entry" in actions_on(web_context, planned["watchlist"])


def test_a_cancelled_deployments_watchlist_takes_no_more_images(
    web_context: WebContext,
    personas: Personas,
    planned: dict[str, str],
    faces_dir: Path,
    client_for,
) -> None:
    """WL-6, DP-1: a cancellation destroys the watchlist's and blue list's images at once.
    An entry or a blue-list enrolment accepted afterwards was stored and never destroyed
    (the destruction had passed); both are now refused, and nothing biometric is stored."""
    deployment, watchlist = planned["deployment"], planned["watchlist"]
    cancelled = client_for(personas.applicant).post(
        f"/api/deployments/{deployment}/cancel", json={"reason": "Subject arrested"}
    )
    assert cancelled.status_code == 200, cancelled.text
    photograph = faces_dir / "face_recognition-examples" / "obama.jpg"
    image = [("images", (photograph.name, photograph.read_bytes(), "image/jpeg"))]
    entry = client_for(personas.applicant).post(
        f"/api/watchlists/{watchlist}/entries",
        data={
            "subject_reference": "PNC-AFTER-CANCEL",
            "category": "wanted_by_courts",
            "reason": "Failed to appear at court",
            "image_source": "Custody image",
            "attests_image_is_subject": "true",
            "attests_still_of_interest": "true",
        },
        files=image,
    )
    assert entry.status_code == 422, entry.text
    assert ("WL-6", "watchlist") in {(p["rule"], p["field"]) for p in entry.json()["detail"]}
    table = (
        "subject_reference,category,reason,image_source,image\n"
        f"PNC-AFTER-CANCEL,wanted_by_courts,Failed to appear,Custody image,{photograph.name}\n"
    )
    imported = client_for(personas.applicant).post(
        f"/api/watchlists/{watchlist}/import",
        data={"attests_image_is_subject": "true", "attests_still_of_interest": "true"},
        files=[("table", ("rows.csv", table.encode(), "text/csv")), *image],
    )
    assert imported.status_code == 422, imported.text
    assert "WL-6" in {p["rule"] for p in imported.json()["detail"]}
    blue = client_for(personas.engineer).post(
        f"/api/deployments/{deployment}/blue-list",
        data={
            "username": "bronze",
            "consent_statement": "I agree to walk past the camera today",
            "image_source": "Photographed on the day",
            "consented": "true",
        },
        files=[("image", image[0][1])],
    )
    assert blue.status_code == 422, blue.text
    assert ("WL-6", "watchlist") in {(p["rule"], p["field"]) for p in blue.json()["detail"]}
    read = client_for(personas.applicant).get(f"/api/watchlists/{watchlist}").json()
    assert "PNC-AFTER-CANCEL" not in {e["subject_reference"] for e in read["entries"]}
    assert read["blue_list"] == []


def test_blue_list_enrolment_gives_the_measured_rate(
    web_context: WebContext,
    personas: Personas,
    planned: dict[str, str],
    subject_image: Path,
    faces_dir: Path,
    client_for,
) -> None:
    """REC-6: an engineer enrols a consenting member of staff (multipart); their alert is a
    test, never referred; the deployment shows the measured true-positive rate."""
    engineer = client_for(personas.engineer)
    volunteer = faces_dir / "face_recognition-examples" / "obama.jpg"
    deployment = planned["deployment"]
    form = {
        "username": "bronze",
        "consent_statement": "I agree to walk past the camera today",
        "image_source": "Photographed on the day",
        "consented": "true",
    }
    enrolled = engineer.post(
        f"/api/deployments/{deployment}/blue-list",
        data=form,
        files=[("image", (volunteer.name, volunteer.read_bytes(), "image/jpeg"))],
    )
    assert enrolled.status_code == 201, enrolled.text
    silver = client_for(personas.silver)
    before = silver.get(f"/api/deployments/{deployment}").json()["blue_list_test"]
    assert before == {"enrolled": 1, "alerted": 0, "rate": 0.0}
    with transaction(web_context.db) as db:
        deployments.start_deployment(db, personas.silver, deployment, policy=POLICY)
    rehearsal = _Rehearsal(deployment, enrolled.json()["id"])
    event = match_event(rehearsal, subject_image).model_copy(  # type: ignore[arg-type]
        update={"list_kind": ListKind.BLUE_LIST}
    )
    with transaction(web_context.db) as db:
        alert = alerts.create_alert(db, event, policy=POLICY)
        assert alert.is_test
    after = silver.get(f"/api/deployments/{deployment}").json()["blue_list_test"]
    assert after == {"enrolled": 1, "alerted": 1, "rate": 1.0}
    assert "100%" in silver.get(f"/deployments/{deployment}/blue-list").text
    operator = client_for(personas.operator)
    refused = operator.post(f"/api/alerts/{alert.id}/refer")
    assert refused.status_code == 422
    assert "REC-6" in {p["rule"] for p in refused.json()["detail"]}


def test_alerts_by_state_and_deployment_and_a_hold(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
    client_for,
) -> None:
    """GET /api/alerts filters; GET /api/alerts/{id}; DP-3 hold by Silver, on the alert page."""
    rehearsal = running_rehearsal(
        web_context.db,
        personas,
        subject_image,
        video_dir / "short_hamilton_clip.mp4",
        enroler,
    )
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    operator = client_for(personas.operator)
    pending = operator.get(
        "/api/alerts", params={"state": "pending", "deployment_id": rehearsal.deployment_id}
    ).json()
    assert [a["id"] for a in pending] == [alert_id]
    assert operator.get("/api/alerts", params={"state": "referred"}).json() == []
    assert operator.get(f"/api/alerts/{alert_id}").json()["state"] == "pending"
    outsider = client_for(personas.auditor)  # reviewers read every alert
    assert outsider.get(f"/api/alerts/{alert_id}").status_code == 200
    silver = client_for(personas.silver)
    review_on = (utcnow() + timedelta(days=60)).date().isoformat()
    held = silver.post(
        f"/api/alerts/{alert_id}/hold",
        json={"reason": "Complaint under investigation", "review_on": review_on},
    )
    assert held.status_code == 200, held.text
    assert held.json()["hold_review_on"] == review_on
    assert "held until review" in silver.get(f"/alerts/{alert_id}").text
    listing = silver.get("/alerts", params={"state": "pending"}).text
    assert f'href="/alerts/{alert_id}"' in listing
    assert "alert.hold" in actions_on(web_context, alert_id)


class _Rehearsal:
    """What `match_event` reads of a rehearsal: the deployment and the matched subject."""

    def __init__(self, deployment_id: str, entry_id: str) -> None:
        self.deployment_id = deployment_id
        self.entry_id = entry_id


def _urgent_running(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    clip: Path,
    enroler: VisionEnroler,
) -> tuple[str, str, str]:
    """An urgent authority given by an Inspector for a five-day window, its deployment
    running: (application, authority, deployment)."""
    accounts = persona_accounts(personas)
    application = replace(
        rehearsal_application(personas.applicant, hours=120),
        urgent=True,
        urgency_reason="A missing child was seen nearby an hour ago",
    )
    application_id, authority_id = authorise(
        web_context.db,
        accounts,
        application,
        decider=personas.inspector,
        reasons="Urgent: a child at risk",
    )
    compile_watchlist(
        web_context.db, personas.applicant, authority_id, subject_image.read_bytes(), enroler
    )
    deployment_id = plan_and_staff(web_context.db, accounts, authority_id)
    point_camera(web_context.db, accounts, clip)
    with transaction(web_context.db) as db:
        deployments.start_deployment(db, personas.silver, deployment_id, policy=POLICY)
    return application_id, authority_id, deployment_id


def test_a_confirmed_urgent_deployment_runs_past_the_lapse_time(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
    client_for,
) -> None:
    """AUTH-3: the Superintendent confirms on the application page (the form, as a browser
    posts it); at the time an unconfirmed one would lapse, the deployment is not ended."""
    clip = video_dir / "short_hamilton_clip.mp4"
    application_id, authority_id, deployment_id = _urgent_running(
        web_context, personas, subject_image, clip, enroler
    )
    superintendent = client_for(personas.authorising_officer)
    posted = superintendent.post(
        f"/authorities/{authority_id}/confirm", data={}, follow_redirects=False
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/applications/{application_id}"
    assert 'id="urgent-confirmed"' in superintendent.get(f"/applications/{application_id}").text
    past_lapse = utcnow() + web_context.policy.urgent_validity + timedelta(minutes=1)
    with transaction(web_context.db) as db:
        assert (
            deployments.end_out_of_force(
                db, deployment_id, now=past_lapse, policy=web_context.policy
            )
            is None
        )
    assert (
        client_for(personas.silver).get(f"/api/deployments/{deployment_id}").json()["status"]
        == "running"
    )


def test_an_unconfirmed_urgent_deployment_ends_at_the_lapse_time(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
) -> None:
    """AUTH-3, the other side: without the confirmation the system ends it, saying why."""
    clip = video_dir / "short_hamilton_clip.mp4"
    _application, _authority, deployment_id = _urgent_running(
        web_context, personas, subject_image, clip, enroler
    )
    past_lapse = utcnow() + web_context.policy.urgent_validity + timedelta(minutes=1)
    with transaction(web_context.db) as db:
        ended = deployments.end_out_of_force(
            db, deployment_id, now=past_lapse, policy=web_context.policy
        )
        assert ended is not None
        assert "AUTH-3" in (ended.cancel_reason or "")


def test_an_administrator_creates_an_account_and_records_its_training_over_json(
    web_context: WebContext, personas: Personas, client_for
) -> None:
    """Account creation and training records (TRN-1) have JSON doors like their People page
    forms: the first password is shown once, a biometric role waits for a second
    administrator, and a training record with its expiry before completion is refused."""
    admin = client_for(personas.administrator)
    created = admin.post(
        "/api/people",
        json={
            "username": "new-operator",
            "display_name": "New Operator",
            "rank": "STAFF",
            "roles": ["engineer", "operator"],
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["roles"] == ["engineer"]
    assert account["pending_roles"] == ["operator"]
    assert len(account["one_time_password"]) >= 12
    assert "user.create" in actions_on(web_context, account["id"])
    unknown_rank = admin.post(
        "/api/people", json={"username": "x", "display_name": "X", "rank": "GENERAL"}
    )
    assert unknown_rank.status_code == 422
    assert "unknown rank 'GENERAL': one of STAFF, CONSTABLE," in unknown_rank.text
    lower_case = admin.post(
        "/api/people", json={"username": "y", "display_name": "Y", "rank": "sergeant"}
    )
    assert lower_case.status_code == 201, lower_case.text

    training = {"role": "operator", "completed_on": "2026-06-01", "expires_on": "2027-06-01"}
    recorded = admin.post(f"/api/people/{account['id']}/training", json=training)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json() == {**training, "user_id": account["id"]}
    people_listed = {p["id"]: p for p in admin.get("/api/people").json()}
    assert people_listed[account["id"]]["training"][0]["role"] == "operator"
    backwards = {**training, "expires_on": "2026-01-01"}
    refused = admin.post(f"/api/people/{account['id']}/training", json=backwards)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["reason"] == "expiry must be after completion"
    assert client_for(personas.operator).post("/api/people", json={}).status_code == 403


def test_a_body_that_cannot_be_read_is_refused_as_documented(
    personas: Personas, client_for
) -> None:
    """A body that is not UTF-8 answers 400 in the one refusal shape, as every route that
    reads a body documents (`BODY_ERRORS`)."""
    applicant = client_for(personas.applicant)
    response = applicant.post(
        "/api/applications",
        content=b'{"title": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    (problem,) = response.json()["detail"]
    assert problem["rule"] == "request"
    documented = applicant.get("/api/openapi.json").json()["paths"]["/api/applications"]["post"]
    assert {"400", "413", "422"} <= set(documented["responses"])


def test_the_rehearsal_of_a_model_whose_default_is_below_its_floor_records_why(
    web_context: WebContext,
    personas: Personas,
    subject_image: Path,
    video_dir: Path,
    enroler: VisionEnroler,
) -> None:
    """`lfr demo` configured with dlib fused with faceres (default 0.909, floor 0.942):
    the rehearsal is authorised with its justification recorded, as the lock asks (EQ-1),
    where it used to stop the demo with a traceback."""
    from lfr.db.reports import ThresholdJustificationRow
    from lfr.vision.describers.faceres import DLIB_FACERES_CARD

    assert DLIB_FACERES_CARD.default_threshold is not None
    media = DemoMedia(subject_image, video_dir / "short_hamilton_clip.mp4")
    seed_rehearsal(
        web_context.db,
        persona_accounts(personas),
        media,
        enroler,
        model_version=DLIB_FACERES_CARD.model_id,
        engine_threshold=DLIB_FACERES_CARD.default_threshold,
    )
    with transaction(web_context.db) as session:
        (justified,) = session.scalars(select(ThresholdJustificationRow))
        actions = set(session.scalars(select(AuditEntry.action)))
    assert justified.threshold == DLIB_FACERES_CARD.default_threshold
    assert justified.equitable_threshold > justified.threshold
    assert "application.threshold_below_equitable" in actions
