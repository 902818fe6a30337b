"""Public transparency pages, no sign-in (PUB-1, PUB-2): planned deployments and results,
from the record. Nothing here ever carries a biometric or a person's identity."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lfr.web.access import Admit
from lfr.web.rendering import render

PUBLIC = Admit.public_route()

pages = APIRouter(include_in_schema=False, dependencies=[Depends(PUBLIC)])
api = APIRouter(prefix="/api/public", tags=["public"], dependencies=[Depends(PUBLIC)])


@pages.get("/public")
def public_page(request: Request) -> Response:
    return render(
        request,
        "public/index.html",
        {"planned": [], "results": [], "title": "Live Facial Recognition"},
    )
