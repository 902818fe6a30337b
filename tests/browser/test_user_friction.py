"""What a police user tripped over, in chromium at 1280 and 375 px (each page passes axe-core
with nothing serious and is no wider than the screen; screenshots in
test-artifacts/screenshots/user-*):

- the live view hides every face (a full-height face is a grey blur) and a camera without
  frames says so instead of showing a frozen frame (REC-5);
- alerts still undecided at a deployment's end are closed as not adjudicated, with no Refer
  left to press (ADJ-4, REV-1);
- the review's assessment is one form: a refused sign-off keeps what was typed (REV-1);
- a refused start stays on the deployment page, each condition with who fixes it and where;
  a refused training record stays on its form (DEP-1, TRN-1);
- the decision form's forecast counts a narrowed window typed in UK time and says which
  watchlist size it assumes (AUTH-2); the WAD and its PDF (AUTH-5);
- roles in words, a pending grant naming the person, plain words on the equitability page,
  cameras ticked rather than typed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lfr.db.session import transaction
from lfr.db.web_sessions import SessionStage
from lfr.demo import authorise, compile_watchlist, rehearsal_application, submitted
from lfr.domain.authorisation import Conditions
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Role
from lfr.reports import review
from lfr.runtime.preview import PreviewHub
from lfr.services import alerts, cameras, deployments, people
from lfr.vision.imageio import encode_jpeg, load_image
from lfr.vision.pipeline import private_view
from lfr.web.app import create_app
from lfr.web.context import WebContext
from lfr.web.sessions import COOKIE_NAME
from tests.browser.conftest import check_page
from tests.db_fixtures import POLICY, Personas, persona_accounts, sqlite_url
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CAMERAS, CachingEnroler, build_world, match_event
from tests.integration.reports.recorded import record_deployment
from tests.integration.vision.test_preview_criterion import background, place
from tests.web.conftest import system, system_settings, web_context
from tests.web.serve_process import served_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.db]
__all__ = ["enroler", "system", "system_settings", "web_context"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """What these pages show does not depend on the database engine: SQLite only
    (`tests.db_fixtures.sqlite_url`), so the browser runs once per test."""
    return sqlite_url(tmp_path)


@pytest.fixture
def server(web_context: WebContext) -> Iterator[str]:
    """The app on the test database, in a thread, with a preview hub (no camera runtime)."""
    web_context.preview = PreviewHub()
    with served_in_thread(create_app(web_context)) as url:
        yield url


class Browser:
    """One person's browser, signed in by a session cookie (sign-in has its own test)."""

    def __init__(self, chromium: Any, url: str, web_context: WebContext, actor: Actor) -> None:
        self.url = url
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        with transaction(web_context.db) as db:
            token, _ = web_context.sessions.create(
                db, user_id=actor.user_id, stage=SessionStage.SIGNED_IN, second_factor=True
            )
        self.context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": url}])

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def shot(self, axe: Path, name: str) -> None:
        check_page(self.page, axe, f"user-{name}")


def full_height_face_view(faces_dir: Path, video_dir: Path) -> bytes:
    """A 640×480 frame whose face fills its height, as the preview sends it (JPEG)."""
    photo = load_image(faces_dir / "face_recognition-examples" / "obama-1080p.jpg")
    from lfr.vision.detection import build_detector

    (face, *_) = build_detector().detect(photo)
    scene = place(photo, face.box, 470, background(video_dir, (480, 640)), np.zeros(128))
    return encode_jpeg(private_view(scene.frame, []), quality=70)


