"""Silver's deployment dashboard and an alert's side-by-side comparison in chromium at 1280
and 375 px: the alert counts follow the operator's referral without a reload (polled), the
card's image opens both images large; both pages pass axe-core and fit a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lfr.db.session import transaction
from lfr.demo import seed_rehearsal
from lfr.demo.media import DemoMedia
from lfr.services import deployments
from lfr.services.watchlists import VisionEnroler
from tests.browser.conftest import LiveServer, check_page
from tests.browser.test_story import Person
from tests.db_fixtures import POLICY
from tests.web.rehearsal import match_event

pytestmark = [pytest.mark.browser, pytest.mark.db]


def test_dashboard_follows_a_referral_and_the_card_opens_the_comparison(
    chromium: Any, live_server: LiveServer, axe_script: Path, faces_dir: Path, tmp_path: Path
) -> None:
    actors = {name: account.actor for name, account in live_server.accounts.items()}
    db = live_server.context.db
    image = faces_dir / "face_recognition-examples" / "lin-manuel-miranda.png"
    # No clip: the camera is down, so no engine runs; the alert comes as a worker sends it.
    media = DemoMedia(image, tmp_path / "no-such-clip.mp4")
    rehearsal = seed_rehearsal(db, actors, media, VisionEnroler.default())
    with transaction(db) as session:
        deployments.start_deployment(
            session, actors["silver"], rehearsal.deployment_id, policy=POLICY
        )
    alert_id = live_server.context.control.record_alert(match_event(rehearsal, image))
    assert alert_id is not None

    silver = Person(chromium, live_server, "silver")
    silver.sign_in()
    silver.go(f"/deployments/{rehearsal.deployment_id}/dashboard")
    silver.page.wait_for_selector("#alerts-waiting")
    check_page(silver.page, axe_script, "pages-dashboard-waiting")

    operator = Person(chromium, live_server, "operator")
    operator.sign_in()
    operator.go("/console")
    operator.page.click(f"#alert-{alert_id} .compare-link")
    operator.page.wait_for_selector("#compare img")
    check_page(operator.page, axe_script, "pages-alert-compare")
    operator.go("/console")
    operator.page.click(".alert-card button:has-text('Refer')")
    operator.page.wait_for_selector(".alert-card:has-text('referred')")

    # no reload: the panel is fetched again every few seconds
    silver.page.wait_for_selector("tr[data-state=referred] .count:text-is('1')", timeout=15_000)
    assert silver.page.inner_text("tr[data-state=pending] .count") == "0"
    check_page(silver.page, axe_script, "pages-dashboard-referred")
    silver.context.close()
    operator.context.close()
