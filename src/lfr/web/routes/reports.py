"""Reports for the force and oversight: post-deployment reviews (REV-1) with charts and a
PDF export, the equitability report (EQ-1), outcome monitoring and benefit (EQ-2, EQ-3),
the forecast the authorising officer sees while deciding (EQ-1, AUTH-2), and the
engagement officer's optional perceived group (EQ-2).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from lfr.db.governance import DeploymentRow
from lfr.db.reports import DeploymentReviewRow
from lfr.db.session import reading, transaction
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import NotFound, Refusal
from lfr.reports import evaluations, monitoring, review, review_export, thresholds
from lfr.reports.forecast import AlertForecast
from lfr.reports.monitoring import PerceivedGroup
from lfr.services import reviews
from lfr.services.monitoring import record_perceived_group
from lfr.vision.calibration import one_in
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.downloads import attachment
from lfr.web.forecast_view import deployment_outlook
from lfr.web.forms import problems_of
from lfr.web.labels import from_local_input
from lfr.web.rendering import render

REVIEW_READERS = Admit(
    Role.REVIEWER, Role.OVERSIGHT, Role.GOLD, Role.SILVER, Role.AUTHORISING_OFFICER
)
REVIEWERS = Admit(Role.REVIEWER)
EQUITABILITY_READERS = Admit(
    Role.AUTHORISING_OFFICER,
    Role.CHIEF_OFFICER,
    Role.REVIEWER,
    Role.OVERSIGHT,
    Role.ENGINEER,
)
MONITORS = Admit(
    Role.REVIEWER, Role.OVERSIGHT, Role.GOLD, Role.AUTHORISING_OFFICER, Role.CHIEF_OFFICER
)
DECIDERS = Admit(Role.AUTHORISING_OFFICER)
ENGAGEMENT = Admit(Role.ENGAGEMENT_OFFICER)
ReviewReader = Annotated[Viewer, Depends(REVIEW_READERS)]
Reviewer = Annotated[Viewer, Depends(REVIEWERS)]
EquitabilityReader = Annotated[Viewer, Depends(EQUITABILITY_READERS)]
Monitor = Annotated[Viewer, Depends(MONITORS)]
Decider = Annotated[Viewer, Depends(DECIDERS)]
Engagement = Annotated[Viewer, Depends(ENGAGEMENT)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/reports", tags=["reports"])

PNG = "image/png"
NO_STORE = {"Cache-Control": "no-store"}

ASSUMED_WATCHLIST_SIZE = 100
"""The watchlist size a forecast assumes before anyone has set a maximum (and says so)."""
MAX_FORECAST_WATCHLIST = 1_000_000
MAX_FORECAST_PEOPLE = 1_000_000
MAX_FORECAST_HOURS = 24 * 366
"""The largest watchlist, people per hour and hours a forecast is asked about."""


def _model_version(context: Context) -> str:
    return context.settings.evaluated_model_version


# --- reviews (REV-1) -------------------------------------------------------------------------


def _title(db: Session, row: DeploymentReviewRow) -> str:
    deployment = db.get(DeploymentRow, row.deployment_id)
    return deployment.authority.application.title if deployment else row.deployment_id


@pages.get("/reviews")
def reviews_page(request: Request, context: Context, viewer: ReviewReader) -> Response:
    with reading(context.db) as db:
        listing = [
            {
                "id": r.id,
                "title": _title(db, r),
                "opened_at": r.opened_at,
                "status": r.status.value,
            }
            for r in reversed(review.list_reviews(db))
        ]
    return render(request, "reports/reviews.html", {"reviews": listing, "title": "Reviews"})


def _load(context: Context, review_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The review's columns as plain values (readable after the session) and its figures."""
    with reading(context.db) as db:
        row = review.get_review(db, review_id)
        view = {
            "id": row.id,
            "status": row.status.value,
            "opened_at": row.opened_at,
            "signed_off_at": row.signed_off_at,
            "figures_sha256": row.figures_sha256,
            "performance_assessment": row.performance_assessment,
            "safeguards_assessment": row.safeguards_assessment,
            "lessons": row.lessons,
        }
        return view, review.figures_of(db, row)


@pages.get("/reviews/{review_id}")
def review_page(
    request: Request, context: Context, viewer: ReviewReader, review_id: str
) -> Response:
    return _review_page(request, context, viewer.actor, review_id)