def test_live_view_hides_faces_flags_a_camera_without_frames_and_the_end_closes_alerts(
    chromium: Any,
    server: str,
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    video_dir: Path,
    axe_script: Path,
) -> None:
    """REC-5, ADJ-4: the console shows one camera as a grey blur (a full-height face in it)
    and the other, whose last frame is a minute old, as "no frames"; once the deployment
    ends, its undecided alert reads "not adjudicated" and offers no Refer."""
    world = build_world(web_context.db, personas, enroler, faces_dir)
    with transaction(web_context.db) as db:
        alert_id = alerts.create_alert(db, match_event(world, faces_dir), policy=POLICY).id
    hub = web_context.preview
    assert isinstance(hub, PreviewHub)
    # one camera keeps delivering (its frame stays fresh for the test's length), the other
    # stopped a minute ago
    fresh, frozen = time.monotonic() + 600, time.monotonic() - 60
    jpeg = full_height_face_view(faces_dir, video_dir)
    hub.keep(world.deployment_id, CAMERAS[0], jpeg, received=fresh)
    hub.keep(world.deployment_id, CAMERAS[1], b"\xff\xd8old", received=frozen)

    operator = Browser(chromium, server, web_context, personas.operator)
    operator.go("/console")
    operator.page.wait_for_function(
        "() => [...document.querySelectorAll('img.camera-preview')]"
        ".some(img => img.complete && img.naturalWidth > 0)"
    )
    operator.page.wait_for_selector(".no-frames:visible")
    assert operator.page.locator(".no-frames:visible").count() == 1
    assert operator.page.locator("img.camera-preview:visible").count() == 1
    assert operator.page.locator(f"#alert-{alert_id}").count() == 1  # waiting, decidable
    operator.shot(axe_script, "console-blurred-view-and-no-frames")

    with transaction(web_context.db) as db:
        deployments.end_deployment(db, personas.silver, world.deployment_id, policy=POLICY)
    operator.go(f"/alerts/{alert_id}")
    assert operator.page.inner_text("#alert-state") == "not adjudicated"
    assert operator.page.locator("button", has_text="Refer").count() == 0
    operator.shot(axe_script, "alert-not-adjudicated")
    operator.go("/console")
    history = operator.page.inner_text("#alert-history")
    assert "the deployment ended before anyone decided it" in history
    operator.shot(axe_script, "console-after-the-end")


def test_a_refused_sign_off_keeps_the_assessment_and_the_review_counts_downtime(
    chromium: Any,
    server: str,
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    axe_script: Path,
) -> None:
    """REV-1: two boxes written and Sign off pressed: refused on the page, in the form's
    words, both texts still there; the third written, the same button signs off. The
    figures show downtime and the not-adjudicated count."""
    recorded = record_deployment(web_context.db, personas, enroler, faces_dir)
    with transaction(web_context.db) as db:
        row = review.review_for_deployment(db, recorded.world.deployment_id)
        assert row is not None
        review_id = row.id
    reviewer = Browser(chromium, server, web_context, personas.auditor)
    reviewer.go(f"/reviews/{review_id}")
    figures = reviewer.page.inner_text("#figures")
    assert "Camera downtime" in figures
    assert "Not adjudicated" in figures
    reviewer.page.fill("#performance", "Two true alerts, one arrest; false alerts as forecast.")
    reviewer.page.fill("#safeguards", "The operator dismissed a weak match.")
    reviewer.page.click("#sign-off-button")
    problems = reviewer.page.wait_for_selector("#assessment-form .problems")
    assert "Lessons" in problems.inner_text()
    assert "lessons" not in problems.inner_text().replace("Lessons", "")
    assert reviewer.page.input_value("#performance").startswith("Two true alerts")
    assert reviewer.page.input_value("#safeguards") == "The operator dismissed a weak match."
    reviewer.shot(axe_script, "review-sign-off-refused-text-kept")
    reviewer.page.fill("#lessons", "Brief engagement officers on the south exit's lighting.")
    reviewer.page.click("#sign-off-button")
    reviewer.page.wait_for_selector("#review-status:has-text('signed off')")
    reviewer.shot(axe_script, "review-signed-off")


