"""The pages people decide and work from, in chromium at 1280 and 375 px: a refusal appears on
the form that caused it with what was typed still there; the decision form forecasts alerts
for this deployment as the officer types; the watchlist page shows the conditions; the WAD
reads as a document. Every page passes axe-core with no serious or critical violation and
is no wider than a 375 px screen. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lfr.db.session import transaction
from lfr.demo import (
    authorise,
    rehearsal_application,
    submitted,
)
from lfr.domain.authorisation import Conditions
from lfr.domain.categories import WatchlistCategory
from lfr.services import watchlists
from tests.browser.conftest import SCREENSHOTS, LiveServer, check_page
from tests.browser.test_story import Person
from tests.db_fixtures import POLICY

pytestmark = [pytest.mark.browser, pytest.mark.db]


def approved_with_conditions(server: LiveServer) -> tuple[str, str]:
    """(application id awaiting a decision, watchlist id of another, approved with
    conditions), made through the services as the demo accounts."""
    applicant = server.accounts["applicant"].actor
    application = replace(
        rehearsal_application(applicant),
        places=("Stage Door, 12 High Street", "Market Square"),
        watchlist_categories=frozenset(
            {WatchlistCategory.WANTED_BY_COURTS, WatchlistCategory.MISSING_AT_RISK}
        ),
    )
    accounts = {name: account.actor for name, account in server.accounts.items()}
    pending_id = submitted(server.context.db, applicant, application)
    _, authority_id = authorise(
        server.context.db,
        accounts,
        application,
        conditions=Conditions(
            max_watchlist_size=10,
            allowed_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS}),
            alert_threshold=0.96,
        ),
        consult=False,
        reasons="Necessary and proportionate; narrowed to people wanted by the courts.",
    )
    with transaction(server.context.db) as session:
        watchlist = watchlists.create_watchlist(session, applicant, authority_id, policy=POLICY)
        return pending_id, watchlist.id


def test_forms_refuse_in_place_decide_with_a_forecast_and_show_conditions(
    chromium: Any, live_server: LiveServer, axe_script: Path
) -> None:
    """AUTH-1/2/5/6, WL-3, EQ-1 in the browser."""
    pending_id, watchlist_id = approved_with_conditions(live_server)

    applicant = Person(chromium, live_server, "applicant")
    applicant.sign_in()
    applicant.go("/applications/new")
    applicant.page.fill("#title", "Half-finished draft")
    applicant.page.fill("#lawful_basis", "Common-law powers.")
    applicant.page.click("#save-draft")
    applicant.page.wait_for_selector("#submit-application")
    applicant.page.click("#submit-application")
    problems = applicant.page.wait_for_selector("#submit-form .problems")
    text = problems.inner_text()
    assert "Legitimate aim" in text
    assert "legitimate_aim" not in text
    check_page(applicant.page, axe_script, "pages-refusal-on-the-page")

    applicant.go(f"/watchlists/{watchlist_id}")
    assert "0 of 10 allowed" in applicant.page.inner_text("#watchlist-size")
    options = applicant.page.eval_on_selector_all("#category option", "os => os.map(o => o.value)")
    assert options == ["wanted_by_courts"]
    applicant.page.fill("#subject_reference", "PNC-1")
    applicant.page.fill("#reason", "Wanted on warrant.")
    applicant.page.click("#add-entry")  # no image chosen: the browser's own check stops it
    assert applicant.page.input_value("#subject_reference") == "PNC-1"
    check_page(applicant.page, axe_script, "pages-watchlist-conditions")

    authoriser = Person(chromium, live_server, "authoriser")
    authoriser.sign_in()
    authoriser.go(f"/applications/{pending_id}")
    authoriser.page.fill("#expected_footfall", "1500")
    # 0.96: within the thresholds the shipped calibration measured (to 0.965)
    authoriser.page.fill("#alert_threshold", "0.96")
    authoriser.page.wait_for_selector("#forecast-inputs:has-text('0.96')")
    forecast = authoriser.page.inner_text("#forecast")
    assert "For this deployment:" in forecast  # from the calibration shipped with the model
    assert "false alert" in forecast
    check_page(authoriser.page, axe_script, "pages-decide-forecast")
    authoriser.page.check("input[name=kind][value=approve_with_conditions]")
    authoriser.page.fill("#alert_threshold", "")
    authoriser.page.click("#decide-button")  # no reasons: the browser asks for them first
    authoriser.page.fill("#reasons", "Approved, narrowed.")
    authoriser.page.click("#decide-button")  # with conditions, but none given: refused
    problems = authoriser.page.wait_for_selector("#decide-form .problems")
    assert "Conditions" in problems.inner_text()
    assert authoriser.page.input_value("#reasons") == "Approved, narrowed."
    check_page(authoriser.page, axe_script, "pages-decide-refused")
    authoriser.page.fill("#alert_threshold", "0.97")
    authoriser.page.click("#decide-button")
    authoriser.page.wait_for_selector("#application-status:has-text('approved')")
    assert "What the authority allows" in authoriser.page.inner_text("#conditions")

    gold = Person(chromium, live_server, "gold")
    gold.sign_in()
    gold.go(f"/applications/{approved_id(live_server, watchlist_id)}/wad")
    gold.page.wait_for_selector("#wad-verified")
    assert "Market Square" in gold.page.inner_text("#wad")
    check_page(gold.page, axe_script, "pages-wad")
    gold.page.emulate_media(media="print")
    gold.page.screenshot(path=str(SCREENSHOTS / "pages-wad-print.png"), full_page=True)
    assert not gold.page.is_visible("header.top")
    gold.page.emulate_media(media="screen")
    pdf = gold.page.request.get(gold.page.url + ".pdf")
    assert pdf.ok
    assert pdf.body().startswith(b"%PDF-")


def approved_id(server: LiveServer, watchlist_id: str) -> str:
    from lfr.db.governance import AuthorityRow, WatchlistRow

    with transaction(server.context.db) as session:
        watchlist = session.get(WatchlistRow, watchlist_id)
        assert watchlist is not None
        authority = session.get(AuthorityRow, watchlist.authority_id)
        assert authority is not None
        return authority.application_id


def test_second_factor_enrolment_shows_a_qr_code_that_scans(
    chromium: Any, live_server: LiveServer, axe_script: Path
) -> None:
    """Enrolment shows a QR code an authenticator app can scan (here OpenCV's reader
    decodes the screenshot to the otpauth link), fits a 375 px phone, passes axe."""
    import cv2
    import numpy as np

    from lfr.demo import trained_account
    from lfr.domain.people import Rank, Role

    with transaction(live_server.context.db) as session:
        trained_account(
            session,
            username="new-silver",
            display_name="New Silver",
            rank=Rank.CHIEF_INSPECTOR,
            roles=[Role.SILVER],
            password="new-silver-demo-password",
        )
    person = Person(chromium, live_server, "silver", width=375)
    person.go("/sign-in")
    person.page.fill("#username", "new-silver")
    person.page.fill("#password", "new-silver-demo-password")
    person.page.click("button[type=submit]")
    person.page.wait_for_selector("#totp-qr svg")
    check_page(person.page, axe_script, "pages-second-factor-qr")
    person.page.set_viewport_size({"width": 375, "height": 900})
    png = person.page.locator("#totp-qr").screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text = scanned_qr(image)
    secret = person.page.text_content("#totp-secret")
    assert text.startswith("otpauth://totp/")
    assert f"secret={secret}" in text


def test_public_pages_are_accessible_and_fit_a_phone(
    chromium: Any, live_server: LiveServer, axe_script: Path
) -> None:
    """PUB-1..3: what anyone can read, with the shipped documents and readable times."""
    approved_with_conditions(live_server)
    visitor = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = visitor.new_page()
    for path, name in (
        ("/public", "pages-public"),
        ("/public/documents", "pages-public-documents"),
        ("/public/open-data", "pages-public-open-data"),
    ):
        page.goto(live_server.url + path)
        check_page(page, axe_script, name)
    page.goto(live_server.url + "/public/documents")
    assert page.is_visible("text=not yet adopted")
    visitor.close()


def running_on_a_missing_clip(live_server: LiveServer, faces_dir: Path, tmp_path: Path) -> str:
    """`lfr demo`'s rehearsal, started by Silver, its camera pointed at a file that does not
    exist (so its worker keeps failing): the deployment's id."""
    from lfr.demo import seed_rehearsal
    from lfr.demo.media import DemoMedia
    from lfr.services import deployments
    from lfr.services.watchlists import VisionEnroler

    actors = {name: account.actor for name, account in live_server.accounts.items()}
    db = live_server.context.db
    image = faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png"
    media = DemoMedia(image, tmp_path / "no-such-clip.mp4")
    rehearsal = seed_rehearsal(db, actors, media, VisionEnroler.default())
    with transaction(db) as session:
        deployments.start_deployment(
            session, actors["silver"], rehearsal.deployment_id, policy=POLICY
        )
    return rehearsal.deployment_id