def _review_page(
    request: Request,
    context: Context,
    actor: Actor,
    review_id: str,
    refused: Refusal | None = None,
    typed: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    """The review; with `refused`, again (422) with the problems above the assessment form
    and what was typed in its three boxes kept (`saved`: the text was saved, the sign-off
    alone was refused)."""
    row, figures = _load(context, review_id)
    if typed:
        row = {**row, **typed}
    return render(
        request,
        "reports/review.html",
        {
            "review": row,
            "figures": figures,
            "lines": review_export.summary_lines(figures),
            "may_edit": actor.has(Role.REVIEWER) and row["status"] == "open",
            "problems": problems_of(refused) if refused else [],
            "saved": saved,
            "title": f"Review: {figures['title']}",
        },
        status=422 if refused else 200,
    )


AssessmentText = Annotated[str | None, Form(max_length=20000)]


def _typed(performance: str | None, safeguards: str | None, lessons: str | None) -> dict[str, str]:
    """The three boxes as the review's columns, for the page shown again."""
    return {
        "performance_assessment": performance or "",
        "safeguards_assessment": safeguards or "",
        "lessons": lessons or "",
    }


@pages.post("/reviews/{review_id}/assessment")
def review_assessment(
    request: Request,
    context: Context,
    viewer: Reviewer,
    review_id: str,
    performance: AssessmentText = None,
    safeguards: AssessmentText = None,
    lessons: AssessmentText = None,
) -> Response:
    actor = viewer.actor
    try:
        _assess(context, actor, review_id, performance or "", safeguards or "", lessons or "")
    except NotFound:
        raise
    except Refusal as refusal:
        typed = _typed(performance, safeguards, lessons)
        return _review_page(request, context, actor, review_id, refusal, typed)
    return RedirectResponse(f"/reviews/{review_id}", status_code=303)


def _assess(
    context: Context, actor: Actor, review_id: str, performance: str, safeguards: str, lessons: str
) -> None:
    with transaction(context.db) as db:
        reviews.update_assessment(
            db, actor, review_id, performance=performance, safeguards=safeguards, lessons=lessons
        )


@pages.post("/reviews/{review_id}/sign-off")
def review_sign_off(
    request: Request,
    context: Context,
    viewer: Reviewer,
    review_id: str,
    performance: AssessmentText = None,
    safeguards: AssessmentText = None,
    lessons: AssessmentText = None,
) -> Response:
    """Sign off from the assessment form: what the three boxes hold is saved first (its own
    audited change), then the review is signed off; a refusal of either shows the page again
    with the problems and the text as typed, so nothing written is lost."""
    actor = viewer.actor
    posted = (performance, safeguards, lessons) != (None, None, None)
    typed = _typed(performance, safeguards, lessons) if posted else None
    try:
        if posted:
            _assess(context, actor, review_id, performance or "", safeguards or "", lessons or "")
    except NotFound:
        raise
    except Refusal as refusal:
        return _review_page(request, context, actor, review_id, refusal, typed)
    try:
        _sign_off(context, actor, review_id)
    except NotFound:
        raise
    except Refusal as refusal:
        return _review_page(request, context, actor, review_id, refusal, typed, saved=posted)
    return RedirectResponse(f"/reviews/{review_id}", status_code=303)


def _sign_off(context: Context, actor: Actor, review_id: str) -> None:
    with transaction(context.db) as db:
        reviews.sign_off(db, actor, review_id)


@pages.get("/reviews/{review_id}/charts/{name}.png")
def review_chart(context: Context, viewer: ReviewReader, review_id: str, name: str) -> Response:
    with reading(context.db) as db:
        figures = review.figures_of(db, review.get_review(db, review_id))
    charts = review_export.review_charts(figures)
    if name not in charts:
        raise NotFound("chart", name)
    return Response(charts[name], media_type=PNG, headers=NO_STORE)


@pages.get("/reviews/{review_id}/export.pdf")
def review_pdf(context: Context, viewer: ReviewReader, review_id: str) -> Response:
    row, figures = _load(context, review_id)
    signed = (
        f"Signed off {row['signed_off_at']:%Y-%m-%d %H:%M} UTC, "
        f"figures SHA-256 {row['figures_sha256']}"
        if row["signed_off_at"]
        else "Open: figures as recorded now, not yet signed off"
    )
    assessment = {
        "performance_assessment": row["performance_assessment"],
        "safeguards_assessment": row["safeguards_assessment"],
        "lessons": row["lessons"],
    }
    return Response(
        review_export.review_pdf(figures, assessment, signed),
        media_type="application/pdf",
        headers={"Content-Disposition": attachment(f"review-{review_id}.pdf")},
    )


@api.get(
    "/reviews",
    response_model=list[schemas.ReviewSummary],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_reviews",
)
def api_reviews(context: Context, viewer: ReviewReader) -> list[schemas.ReviewSummary]:
    """Every deployment review, oldest first (REV-1)."""
    with reading(context.db) as db:
        return [
            schemas.ReviewSummary(id=r.id, deployment_id=r.deployment_id, status=r.status.value)
            for r in review.list_reviews(db)
        ]


@api.get(
    "/reviews/{review_id}",
    response_model=schemas.ReviewOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_review",
)
def api_review(context: Context, viewer: ReviewReader, review_id: str) -> schemas.ReviewOut:
    """The review's figures (frozen once signed off) and its state."""
    row, figures = _load(context, review_id)
    return schemas.ReviewOut(
        id=row["id"], status=row["status"], figures_sha256=row["figures_sha256"], figures=figures
    )


@api.post(
    "/reviews/{review_id}/assessment",
    response_model=schemas.ReviewOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="assess_review",
)
def api_assessment(
    context: Context, viewer: Reviewer, review_id: str, body: schemas.AssessmentIn
) -> schemas.ReviewOut:
    """The reviewer's assessment: performance, safeguards, lessons (REV-1)."""
    _assess(context, viewer.actor, review_id, body.performance, body.safeguards, body.lessons)
    return api_review(context, viewer, review_id)


@api.post(
    "/reviews/{review_id}/sign-off",
    response_model=schemas.ReviewOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="sign_off_review",
)
def api_sign_off(context: Context, viewer: Reviewer, review_id: str) -> schemas.ReviewOut:
    """Sign the review off: its figures are frozen with their SHA-256 (REV-1, PUB-2)."""
    _sign_off(context, viewer.actor, review_id)
    return api_review(context, viewer, review_id)


# --- equitability (EQ-1) and the forecast ------------------------------------------------------


@pages.get("/equitability")
def equitability_page(request: Request, context: Context, viewer: EquitabilityReader) -> Response:
    with reading(context.db) as db:
        rows = evaluations.list_evaluations(db)
        listing = [
            {
                "id": r.id,
                "model_version": r.model_version,
                "dataset": r.dataset,
                "created_at": r.created_at,
                "lowest": r.lowest_equitable_threshold,
            }
            for r in rows
        ]
    if listing:
        return RedirectResponse(f"/equitability/{listing[0]['id']}", status_code=303)
    version = _model_version(context)
    return render(
        request,
        "reports/equitability.html",
        {
            "evaluation": None,
            "listing": [],
            "shipped": evaluations.shipped_equitability(version),
            "model_version": version,
            "title": "Equitability",
        },
    )


@pages.get("/equitability/{evaluation_id}")
def evaluation_page(
    request: Request, context: Context, viewer: EquitabilityReader, evaluation_id: str
) -> Response:
    with reading(context.db) as db:
        found = evaluations.get_evaluation(db, evaluation_id)
        report = evaluations.report_of(found)
        row = {
            "id": found.id,
            "model_version": found.model_version,
            "dataset": found.dataset,
            "created_at": found.created_at,
            "created_by": found.created_by,
            "lowest_equitable_threshold": found.lowest_equitable_threshold,
        }
        charts = evaluations.chart_names(db, evaluation_id)
        listing = [
            {"id": r.id, "model_version": r.model_version, "created_at": r.created_at}
            for r in evaluations.list_evaluations(db)
        ]
    return render(
        request,
        "reports/equitability.html",
        {
            "evaluation": row,
            "report": report,
            "groups": sorted(report.get("groups") or report["thresholds"][0]["groups"]),
            "charts": charts,
            "listing": listing,
            "title": f"Equitability: {row['model_version']}",
        },
    )


@pages.get("/equitability/{evaluation_id}/charts/{name}.png")
def evaluation_chart(
    context: Context, viewer: EquitabilityReader, evaluation_id: str, name: str
) -> Response:
    with reading(context.db) as db:
        png = evaluations.chart_png(db, evaluation_id, name)
    return Response(png, media_type=PNG)


FORECAST_SIZES = (10, 100, 1000, 10000)


def _floor_source(floor: thresholds.ThresholdFloor | None) -> str | None:
    if floor is None:
        return None
    return "shipped figures" if floor.shipped is not None else "stored evaluation"


def _forecast_json(forecast: thresholds.DecisionForecast) -> dict[str, Any]:
    result: AlertForecast | None = forecast.forecast
    return {
        "threshold": forecast.threshold,
        "watchlist_size": forecast.watchlist_size,
        "model_version": forecast.floor.model_version if forecast.floor else None,
        "evaluation_id": forecast.floor.evaluation_id if forecast.floor else None,
        "equitable_threshold": forecast.floor.equitable_threshold if forecast.floor else None,
        "equitable_threshold_source": _floor_source(forecast.floor),
        "below_equitable_threshold": forecast.below_floor,
        "rates_threshold": forecast.rates_threshold,
        "false_match_rate": forecast.false_match_rate,
        "false_match_one_in": one_in(forecast.false_match_rate)
        if forecast.false_match_rate is not None
        else None,
        "rates_source": forecast.source,
        "groups": forecast.groups,
        "groups_threshold": forecast.groups_threshold,
        "false_alerts_per_10k_faces": result.false_alerts_per_10k_faces if result else None,
        "true_identification_rate": result.true_identification_rate if result else None,
    }


@pages.get("/forecast")
def forecast_page(
    request: Request,
    context: Context,
    viewer: Decider,
    threshold: Annotated[float | None, Query(gt=0, le=1)] = None,
    watchlist_size: Annotated[int, Query(ge=1, le=MAX_FORECAST_WATCHLIST)] = ASSUMED_WATCHLIST_SIZE,
) -> Response:
    """What the authorising officer sees while deciding: the forecast for the threshold
    and watchlist size asked about, and for a range of sizes (AUTH-2, EQ-1)."""
    with reading(context.db) as db:
        chosen = thresholds.decision_forecast(
            db, threshold, watchlist_size, context.evaluated_model
        )
        by_size = [
            thresholds.decision_forecast(db, threshold, size, context.evaluated_model)
            for size in FORECAST_SIZES
        ]
    return render(
        request,
        "reports/forecast.html",
        {
            "chosen": _forecast_json(chosen),
            "by_size": [_forecast_json(f) for f in by_size],
            "title": "Forecast",
        },
    )


@pages.get("/forecast/panel")
def forecast_panel(
    request: Request,
    context: Context,
    viewer: Decider,
    alert_threshold: str = "",
    max_watchlist_size: str = "",
    expected_footfall: str = "",
    expected_watchlisted: str = "",
    deployment_hours: str = "",
    condition_window_start: str = "",
    condition_window_end: str = "",
) -> Response:
    """The forecast as a fragment for the decision form, for this deployment: the hours of
    the narrowed window when both its ends are typed (UK time), else of the window applied
    for; the maximum watchlist size typed, else an assumed 100, said as such; blank
    threshold and footfall mean the engine's configured threshold and no footfall (htmx
    swaps it in as the officer types). A number that is not one is said in the panel."""
    try:
        threshold = _number(alert_threshold, THRESHOLD, "alert_threshold")
        typed_size = _number(max_watchlist_size, WATCHLIST_SIZE, "max_watchlist_size")
        footfall = _number(expected_footfall, PEOPLE, "expected_footfall") or 0
        watchlisted = _number(expected_watchlisted, PEOPLE, "expected_watchlisted")
        hours = _number(deployment_hours, HOURS, "deployment_hours") or 0.0
        narrowed = _narrowed_hours(condition_window_start, condition_window_end)
    except Refusal as refusal:
        return render(request, "partials/problems.html", {"problems": problems_of(refusal)})
    size = int(typed_size) if typed_size else ASSUMED_WATCHLIST_SIZE
    hours = narrowed if narrowed is not None else hours
    with reading(context.db) as db:
        outlook = deployment_outlook(
            db,
            threshold,
            size,
            context.evaluated_model,
            footfall_per_hour=footfall,
            hours=hours,
            watchlisted_passing=int(watchlisted) if watchlisted is not None else None,
        )
        by_size = [
            thresholds.decision_forecast(db, threshold, n, context.evaluated_model)
            for n in FORECAST_SIZES
        ]
    return render(
        request,
        "reports/forecast_panel.html",
        {
            "outlook": outlook,
            "chosen": _forecast_json(outlook.forecast),
            "by_size": [_forecast_json(f) for f in by_size],
            "size_assumed": not typed_size,
            "window_narrowed": narrowed is not None,
        },
    )


def _narrowed_hours(start: str, end: str) -> float | None:
    """The hours of a narrowed window typed on the decision form (UK time), None unless
    both ends are typed and the end is after the start."""
    if not (start.strip() and end.strip()):
        return None
    try:
        begins, ends = from_local_input(start), from_local_input(end)
    except ValueError as error:
        raise Refusal("EQ-1", "not a date and time", "condition_window_start") from error
    seconds = (ends - begins).total_seconds()
    return seconds / 3600 if seconds > 0 else None


THRESHOLD = TypeAdapter(Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)])
"""An alert threshold typed on the decision form: as the JSON forecast takes it."""
WATCHLIST_SIZE = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_FORECAST_WATCHLIST)])
PEOPLE = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_FORECAST_PEOPLE)])
"""People passing the cameras per hour, or of them on the watchlist."""
HOURS = TypeAdapter(Annotated[float, Field(ge=0, le=MAX_FORECAST_HOURS, allow_inf_nan=False)])

