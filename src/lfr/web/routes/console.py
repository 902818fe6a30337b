"""The operator console (ADJ-1, ADJ-2, REC-5): live alerts pushed by server-sent events, the
probe beside the watchlist image with score and quality factors; refer or dismiss."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from lfr.domain.people import Role
from lfr.web.access import Admit
from lfr.web.deps import Context
from lfr.web.live import event_stream
from lfr.web.rendering import render
from lfr.web.runtime import ALERTS_TOPIC

CONSOLE = Admit(Role.OPERATOR, Role.SILVER)

pages = APIRouter(include_in_schema=False, dependencies=[Depends(CONSOLE)])
api = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(CONSOLE)])


@pages.get("/console")
def console_page(request: Request, context: Context) -> Response:
    return render(request, "console/index.html", {"alerts": [], "title": "Operator console"})


@pages.get("/console/stream")
async def console_stream(request: Request, context: Context) -> StreamingResponse:
    """Server-sent events: one `fragment` event per new or changed alert."""
    return StreamingResponse(
        event_stream(context.feed, {ALERTS_TOPIC}, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
