"""The engagement officer's handheld (ADJ-3): referred alerts on a phone, engage or not, and
the outcome. The final decision to engage is the officer's; the software takes none (ADJ-4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from lfr.db.session import reading, transaction
from lfr.domain.alerts import Action, Identity, Outcome
from lfr.domain.people import Actor, Role
from lfr.reports import monitoring
from lfr.services import alerts
from lfr.services.access import readable_alert
from lfr.services.monitoring import record_perceived_group
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.alert_views import alerts_visible_to, card_of, handheld_alerts, readable_card
from lfr.web.deps import Context
from lfr.web.live import LiveMessage, alert_message, event_response
from lfr.web.rendering import render
from lfr.web.routes.console import read_alert

HANDHELD = Admit(Role.ENGAGEMENT_OFFICER)
HandheldViewer = Annotated[Viewer, Depends(HANDHELD)]
HANDHELD_TOPIC = "handheld"

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/alerts", tags=["alerts"])


def handheld_message(alert_id: str) -> LiveMessage:
    return LiveMessage(HANDHELD_TOPIC, f"/handheld/alerts/{alert_id}/card", f"hh-{alert_id}")


@pages.get("/handheld")
def handheld_page(request: Request, context: Context, viewer: HandheldViewer) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        cards = [card_of(db, row, actor) for row in handheld_alerts(db, actor)]
    return render(
        request,
        "handheld/index.html",
        {
            "alerts": cards,
            "identities": list(Identity),
            "actions": list(Action),
            "title": "Handheld",
        },
    )


@pages.get("/handheld/stream")
async def handheld_stream(
    request: Request, context: Context, viewer: HandheldViewer
) -> StreamingResponse:
    visible = alerts_visible_to(context.db, viewer.actor)
    return event_response(context.feed, {HANDHELD_TOPIC}, request, visible)


@pages.get("/handheld/alerts/{alert_id}/card")
def handheld_card(
    request: Request, context: Context, viewer: HandheldViewer, alert_id: str
) -> Response:
    return _card(request, context, viewer.actor, alert_id)


def _card(request: Request, context: Context, actor: Actor, alert_id: str) -> Response:
    card = readable_card(context.db, actor, alert_id)
    return render(
        request,
        "handheld/card.html",
        {"alert": card, "identities": list(Identity), "actions": list(Action)},
    )


def engage_as(context: Context, actor: Actor, alert_id: str) -> None:
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.engage_alert(db, actor, alert_id)
    _announce(context, alert_id)


def decline_as(context: Context, actor: Actor, alert_id: str, reason: str) -> None:
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.decline_alert(db, actor, alert_id, reason)
    _announce(context, alert_id)


def conclude_as(
    context: Context, actor: Actor, alert_id: str, result: Outcome, perceived_group: str = ""
) -> None:
    group = monitoring.parse_perceived_group(perceived_group)
    with transaction(context.db) as db:
        readable_alert(db, actor, alert_id)
        alerts.record_alert_outcome(db, actor, alert_id, result)
        if group is not None:  # optional, for outcome monitoring (EQ-2)
            record_perceived_group(db, actor, alert_id, group)
    _announce(context, alert_id)


@pages.post("/handheld/alerts/{alert_id}/engage")
def engage(request: Request, context: Context, viewer: HandheldViewer, alert_id: str) -> Response:
    actor = viewer.actor
    engage_as(context, actor, alert_id)
    return _done(request, context, actor, alert_id)


@pages.post("/handheld/alerts/{alert_id}/decline")
def decline(
    request: Request,
    context: Context,
    viewer: HandheldViewer,
    alert_id: str,
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    actor = viewer.actor
    decline_as(context, actor, alert_id, reason)
    return _done(request, context, actor, alert_id)


@pages.post("/handheld/alerts/{alert_id}/outcome")
def outcome(
    request: Request,
    context: Context,
    viewer: HandheldViewer,
    alert_id: str,
    identity: Annotated[Identity, Form()],
    actions: Annotated[list[Action] | None, Form()] = None,
    notes: Annotated[str, Form(max_length=4000)] = "",
    perceived_group: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    actor = viewer.actor
    result = Outcome(identity, frozenset(actions or ()), notes)
    conclude_as(context, actor, alert_id, result, perceived_group)
    return _done(request, context, actor, alert_id)


def _announce(context: Context, alert_id: str) -> None:
    context.feed.publish(alert_message(alert_id))
    context.feed.publish(handheld_message(alert_id))


def _done(request: Request, context: Context, actor: Actor, alert_id: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return _card(request, context, actor, alert_id)
    return RedirectResponse("/handheld", status_code=303)


@api.post(
    "/{alert_id}/engage",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="engage_alert",
)
def api_engage(context: Context, viewer: HandheldViewer, alert_id: str) -> schemas.AlertOut:
    """An engagement officer of the deployment, not the one who referred it, engages (ADJ-3)."""
    actor = viewer.actor
    engage_as(context, actor, alert_id)
    return read_alert(context, actor, alert_id)


@api.post(
    "/{alert_id}/decline",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="decline_alert",
)
def api_decline(
    context: Context, viewer: HandheldViewer, alert_id: str, body: schemas.Reason
) -> schemas.AlertOut:
    """An engagement officer decides not to engage, saying why (ADJ-3)."""
    actor = viewer.actor
    decline_as(context, actor, alert_id, body.reason)
    return read_alert(context, actor, alert_id)


@api.post(
    "/{alert_id}/outcome",
    response_model=schemas.AlertOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="record_alert_outcome",
)
def api_outcome(
    context: Context, viewer: HandheldViewer, alert_id: str, body: schemas.OutcomeIn
) -> schemas.AlertOut:
    """The officer who engaged records what happened (ADJ-3)."""
    actor = viewer.actor
    result = Outcome(body.identity, frozenset(body.actions), body.notes)
    conclude_as(context, actor, alert_id, result)
    return read_alert(context, actor, alert_id)