def test_refusals_stay_on_the_form_and_say_who_fixes_what(
    chromium: Any,
    server: str,
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    axe_script: Path,
) -> None:
    """DEP-1, TRN-1: an unstaffed deployment's start is refused beside the Start button,
    each condition with who fixes it and a link; a training record with its expiry before
    its completion is refused beside its form, the dates kept; roles are named in words and
    a pending grant names the person."""
    accounts = persona_accounts(personas)
    _, authority = authorise(web_context.db, accounts, rehearsal_application(personas.applicant))
    image = (faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png").read_bytes()
    compile_watchlist(web_context.db, personas.applicant, authority, image, enroler)
    with transaction(web_context.db) as db:
        deployment = deployments.plan_deployment(
            db, personas.applicant, authority, ["Rehearsal Street"], ["demo-cam"], policy=POLICY
        ).id
    silver = Browser(chromium, server, web_context, personas.silver)
    silver.go(f"/deployments/{deployment}")
    checklist = silver.page.inner_text("#checklist")
    assert "Silver or Gold assigns someone here" in checklist
    assert "engagement_officer" not in checklist
    silver.page.click("#start-button")
    refused = silver.page.wait_for_selector("#start-refused")
    assert "Not started" in refused.inner_text()
    assert silver.page.locator("#start-refused a[href='/cameras']").count() >= 1
    silver.shot(axe_script, "start-refused-who-and-where")

    with transaction(web_context.db) as db:
        people.set_roles(
            db,
            actor=personas.administrator,
            user_id=personas.operator.user_id,
            roles=[Role.OPERATOR, Role.REVIEWER],
            reason="Joins the review team",
        )
    admin = Browser(chromium, server, web_context, personas.administrator)
    admin.go("/people")
    grants = admin.page.inner_text("#grants")
    assert "Reviewer for" in grants
    assert "(operator)" in grants
    assert "authorising_officer" not in admin.page.inner_text("main")
    account = admin.page.locator("td[data-label=Account]", has_text="engagement-officer")
    row = admin.page.locator("tr").filter(has=account)
    row.locator("select[name=role]").select_option("engagement_officer")
    row.locator("input[name=completed_on]").fill("2026-06-01")
    row.locator("input[name=expires_on]").fill("2026-01-01")
    row.locator(".training-form button").click()
    admin.page.wait_for_selector("#refused")
    assert "expiry must be after completion" in admin.page.inner_text("#refused")
    kept = admin.page.locator("tr").filter(has=account)
    assert kept.locator("input[name=completed_on]").input_value() == "2026-06-01"
    assert kept.locator("input[name=expires_on]").input_value() == "2026-01-01"
    admin.shot(axe_script, "people-training-refused-roles-in-words")


def test_forecast_window_wad_and_plain_pages(
    chromium: Any,
    server: str,
    web_context: WebContext,
    personas: Personas,
    video_dir: Path,
    axe_script: Path,
) -> None:
    """AUTH-2, AUTH-5, EQ-1: a window narrowed (UK time) to 2 hours is what the forecast
    counts, and its assumed watchlist size says so; the WAD page links its PDF, which
    opens; the equitability page speaks plainly; configured cameras are ticked."""
    applicant = personas.applicant
    application = replace(
        rehearsal_application(applicant),
        watchlist_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS}),
    )
    pending = submitted(web_context.db, applicant, application)
    authoriser = Browser(chromium, server, web_context, personas.authorising_officer)
    authoriser.go(f"/applications/{pending}")
    authoriser.page.fill("#expected_footfall", "1000")
    authoriser.page.fill("#condition_window_start", "2026-07-04T10:00")
    authoriser.page.fill("#condition_window_end", "2026-07-04T12:00")
    authoriser.page.wait_for_selector("#forecast-inputs:has-text('the narrowed window')")
    inputs = authoriser.page.inner_text("#forecast-inputs")
    assert "2,000 faces" in inputs
    assert "assumed" in inputs
    assert "UK time" in authoriser.page.inner_text("#decide-form")
    assert "cosine" not in authoriser.page.inner_text("#decide-form")
    authoriser.shot(axe_script, "decision-forecast-narrowed-window")

    accounts = persona_accounts(personas)
    approved_id, _ = authorise(
        web_context.db,
        accounts,
        application,
        conditions=Conditions(alert_threshold=0.96),
        consult=False,
        reasons="Necessary and proportionate.",
    )
    gold = Browser(chromium, server, web_context, personas.gold)
    gold.go(f"/applications/{approved_id}/wad")
    pdf = gold.page.request.get(gold.url + f"/applications/{approved_id}/wad.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    gold.shot(axe_script, "wad")

    reviewer = Browser(chromium, server, web_context, personas.auditor)
    reviewer.go("/equitability")
    words = reviewer.page.inner_text("main")
    assert "lfr evaluate" not in words
    assert "cosine" not in words
    reviewer.shot(axe_script, "equitability-plain-words")

    with transaction(web_context.db) as db:
        cameras.configure_camera(
            db, personas.engineer, "cam-east", str(video_dir / "short_hamilton_clip.mp4")
        )
    drafter = Browser(chromium, server, web_context, applicant)
    drafter.go("/applications/new")
    drafter.page.check("input[name=camera_choices][value=cam-east]")
    drafter.shot(axe_script, "application-cameras-ticked")
