"""The authority states its threshold as a number everywhere (AUTH-2, AUTH-5, REC-2): the
WAD page and its PDF, the commanders' dashboard, the alert record and the JSON API all read
the deployment's one recorded recognition configuration, with what the number means."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from lfr.db.session import transaction
from lfr.demo import Rehearsal, authorise, rehearsal_application
from lfr.domain.authorisation import Conditions
from lfr.reports import review
from lfr.vision.calibration import one_in, shipped_calibration, shipped_calibration_file
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from lfr.web.context import WebContext
from lfr.web.forecast_view import stranger_phrase
from tests.db_fixtures import Personas, persona_accounts
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CachingEnroler
from tests.integration.reports.recorded import record_deployment
from tests.pdf_text import pdf_text
from tests.web.rehearsal import match_event

pytestmark = pytest.mark.db
__all__ = ["enroler"]

MODEL = "dlib-resnet-v1"


def visible(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def meaning(threshold: float) -> str:
    calibration = shipped_calibration(MODEL)
    assert calibration is not None
    return f"{threshold:g}: {stranger_phrase(one_in(calibration.false_match_rate(threshold)))}"


@pytest.mark.parametrize(("condition", "number"), [(0.96, 0.96), (None, DEFAULT_ALERT_THRESHOLD)])
def test_the_wad_page_and_pdf_state_the_threshold_as_a_number(
    web_context: WebContext,
    personas: Personas,
    client_for,
    condition: float | None,
    number: float,
) -> None:
    """AUTH-5, REC-2: with a threshold condition and without one (then the engine's
    configured threshold, the shipped default otherwise), the WAD and its PDF say the number and how
    rarely a stranger reaches it, never "the engine's measured default"."""
    conditions = Conditions(alert_threshold=condition) if condition is not None else None
    application_id, _ = authorise(
        web_context.db,
        persona_accounts(personas),
        rehearsal_application(personas.applicant),
        conditions=conditions,
        consult=False,
        reasons="Necessary and proportionate.",
    )
    reader = client_for(personas.gold)
    page = visible(reader.get(f"/applications/{application_id}/wad").text)
    pdf = pdf_text(reader.get(f"/applications/{application_id}/wad.pdf").content)
    for text in (page, " ".join(pdf.split())):
        assert meaning(number) in text
        assert "default" not in text.lower()
    origin = "the authority's condition" if condition else "the engine's configured threshold"
    assert origin in page
    assert "no deployment yet" in page


def test_dashboard_alert_record_and_api_read_the_recorded_configuration(
    web_context: WebContext, personas: Personas, client_for, rehearsal: Rehearsal, subject_image
) -> None:
    """REC-2: the dashboard states the recorded threshold; the deployment's API names its
    whole configuration; an alert records the calibration its "1 in N" was read with (its
    SHA-256, the shipped file's as `sha256sum` prints it), shown on its record and API."""
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    silver = client_for(personas.silver)
    dashboard = visible(silver.get(f"/deployments/{rehearsal.deployment_id}/dashboard").text)
    assert meaning(DEFAULT_ALERT_THRESHOLD) in dashboard
    assert "recorded with the deployment" in dashboard

    recognition = silver.get(f"/api/deployments/{rehearsal.deployment_id}").json()["recognition"]
    assert recognition["threshold"] == DEFAULT_ALERT_THRESHOLD
    assert recognition["threshold_source"] == "engine setting"
    assert recognition["false_match_rate"] == pytest.approx(
        shipped.calibration.false_match_rate(DEFAULT_ALERT_THRESHOLD)
    )
    assert recognition["rule"] == "cosine"
    assert recognition["describers"] == [MODEL]
    assert recognition["calibration"]["sha256"] == shipped.sha256

    alert_id = web_context.control.record_alert(match_event(rehearsal, subject_image, score=0.97))
    assert alert_id is not None
    operator = client_for(personas.operator)
    alert = operator.get(f"/api/alerts/{alert_id}").json()
    assert alert["calibration_sha256"] == shipped.sha256
    assert alert["score_false_match_rate"] == pytest.approx(
        shipped.calibration.false_match_rate(0.97)
    )
    record = operator.get(f"/alerts/{alert_id}").text
    assert shipped.sha256[:16] in record


def test_the_review_states_the_threshold_the_deployment_ran_at(
    web_context: WebContext,
    personas: Personas,
    client_for,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """REV-1, REC-2: the review's figures (page, PDF lines, API) carry the recorded
    threshold as a number with its meaning, not "default", and the whole configuration."""
    recorded = record_deployment(web_context.db, personas, enroler, faces_dir)
    with transaction(web_context.db) as db:
        row = review.review_for_deployment(db, recorded.world.deployment_id)
        assert row is not None
        review_id = row.id
    reviewer = client_for(personas.auditor)
    page = visible(reviewer.get(f"/reviews/{review_id}").text)
    assert meaning(DEFAULT_ALERT_THRESHOLD) in page
    figures = reviewer.get(f"/api/reports/reviews/{review_id}").json()["figures"]
    assert figures["alert_threshold"] == DEFAULT_ALERT_THRESHOLD
    assert figures["recognition"]["calibration"]["sha256"] == (
        shipped_calibration_file(MODEL).sha256  # type: ignore[union-attr]
    )
