"""The operator console (ADJ-1, ADJ-2, REC-5): live alerts pushed by server-sent events, the
probe beside the watchlist image with score and quality factors; refer or dismiss. Each
opening of a probe or watchlist image is audited (AUD-1).

Refer and dismiss first claim the alert (the service's conditional UPDATE: of two operators
only one can take it), then decide, in one transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from lfr.db.session import reading, transaction
from lfr.domain.alerts import AlertState
from lfr.domain.people import Actor, Role
from lfr.domain.retention import HOLD_ROLES
from lfr.services import alerts
from lfr.services.access import readable_alert, readable_alerts, view_entry_image
from lfr.web import schemas
from lfr.web.access import Admit, Viewer, known_identity
from lfr.web.alert_views import (
    alerts_visible_to,
    camera_views,
    card_of,
    commanded_live_deployments,
    console_alerts,
    console_history,
    images_shown,
    readable_card,
)
from lfr.web.deps import Context
from lfr.web.live import ALERTS_TOPIC, alert_message, event_response
from lfr.web.rendering import render

CONSOLE = Admit(Role.OPERATOR, Role.SILVER)
ConsoleViewer = Annotated[Viewer, Depends(CONSOLE)]
PROBE_VIEWERS = Admit(*alerts.PROBE_VIEWER_ROLES)
IMAGE_VIEWERS = Admit(
    Role.APPLICANT, Role.OPERATOR, Role.ENGAGEMENT_OFFICER, Role.SILVER, Role.GOLD, Role.REVIEWER
)

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/alerts", tags=["alerts"])

NO_STORE = {"Cache-Control": "no-store, private"}


@pages.get("/console")
def console_page(request: Request, context: Context, viewer: ConsoleViewer) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        cards = [card_of(db, row, actor) for row in console_alerts(db, actor)]
        history = [card_of(db, row, actor) for row in console_history(db, actor)]
        views = camera_views(db, actor)
        dashboards = commanded_live_deployments(db, actor)
    return render(
        request,
        "console/index.html",
        {
            "alerts": cards,
            "history": history,
            "camera_views": views,
            "dashboards": dashboards,
            "title": "Operator console",
        },
    )


@pages.get("/console/camera-status")
def camera_status(request: Request, context: Context, viewer: ConsoleViewer) -> Response:
    """The console's banner (REC-5), polled: each camera of a watched running deployment
    that is down or has stopped reporting, with why, so the operator knows what the
    cameras are not seeing."""
    actor = viewer.actor
    with reading(context.db) as db:
        views = camera_views(db, actor)
    runtime = context.runtime
    troubled: list[dict[str, object]] = []
    slow: list[dict[str, object]] = []
    for deployment_id in sorted({d for d, _ in views}):
        names = [c for d, c in views if d == deployment_id]
        healths = runtime.cameras(deployment_id, names) if runtime else []
        troubled += [
            {
                "camera": h.camera,
                "status": h.status,
                "error": h.last_error.reason if h.last_error else None,
                "age_s": h.age_s,
            }
            for h in healths
            if h.without_frames
        ]
        slow += [
            {"camera": h.camera, "fps": h.figures.fps, "min_fps": h.min_fps}
            for h in healths
            if h.slow and h.figures is not None
        ]
    response = render(
        request,
        "console/camera_status.html",
        {"troubled": troubled, "slow": slow, "cameras": len(views)},
    )
    response.headers.update(NO_STORE)
    return response


@pages.get("/console/stream")
async def console_stream(
    request: Request, context: Context, viewer: ConsoleViewer
) -> StreamingResponse:
    """Server-sent events: one `fragment` event per new or changed alert."""
    visible = alerts_visible_to(context.db, viewer.actor)
    return event_response(context.feed, {ALERTS_TOPIC}, request, visible)


@pages.get("/console/alerts/{alert_id}/card")
def console_card(
    request: Request, context: Context, viewer: ConsoleViewer, alert_id: str
) -> Response:
    card = readable_card(context.db, viewer.actor, alert_id)
    return render(request, "console/card.html", {"alert": card})


def refer_as(context: Context, actor: Actor, alert_id: str) -> None:
    """Claim (conditional UPDATE: one operator wins) and refer, in one transaction."""
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.claim_alert(db, actor, alert_id)
        alerts.refer_alert(db, actor, alert_id)
    _announce(context, alert_id)


def dismiss_as(context: Context, actor: Actor, alert_id: str, reason: str) -> None:
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.claim_alert(db, actor, alert_id)
        alerts.dismiss_alert(db, actor, alert_id, reason)
    _announce(context, alert_id)


def _announce(context: Context, alert_id: str) -> None:
    from lfr.web.routes.handheld import handheld_message

    context.feed.publish(alert_message(alert_id))
    context.feed.publish(handheld_message(alert_id))


@pages.post("/console/alerts/{alert_id}/refer")
def refer(request: Request, context: Context, viewer: ConsoleViewer, alert_id: str) -> Response:
    refer_as(context, viewer.actor, alert_id)
    return _after_decision(request, context, alert_id)


@pages.post("/console/alerts/{alert_id}/dismiss")
def dismiss(
    request: Request,
    context: Context,
    viewer: ConsoleViewer,
    alert_id: str,
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    dismiss_as(context, viewer.actor, alert_id, reason)
    return _after_decision(request, context, alert_id)


def _after_decision(request: Request, context: Context, alert_id: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return _card(request, context, alert_id)
    return RedirectResponse("/console", status_code=303)


def _card(request: Request, context: Context, alert_id: str) -> Response:
    actor = known_identity(request).actor
    assert actor is not None
    card = readable_card(context.db, actor, alert_id)
    return render(request, "console/card.html", {"alert": card})


@pages.get("/alerts/{alert_id}/probe.jpg")
def probe(
    context: Context,
    viewer: Annotated[Viewer, Depends(PROBE_VIEWERS)],
    alert_id: str,
) -> Response:
    """The probe crop (DP-2: by role, and only of an alert this person may read)."""
    jpeg = alerts.view_probe_image(context.db, viewer.actor, alert_id)
    return Response(jpeg, media_type="image/jpeg", headers=NO_STORE)


@pages.get("/watchlist-entries/{entry_id}/image")
def watchlist_image(
    context: Context,
    viewer: Annotated[Viewer, Depends(IMAGE_VIEWERS)],
    entry_id: str,
) -> Response:
    image = view_entry_image(context.db, viewer.actor, entry_id)
    return Response(image, media_type=_image_type(image), headers=NO_STORE)


def _image_type(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


ALERT_READERS = Admit(*alerts.PROBE_VIEWER_ROLES)
AlertReader = Annotated[Viewer, Depends(ALERT_READERS)]


@api.get(
    "",
    response_model=list[schemas.AlertOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_alerts",
)
def api_alerts(
    context: Context,
    viewer: AlertReader,
    state: AlertState | None = None,
    deployment_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[schemas.AlertOut]:
    """The alerts this person may read, newest first (no images: fetch the probe
    separately, by role), filtered by state and deployment."""
    actor = viewer.actor
    with reading(context.db) as db:
        rows = readable_alerts(db, actor, state=state, deployment_id=deployment_id)
        return [schemas.alert_out(row) for row in rows]


@api.get(
    "/{alert_id}",
    response_model=schemas.AlertOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_alert",
)
def api_alert(context: Context, viewer: AlertReader, alert_id: str) -> schemas.AlertOut:
    """One alert, if this person may read it."""
    return read_alert(context, viewer.actor, alert_id)


def read_alert(context: Context, actor: Actor, alert_id: str) -> schemas.AlertOut:
    with reading(context.db) as db:
        return schemas.alert_out(readable_alert(db, actor, alert_id))


@api.post(
    "/{alert_id}/refer",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="refer_alert",
)
def api_refer(context: Context, viewer: ConsoleViewer, alert_id: str) -> schemas.AlertOut:
    """Refer to the engagement officers (ADJ-2): claims the alert first."""
    actor = viewer.actor
    refer_as(context, actor, alert_id)
    return read_alert(context, actor, alert_id)


@api.post(
    "/{alert_id}/dismiss",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="dismiss_alert",
)
def api_dismiss(
    context: Context, viewer: ConsoleViewer, alert_id: str, body: schemas.Reason
) -> schemas.AlertOut:
    """Dismiss, saying why (ADJ-2): claims the alert first."""
    actor = viewer.actor
    dismiss_as(context, actor, alert_id, body.reason)
    return read_alert(context, actor, alert_id)


HOLDERS = Admit(*HOLD_ROLES)
Holder = Annotated[Viewer, Depends(HOLDERS)]


def hold_as(context: Context, actor: Actor, alert_id: str, reason: str, review_on: date) -> None:
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.hold_alert(db, actor, alert_id, reason, review_on, policy=context.policy)


@api.post(
    "/{alert_id}/hold",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="hold_alert",
)
def api_hold(
    context: Context, viewer: Holder, alert_id: str, body: schemas.HoldIn
) -> schemas.AlertOut:
    """Keep an alert for an investigation past its period, until a review date (DP-3)."""
    actor = viewer.actor
    hold_as(context, actor, alert_id, body.reason, body.review_on)
    return read_alert(context, actor, alert_id)


@pages.get("/alerts")
def alerts_page(
    request: Request, context: Context, viewer: AlertReader, state: AlertState | None = None
) -> Response:
    """The alerts this person may read, newest first, by state; each opens its record."""
    actor = viewer.actor
    with reading(context.db) as db:
        rows = [schemas.alert_out(row) for row in readable_alerts(db, actor, state=state)]
    return render(
        request,
        "console/alerts.html",
        {"alerts": rows, "states": list(AlertState), "state": state, "title": "Alerts"},
    )


@pages.get("/alerts/{alert_id}")
def alert_page(request: Request, context: Context, viewer: AlertReader, alert_id: str) -> Response:
    """One alert's record: the probe and the watchlist image large side by side, with the
    score and quality facts (ADJ-1), its decisions, outcome and any hold (DP-3)."""
    actor = viewer.actor
    card = readable_card(context.db, actor, alert_id)
    detail = read_alert(context, actor, alert_id)
    return render(
        request,
        "console/alert.html",
        {
            "alert": card,
            "detail": detail,
            "shown": images_shown(context.db, actor, alert_id),
            "may_hold": bool(actor.roles & HOLDERS.roles),
            "title": "Alert",
        },
    )


@pages.post("/alerts/{alert_id}/hold")
def hold(
    context: Context,
    viewer: Holder,
    alert_id: str,
    reason: Annotated[str, Form(max_length=4000)],
    review_on: Annotated[date, Form()],
) -> Response:
    """DP-3: the hold, recorded with its reason and review date."""
    hold_as(context, viewer.actor, alert_id, reason, review_on)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)