_Number = TypeVar("_Number", int, float)


def _number(text: str, kind: TypeAdapter[_Number], field: str) -> _Number | None:
    """A number typed on the form, None when blank; one that is not a number, or lies
    outside what the forecast can use (NaN, infinity, below zero), is refused saying so."""
    if not text.strip():
        return None
    try:
        return kind.validate_python(text.strip())
    except ValidationError as error:
        raise Refusal("EQ-1", error.errors()[0]["msg"], field) from None


@api.get(
    "/forecast",
    response_model=schemas.ForecastOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="get_forecast",
)
def api_forecast(
    context: Context,
    viewer: Decider,
    threshold: Annotated[float | None, Query(gt=0, le=1)] = None,
    watchlist_size: Annotated[int, Query(ge=1, le=MAX_FORECAST_WATCHLIST)] = ASSUMED_WATCHLIST_SIZE,
) -> dict[str, Any]:
    """False alerts per 10,000 faces and the expected true identification rate."""
    with reading(context.db) as db:
        return _forecast_json(
            thresholds.decision_forecast(db, threshold, watchlist_size, context.evaluated_model)
        )


# --- monitoring and benefit (EQ-2, EQ-3) -------------------------------------------------------


def _monitoring(context: Context) -> monitoring.Monitoring:
    with reading(context.db) as db:
        return monitoring.monitoring(db, context.settings.equitability_alpha)


