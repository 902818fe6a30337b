"""The report pages through the real app (REV-1, PUB-1..3, EQ-1..3): the public pages and
downloads never carry an image, a template, a subject reference or a name; the review's
charts, PDF, sign-off; the equitability report; monitoring; the forecast."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lfr.db.reports import AlertPerceivedGroupRow, ThresholdJustificationRow
from lfr.db.session import transaction
from lfr.reports import review, transparency
from lfr.reports.transparency import DocumentKind
from lfr.services import alerts, publication
from lfr.system import attach_recognition
from lfr.web.context import WebContext
from lfr.web.labels import local_input
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import (
    CachingEnroler,
    build_world,
    match_event,
    submitted,
)
from tests.integration.reports.recorded import (
    Recorded,
    assert_clean,
    forbidden_values,
    record_deployment,
)
from tests.integration.reports.test_thresholds import store_synthetic_evaluation
from tests.web.conftest import ClientFor

pytestmark = pytest.mark.db
__all__ = ["enroler"]

PUBLIC_PATHS = (
    "/public",
    "/public/open-data",
    "/public/open-data/results.csv",
    "/public/open-data/results.json",
    "/public/feed.atom",
    "/public/documents",
    "/api/public/results",
    "/api/public/announcements",
    "/api/public/deployments",
)


@pytest.fixture
def recorded(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> Recorded:
    return record_deployment(web_context.db, personas, enroler, faces_dir)


def review_id_of(web_context: WebContext, recorded: Recorded) -> str:
    with transaction(web_context.db) as db:
        row = review.review_for_deployment(db, recorded.world.deployment_id)
        assert row is not None
        return row.id


def test_reviewer_signs_off_through_the_pages_and_the_public_sees_clean_results(
    web_context: WebContext,
    personas: Personas,
    recorded: Recorded,
    client_for: ClientFor,
    app_client: TestClient,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """REV-1 then PUB-2/PUB-3: results appear only after sign-off; every public page and
    download scanned for every forbidden value of the seeded deployment."""
    review_id = review_id_of(web_context, recorded)
    assert (
        "results are published after the post-deployment review" in app_client.get("/public").text
    )
    reviewer = client_for(personas.auditor)
    page = reviewer.get(f"/reviews/{review_id}")
    assert page.status_code == 200
    assert "Faces seen" in page.text
    assert "125" in page.text
    for chart in ("alerts", "faces"):
        png = reviewer.get(f"/reviews/{review_id}/charts/{chart}.png")
        assert png.content.startswith(b"\x89PNG")
    assert reviewer.get(f"/reviews/{review_id}/export.pdf").content.startswith(b"%PDF-")
    form = {"performance": "As forecast", "safeguards": "Worked", "lessons": "None new"}
    assert reviewer.post(f"/reviews/{review_id}/assessment", data=form).status_code in (200, 303)
    signed = reviewer.post(f"/reviews/{review_id}/sign-off", follow_redirects=False)
    assert signed.status_code == 303
    assert reviewer.get(f"/api/reports/reviews/{review_id}").json()["status"] == "signed_off"
    with transaction(web_context.db) as db:
        publication.upload_document(
            db,
            personas.administrator,
            title="Legal mandate",
            kind=DocumentKind.LEGAL_MANDATE,
            filename="mandate.txt",
            content_type="text/plain",
            content=b"Common law policing powers.",
        )
    forbidden = forbidden_values(recorded, personas, enroler, faces_dir)
    result_path = f"/public/results/{recorded.world.deployment_id}"
    for path in (*PUBLIC_PATHS, result_path):
        response = app_client.get(path)
        assert response.status_code == 200, path
        assert_clean(response.text, forbidden)
    public = app_client.get("/public").text
    assert result_path in public
    rows = transparency.results_from_csv(app_client.get("/public/open-data/results.csv").text)
    assert [(r.alerts, r.true_alerts, r.false_alerts, r.arrests) for r in rows] == [(5, 2, 2, 1)]


def test_reviewer_from_the_deployment_is_refused(
    web_context: WebContext, personas: Personas, recorded: Recorded, client_for: ClientFor
) -> None:
    review_id = review_id_of(web_context, recorded)
    form = {"performance": "a", "safeguards": "b", "lessons": "c"}
    # Silver reads reviews but has no reviewer role: the gate refuses the form.
    assert (
        client_for(personas.silver).post(f"/reviews/{review_id}/assessment", data=form).status_code
        == 403
    )


def test_equitability_forecast_and_monitoring_pages(
    web_context: WebContext, personas: Personas, recorded: Recorded, client_for: ClientFor
) -> None:
    """EQ-1: the stored evaluation with its charts; the forecast while deciding; EQ-2/EQ-3
    monitoring with its charts and the perceived groups."""
    store_synthetic_evaluation(web_context.db)
    officer = client_for(personas.authorising_officer)
    page = officer.get("/equitability")
    assert page.status_code == 200
    assert "Lowest equitable threshold:" in page.text
    assert "0.90" in page.text
    assert "more than 1.25 times the lowest" in page.text  # the criterion, stated
    assert officer.get(page.url.path + "/charts/det.png").content.startswith(b"\x89PNG")
    forecast = officer.get(
        "/api/reports/forecast", params={"threshold": 0.85, "watchlist_size": 10}
    )
    assert forecast.json()["false_alerts_per_10k_faces"] == pytest.approx(4012.6, abs=0.1)
    assert forecast.json()["below_equitable_threshold"] is True
    assert (
        "needs a recorded justification"
        in officer.get("/forecast", params={"threshold": 0.85, "watchlist_size": 10}).text
    )
    at_floor = officer.get("/forecast", params={"threshold": 0.90, "watchlist_size": 10}).text
    assert "more than 1.25 times it across its 95% interval" in at_floor
    monitor = client_for(personas.oversight)
    summary = monitor.get("/api/reports/monitoring").json()
    assert summary["totals"]["arrests"] == 1
    assert summary["perceived_groups"]["white"]["false"] == 1
    assert summary["differential_flagged"] is False
    assert monitor.get("/monitoring").status_code == 200
    for chart in ("benefit", "benefit-per-faces", "groups"):
        assert monitor.get(f"/monitoring/charts/{chart}.png").content.startswith(b"\x89PNG")


def test_engagement_officer_records_the_perceived_group_with_the_outcome(
    web_context: WebContext,
    personas: Personas,
    client_for: ClientFor,
    enroler: CachingEnroler,
    faces_dir: Path,
) -> None:
    """EQ-2: optional on the handheld's outcome form; an unknown group is refused and
    nothing is recorded."""
    world = build_world(web_context.db, personas, enroler, faces_dir)
    with transaction(web_context.db) as db:
        alert_id = alerts.create_alert(db, match_event(world, faces_dir), policy=POLICY).id
        alerts.claim_alert(db, personas.operator, alert_id)
        alerts.refer_alert(db, personas.operator, alert_id)
        alerts.engage_alert(db, personas.engagement_officer, alert_id)
    handheld = client_for(personas.engagement_officer)
    path = f"/handheld/alerts/{alert_id}/outcome"
    refused = handheld.post(path, data={"identity": "confirmed", "perceived_group": "martian"})
    assert refused.status_code == 422
    assert "perceived_group" in refused.text
    done = handheld.post(
        path, data={"identity": "confirmed", "perceived_group": "asian"}, follow_redirects=False
    )
    assert done.status_code == 303
    with transaction(web_context.db) as db:
        recorded_group = db.get(AlertPerceivedGroupRow, alert_id)
        assert recorded_group is not None
        assert recorded_group.perceived_group == "asian"


def test_health_figures_from_the_bus_feed_the_camera_statistics(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """REV-1: the web runtime folds each camera's health report into the deployment's
    running totals (counts only), which the review reads as faces seen."""
    import asyncio

    from lfr.vision.types import CameraStatus
    from tests.integration.bus import targets
    from tests.integration.reports.recorded import health

    world = build_world(web_context.db, personas, enroler, faces_dir)
    # The cameras' workers idle: the figures are the ones this test publishes.
    runtime = attach_recognition(web_context, targets.idle_until_stopped)
    reports = [
        health(world, "cam-north", CameraStatus.UP, 0, 7),
        health(world, "cam-north", CameraStatus.UP, 10, 12),
    ]

    async def deliver() -> None:
        await runtime.start()
        try:
            for figures in reports:
                await runtime.bus.publish(figures)
            for _ in range(200):
                with transaction(web_context.db) as db:
                    if review.compute_figures(db, world.deployment_id)["faces_seen"] == 12:
                        return
                await asyncio.sleep(0.05)
        finally:
            await runtime.stop()

    asyncio.run(deliver())
    with transaction(web_context.db) as db:
        assert review.compute_figures(db, world.deployment_id)["faces_seen"] == 12


def test_the_deciding_officer_sees_the_forecast_and_must_justify_a_low_threshold(
    web_context: WebContext, personas: Personas, client_for: ClientFor
) -> None:
    """EQ-1/AUTH-2 through the decision form: the forecast fragment, the refusal without
    a justification, the approval with one."""
    store_synthetic_evaluation(web_context.db)
    application_id = submitted(web_context.db, personas)
    officer = client_for(personas.authorising_officer)
    assert 'hx-get="/forecast/panel"' in officer.get(f"/applications/{application_id}").text
    panel = officer.get(
        "/forecast/panel", params={"alert_threshold": "0.85", "max_watchlist_size": "10"}
    ).text
    assert "4012.6" in panel
    assert "needs a recorded justification" in panel
    assert "Differential at the evaluated threshold" in panel  # each group's rates (EQ-1)
    assert "per comparison" in panel  # the threshold's false-match rate, "1 in N"
    inputs_line = panel.split('id="forecast-inputs">', 1)[1].split("</p>", 1)[0]
    assert "Threshold 0.85 (a stranger scores this high about 1 in" in inputs_line
    form = {
        "kind": "approve_with_conditions",
        "reasons": "Necessary and proportionate",
        "alert_threshold": "0.85",
    }
    refused = officer.post(f"/applications/{application_id}/decide", data=form)
    assert refused.status_code == 422
    assert "below the equitable threshold" in refused.text
    accepted = officer.post(
        f"/applications/{application_id}/decide",
        data=form | {"threshold_justification": "Missing child at risk"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    with transaction(web_context.db) as db:
        assert db.scalars(select(ThresholdJustificationRow)).one().justification == (
            "Missing child at risk"
        )


def test_the_authorising_officer_delays_an_announcement_from_the_application_page(
    web_context: WebContext, personas: Personas, client_for: ClientFor, app_client: TestClient
) -> None:
    """PUB-1: the form on the decided application; the public page hides it until then."""
    from datetime import timedelta

    from lfr.db.base import utcnow
    from tests.integration.governance.world import approved

    authority_id = approved(web_context.db, personas)
    assert "Station exits, robbery suspects" in app_client.get("/api/public/announcements").text
    officer = client_for(personas.authorising_officer)
    with transaction(web_context.db) as db:
        from lfr.db.governance import AuthorityRow

        application_id = db.get(AuthorityRow, authority_id).application_id  # type: ignore[union-attr]
    assert 'id="delay-form"' in officer.get(f"/applications/{application_id}").text
    later = local_input(utcnow() + timedelta(hours=2))  # typed in UK time
    response = officer.post(
        f"/authorities/{authority_id}/publication-delay",
        data={"publish_from": later, "reason": "Covert phase first"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert app_client.get("/api/public/announcements").json() == []


def test_a_fresh_install_shows_the_figures_shipped_with_the_model(
    personas: Personas, client_for: ClientFor
) -> None:
    """EQ-1, AUTH-2: with no stored evaluation the officer still sees the equitable
    threshold and the differential at the typed threshold, from the shipped figures."""
    from lfr.reports.evaluations import shipped_equitability

    shipped = shipped_equitability("dlib-resnet-v1")
    assert shipped is not None
    officer = client_for(personas.authorising_officer)
    page = officer.get("/equitability")
    assert "figures shipped with dlib-resnet-v1" in page.text
    assert str(shipped.lowest_equitable_threshold) in page.text
    forecast = officer.get(
        "/api/reports/forecast", params={"threshold": 0.94, "watchlist_size": 10}
    ).json()
    assert forecast["equitable_threshold_source"] == "shipped figures"
    assert forecast["equitable_threshold"] == shipped.lowest_equitable_threshold
    assert forecast["below_equitable_threshold"] is True
    assert set(forecast["groups"]) == {"female", "male"}
    panel = officer.get("/forecast", params={"threshold": 0.94, "watchlist_size": 10}).text
    assert "needs a recorded justification" in panel
    assert "figures shipped with the model" in panel


def test_the_assessment_is_one_form_and_a_refused_sign_off_keeps_what_was_typed(
    web_context: WebContext, personas: Personas, recorded: Recorded, client_for: ClientFor
) -> None:
    """REV-1: the three boxes and Sign off are one form. Signing off with a box left empty
    is refused on the page itself, in the form's words, with the text typed in the other
    two still there (and saved); with all three written, the same button signs off."""
    review_id = review_id_of(web_context, recorded)
    reviewer = client_for(personas.auditor)
    page = reviewer.get(f"/reviews/{review_id}").text
    form = page[
        page.index('id="assessment-form"') : page.index("</form>", page.index("assessment-form"))
    ]
    assert 'formaction="/reviews/' in form
    assert "sign-off-button" in form
    partial = {
        "performance": "Two true alerts as forecast",
        "safeguards": "Scrutiny held",
        "lessons": "",
    }
    refused = reviewer.post(f"/reviews/{review_id}/sign-off", data=partial)
    assert refused.status_code == 422
    assert "Two true alerts as forecast" in refused.text
    assert "Scrutiny held" in refused.text
    assert "Lessons" in refused.text
    assert "Write this part of the assessment first" in refused.text
    assert "_assessment" not in refused.text  # no raw field name
    assert "saved, but not signed off" in refused.text
    with transaction(web_context.db) as db:
        row = review.get_review(db, review_id)
        assert row.performance_assessment == "Two true alerts as forecast"
    complete = {**partial, "lessons": "Brief the operators on night lighting"}
    signed = reviewer.post(f"/reviews/{review_id}/sign-off", data=complete, follow_redirects=False)
    assert signed.status_code == 303
    with transaction(web_context.db) as db:
        row = review.get_review(db, review_id)
        assert row.lessons == "Brief the operators on night lighting"
        assert row.signed_off_at is not None


def test_the_review_pdf_opens_on_a_readable_page_of_labelled_figures(
    web_context: WebContext,
    personas: Personas,
    recorded: Recorded,
    client_for: ClientFor,
    tmp_path: Path,
) -> None:
    """REV-1: the PDF's first page is the title and the figures as label/answer rows in the
    document's proportional font (not a monospaced text dump), each label with its answer."""
    from tests.web.test_wad_pdf import SCREENSHOTS, VALUE_COLUMN_PT, pages_of, poppler

    poppler()
    review_id = review_id_of(web_context, recorded)
    pdf = client_for(personas.auditor).get(f"/reviews/{review_id}/export.pdf").content
    first = pages_of(pdf, tmp_path)[0]
    words = " ".join(w.text for w in first)
    assert "Figures from the record" in words
    faces = next(w for w in first if w.text == "Faces")
    assert any(
        w.text == "125" and w.x >= VALUE_COLUMN_PT - 2 and abs(w.y - faces.y) < 2 for w in first
    )
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "wad.pdf")], check=True, capture_output=True, text=True
    ).stdout
    assert "DejaVuSansBold" in fonts
    assert "Mono" not in fonts
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "wad.pdf"),
            str(SCREENSHOTS / "review-pdf"),
        ],
        check=True,
    )


def test_a_threshold_beyond_the_measured_range_gets_no_invented_forecast(
    personas: Personas, client_for: ClientFor
) -> None:
    """A fresh install forecasts from the shipped calibration; above its last measured
    threshold no miss rate is known, and the page says so instead of repeating the last."""
    officer = client_for(personas.authorising_officer)
    measured = officer.get(
        "/api/reports/forecast", params={"threshold": 0.96, "watchlist_size": 10}
    )
    assert measured.json()["true_identification_rate"] is not None
    beyond = officer.get("/api/reports/forecast", params={"threshold": 0.99, "watchlist_size": 10})
    assert beyond.json()["true_identification_rate"] is None
    assert beyond.json()["false_match_rate"] is not None  # the smallest measured: a bound
    page = officer.get("/forecast", params={"threshold": 0.99, "watchlist_size": 10}).text
    assert 'id="beyond-measured"' in page
    assert "too few strangers scored that high" in page
