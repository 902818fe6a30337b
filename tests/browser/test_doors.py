"""The doors added for the framework's use-cases, in a browser on the real server: an urgent
authority given by an Inspector is confirmed by a Superintendent on the application page
(AUTH-3); an engineer enrols a consenting member of staff on the blue list from the
deployment page; the performer walks past in the Hamilton clip, the operator sees a test
alert that cannot be referred, and the deployment page and the review show the measured
true-positive rate (REC-6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lfr.db.session import transaction
from lfr.demo import (
    authorise,
    compile_watchlist,
    plan_and_staff,
    point_camera,
    rehearsal_application,
    trained_account,
)
from lfr.domain.people import Rank, Role
from lfr.reports.review import review_for_deployment
from lfr.services import people
from tests.browser.conftest import LiveServer
from tests.browser.test_story import ALERT_WAIT_MS, Person

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]


def urgent_deployment(server: LiveServer, watchlist_image: Path, clip: Path) -> tuple[str, str]:
    """An Inspector's urgent authority for a five-day window, consulted, its watchlist and
    deployment planned and staffed: (application id, deployment id)."""
    db = server.context.db
    accounts = {name: account.actor for name, account in server.accounts.items()}
    with transaction(db) as session:
        inspector = people.to_actor(
            trained_account(
                session,
                username="inspector",
                display_name="Insp. Duty Officer",
                rank=Rank.INSPECTOR,
                roles=(Role.AUTHORISING_OFFICER,),
                password="inspector's long password",
            )
        )
    application = replace(
        rehearsal_application(accounts["applicant"], hours=120),
        urgent=True,
        urgency_reason="A missing child was seen at the stage door an hour ago",
    )
    application_id, authority_id = authorise(
        db, accounts, application, decider=inspector, reasons="Urgent: a child at risk"
    )
    compile_watchlist(
        db,
        accounts["applicant"],
        authority_id,
        watchlist_image.read_bytes(),
        server.context.enroler(),
    )
    deployment_id = plan_and_staff(db, accounts, authority_id)
    point_camera(db, accounts, clip)
    return application_id, deployment_id


def test_urgent_confirmation_and_a_blue_list_walk_past(
    chromium: Any, live_server: LiveServer, faces_dir: Path, video_dir: Path
) -> None:
    examples = faces_dir / "face_recognition-examples"
    application_id, deployment_id = urgent_deployment(
        live_server, examples / "biden.jpg", video_dir / "short_hamilton_clip.mp4"
    )
    team = {
        name: Person(chromium, live_server, name)
        for name in ("authoriser", "engineer", "silver", "operator", "reviewer")
    }
    for person in team.values():
        person.sign_in()

    superintendent = team["authoriser"]
    superintendent.go(f"/applications/{application_id}")
    superintendent.page.wait_for_selector("#urgent-unconfirmed")
    superintendent.shot("urgent-unconfirmed")
    superintendent.page.click("#confirm-button")
    superintendent.page.wait_for_selector("#urgent-confirmed")
    superintendent.shot("urgent-confirmed")

    engineer = team["engineer"]
    engineer.go(f"/deployments/{deployment_id}")
    form = engineer.page.wait_for_selector("#blue-list-form")
    assert form is not None
    engineer.page.fill("#blue-username", "bronze")
    engineer.page.fill("#consent_statement", "I agree to walk past the stage door camera today.")
    engineer.page.check("#blue-consented")
    engineer.page.fill("#blue-image-source", "Photographed on the day")
    engineer.page.set_input_files("#blue-image", str(examples / "lin-manuel-miranda.png"))
    engineer.page.click("#blue-list-button")
    engineer.page.wait_for_selector("#blue-list-rate:has-text('1 consenting')", timeout=60_000)
    engineer.shot("blue-list-enrolled")

    silver, operator = team["silver"], team["operator"]
    operator.go("/console")
    operator.page.wait_for_selector("#live-status:has-text('live')")
    silver.go(f"/deployments/{deployment_id}")
    silver.page.click("#start-button")
    silver.page.wait_for_selector("#deployment-status:has-text('running')")
    card = operator.page.wait_for_selector(
        ".alert-card:has-text('TEST (blue list)')", timeout=ALERT_WAIT_MS
    )
    assert card is not None
    assert "Refer" not in card.inner_text()  # REC-6: a test is never referred
    operator.shot("console-test-alert")
    card.query_selector("input[name=reason]").fill("Blue-list volunteer seen")  # type: ignore[union-attr]
    card.query_selector("button:has-text('Dismiss')").click()  # type: ignore[union-attr]
    operator.page.wait_for_selector(".alert-card:has-text('dismissed')")

    silver.go(f"/deployments/{deployment_id}")
    silver.page.wait_for_selector("#blue-list-rate:has-text('100%')")
    silver.shot("deployment-blue-list-rate")
    silver.page.check("#end_confirmed")
    silver.page.click("#end-button")
    silver.page.wait_for_selector("#deployment-status:has-text('ended')")

    with transaction(live_server.context.db) as session:
        review = review_for_deployment(session, deployment_id)
        assert review is not None
        review_id = review.id
    reviewer = team["reviewer"]
    reviewer.go(f"/reviews/{review_id}")
    reviewer.page.wait_for_selector("text=measured true-positive rate 100%")
    reviewer.shot("review-blue-list")
    for person in team.values():
        person.context.close()