@pages.get("/monitoring")
def monitoring_page(request: Request, context: Context, viewer: Monitor) -> Response:
    result = _monitoring(context)
    return render(
        request,
        "reports/monitoring.html",
        {"m": result, "totals": result.totals(), "title": "Monitoring"},
    )


MONITORING_CHARTS = {
    "benefit": monitoring.benefit_chart,
    "benefit-per-faces": monitoring.benefit_per_faces_chart,
    "groups": monitoring.group_chart,
}


@pages.get("/monitoring/charts/{name}.png")
def monitoring_chart(context: Context, viewer: Monitor, name: str) -> Response:
    draw = MONITORING_CHARTS.get(name)
    if draw is None:
        raise NotFound("chart", name)
    return Response(draw(_monitoring(context)), media_type=PNG, headers=NO_STORE)


@api.get(
    "/monitoring",
    response_model=schemas.MonitoringOut,
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="get_monitoring",
)
def api_monitoring(context: Context, viewer: Monitor) -> dict[str, Any]:
    """Outcomes and benefit of every reviewed deployment and the EQ-2 group test."""
    result = _monitoring(context)
    return {
        "deployments": [
            {
                **vars_of(d),
                "true_alerts_per_10k_faces": d.per_10k_faces(d.true_alerts),
                "arrests_per_10k_faces": d.per_10k_faces(d.arrests),
            }
            for d in result.deployments
        ],
        "totals": result.totals(),
        "perceived_groups": {
            g: {"false": r.errors, "concluded": r.trials, "low": r.low, "high": r.high}
            for g, r in result.group_rates.items()
        },
        "adjusted_p": dict(result.group_test.adjusted_p),
        "differential_flagged": result.differential_flagged,
    }


def vars_of(benefit: monitoring.DeploymentBenefit) -> dict[str, Any]:
    return {name: getattr(benefit, name) for name in benefit.__slots__}


@api.post(
    "/alerts/{alert_id}/perceived-group",
    response_model=schemas.PerceivedGroupOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="record_perceived_group",
)
def perceived_group(
    context: Context,
    viewer: Engagement,
    alert_id: str,
    group: Annotated[PerceivedGroup, Form()],
) -> schemas.PerceivedGroupOut:
    """The engaging officer's optional perceived group (EQ-2)."""
    with transaction(context.db) as db:
        record_perceived_group(db, viewer.actor, alert_id, group)
    return schemas.PerceivedGroupOut(alert_id=alert_id, perceived_group=group.value)
