"""An alert's record shows the probe and the watchlist image large, side by side, with the
score and the quality facts (ADJ-1), reached from the console card, the handheld card and
the alert history without any script; the images follow the probe routes' rules (DP-2,
ADJ-2: an engagement officer sees a probe only once referred)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.web.context import WebContext
from tests.db_fixtures import Personas
from tests.web.rehearsal import match_event

pytestmark = pytest.mark.db


def test_the_card_opens_both_images_large_with_score_and_quality(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    operator = client_for(personas.operator)
    assert f'href="/alerts/{alert_id}#compare"' in operator.get("/console").text

    page = operator.get(f"/alerts/{alert_id}")
    assert page.status_code == 200
    compare = page.text[page.text.index('id="compare"') :]
    assert f'<img src="/alerts/{alert_id}/probe.jpg"' in compare
    assert f'<img src="/watchlist-entries/{rehearsal.entry_id}/image"' in compare
    assert "Score 0.970" in compare
    assert f"threshold {DEFAULT_ALERT_THRESHOLD:.3f}" in compare
    assert "sharpness 150" in compare
    assert "yaw 3°" in compare
    # each image opens on its own at full size, through the same audited routes
    assert operator.get(f"/alerts/{alert_id}/probe.jpg").status_code == 200


def test_an_engagement_officer_sees_the_probe_only_once_referred(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    officer = client_for(personas.engagement_officer)
    before = officer.get(f"/alerts/{alert_id}").text
    assert 'id="probe-withheld"' in before
    assert f"/alerts/{alert_id}/probe.jpg" not in before
    assert officer.get(f"/alerts/{alert_id}/probe.jpg").status_code == 422

    operator = client_for(personas.operator)
    assert operator.post(f"/console/alerts/{alert_id}/refer").status_code in (200, 303)
    after = officer.get(f"/alerts/{alert_id}").text
    assert f'<img src="/alerts/{alert_id}/probe.jpg"' in after
    assert f'href="/alerts/{alert_id}#compare"' in officer.get("/handheld").text


def test_the_alert_history_opens_each_record(
    web_context: WebContext, personas: Personas, rehearsal, subject_image: Path, client_for
) -> None:
    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image))
    operator = client_for(personas.operator)
    operator.post(f"/console/alerts/{alert_id}/dismiss", data={"reason": "different person"})
    console = operator.get("/console").text
    history = console[console.index('id="alert-history"') :]
    assert f'href="/alerts/{alert_id}"' in history