def test_console_warns_when_a_camera_is_down(
    chromium: Any, live_server: LiveServer, axe_script: Path, faces_dir: Path, tmp_path: Path
) -> None:
    """REC-5: a running deployment whose camera cannot be read puts a banner on the console
    saying which camera and why (the real worker, the real runtime)."""
    running_on_a_missing_clip(live_server, faces_dir, tmp_path)
    operator = Person(chromium, live_server, "operator")
    operator.sign_in()
    operator.go("/console")
    banner = operator.page.wait_for_selector("#cameras-down", timeout=60_000)
    assert "demo-cam" in banner.inner_text()
    check_page(operator.page, axe_script, "pages-console-camera-down")


def test_halt_and_end_need_their_box_ticked(
    chromium: Any, live_server: LiveServer, axe_script: Path, faces_dir: Path, tmp_path: Path
) -> None:
    """DEP-2: the browser will not send an unticked Halt; a browser that does (no form
    validation) gets the refusal inside the Halt form with the reason kept; ticked, the
    halt opens the review the page then links to; End needs its own box."""
    deployment_id = running_on_a_missing_clip(live_server, faces_dir, tmp_path)
    silver = Person(chromium, live_server, "silver", width=375)
    silver.sign_in()
    silver.go(f"/deployments/{deployment_id}")
    page = silver.page
    page.fill("#halt-reason", "Crowd surge at the stage door")
    page.click("#halt-button")
    assert page.is_visible("#halt_confirmed:invalid")  # the browser held it back
    assert page.inner_text("#deployment-status") == "running"

    page.evaluate("document.getElementById('halt_confirmed').required = false")
    page.click("#halt-button")
    problems = page.wait_for_selector("#halt-form .problems")
    assert "tick the box to confirm" in problems.inner_text().lower()
    assert page.input_value("#halt-reason") == "Crowd surge at the stage door"
    assert page.inner_text("#deployment-status") == "running"
    check_page(page, axe_script, "pages-halt-refused")

    page.check("#halt_confirmed")
    page.click("#halt-button")
    page.wait_for_selector("#deployment-status:has-text('halted')")
    assert page.is_visible("#review-link")
    check_page(page, axe_script, "pages-halted-with-review")
    page.check("#end_confirmed")
    page.click("#end-button")
    page.wait_for_selector("#deployment-status:has-text('ended')")
    assert page.is_visible("#review-link")


def scanned_qr(image: Any) -> str:
    """What a phone's reader makes of the code: OpenCV's detector, given the screenshot
    with a quiet zone around it and, as a phone's camera would see it, larger (at 375 px
    a module is about 3 screen pixels, which the detector misses now and then)."""
    import cv2

    for scale in (1, 2, 3):
        framed = cv2.copyMakeBorder(image, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=(255,) * 3)
        sized = cv2.resize(framed, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(sized)
        if text:
            return str(text)
    return ""
