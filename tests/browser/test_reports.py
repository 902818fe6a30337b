"""The report pages in chromium (REV-1, PUB-1..3, EQ-1..3): a reviewer opens the review of a
recorded deployment, sees its charts, writes the assessment and signs off; the public
pages then show the results and nothing personal; the equitability and monitoring pages
render their charts. Screenshots at 1280 and 375 px in test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lfr.db.session import transaction
from lfr.db.web_sessions import SessionStage
from lfr.domain.people import Actor
from lfr.reports import review
from lfr.reports.transparency import DocumentKind
from lfr.services import publication
from lfr.system import System
from lfr.web.context import WebContext
from lfr.web.sessions import COOKIE_NAME
from tests.browser.conftest import SCREENSHOTS
from tests.db_fixtures import Personas, sqlite_url
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CachingEnroler
from tests.integration.reports.recorded import (
    assert_clean,
    forbidden_values,
    record_deployment,
)
from tests.integration.reports.test_thresholds import store_synthetic_evaluation
from tests.web.conftest import system, system_settings, web_context
from tests.web.serve_process import served_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.db]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """What these pages draw does not depend on the database engine: SQLite only
    (`tests.db_fixtures.sqlite_url`)."""
    return sqlite_url(tmp_path)


__all__ = ["enroler", "system", "system_settings", "web_context"]


@pytest.fixture
def server(system: System) -> Iterator[str]:
    """The app as `lfr serve` builds it (no camera runtime: nothing runs) on the test
    database, in a thread."""
    with served_in_thread(system.app) as url:
        yield url


class Browser:
    """One person's browser context; signed in by a session cookie (sign-in has its own
    browser test) or anonymous."""

    def __init__(self, chromium: Any, url: str) -> None:
        self.url = url
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)

    def sign_in_as(self, web_context: WebContext, actor: Actor) -> None:
        with transaction(web_context.db) as db:
            token, _ = web_context.sessions.create(
                db, user_id=actor.user_id, stage=SessionStage.SIGNED_IN, second_factor=True
            )
        self.context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": self.url}])

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def images_loaded(self) -> list[str]:
        """Ids of the page's chart images that the browser decoded."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        loaded: list[str] = self.page.eval_on_selector_all(
            "img[id^=chart-]",
            "els => els.filter(e => e.complete && e.naturalWidth > 0).map(e => e.id)",
        )
        return sorted(loaded)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width in (1280, 375):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.screenshot(
                path=str(SCREENSHOTS / f"reports-{name}-{width}.png"), full_page=True
            )
        self.page.set_viewport_size({"width": 1280, "height": 900})


def test_review_and_public_pages_render_with_their_charts(
    chromium: Any,
    server: str,
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    recorded = record_deployment(web_context.db, personas, enroler, faces_dir)
    store_synthetic_evaluation(web_context.db)
    with transaction(web_context.db) as db:
        row = review.review_for_deployment(db, recorded.world.deployment_id)
        assert row is not None
        review_id = row.id
        publication.upload_document(
            db,
            personas.administrator,
            title="Legal mandate and procedures",
            kind=DocumentKind.LEGAL_MANDATE,
            filename="mandate.txt",
            content_type="text/plain",
            content=b"Common-law policing powers; the force's LFR procedures.",
        )

    reviewer = Browser(chromium, server)
    reviewer.sign_in_as(web_context, personas.auditor)
    reviewer.go(f"/reviews/{review_id}")
    assert reviewer.images_loaded() == ["chart-alerts", "chart-faces"]
    assert "125" in reviewer.page.inner_text("#figures")
    reviewer.shot("review-open")
    reviewer.page.fill("#performance", "Two true alerts, one arrest; false alerts as forecast.")
    reviewer.page.fill("#safeguards", "The operator dismissed a weak match; leaflets given.")
    reviewer.page.fill("#lessons", "Brief engagement officers on the south exit's lighting.")
    reviewer.page.click("#assessment-form button[type=submit]")
    reviewer.page.click("#sign-off-button")
    reviewer.page.wait_for_selector("#review-status:has-text('signed off')")
    assert reviewer.images_loaded() == ["chart-alerts", "chart-faces"]
    reviewer.shot("review-signed-off")
    reviewer.go("/equitability")
    assert reviewer.images_loaded() == [
        "chart-det",
        "chart-fmr_by_threshold",
        "chart-fnmr_by_threshold",
    ]
    reviewer.shot("equitability")
    reviewer.go("/monitoring")
    assert reviewer.images_loaded() == [
        "chart-benefit",
        "chart-benefit-per-faces",
        "chart-groups",
    ]
    reviewer.shot("monitoring")

    public = Browser(chromium, server)
    forbidden = forbidden_values(recorded, personas, enroler, faces_dir)
    public.go("/public")
    assert "Station exit north" in public.page.inner_text("#results")
    assert_clean(public.page.content(), forbidden)
    public.shot("public")
    public.page.click(f"a[href='/public/results/{recorded.world.deployment_id}']")
    assert "125" in public.page.inner_text("#result")
    assert_clean(public.page.content(), forbidden)
    public.shot("public-result")
    for path, name in (
        ("/public/open-data", "public-open-data"),
        ("/public/documents", "public-documents"),
    ):
        public.go(path)
        assert_clean(public.page.content(), forbidden)
        public.shot(name)
    for person in (reviewer, public):
        person.context.close()
