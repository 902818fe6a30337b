"""Public transparency pages, no sign-in (PUB-1, PUB-2): planned deployments and results,
from the record. Nothing here ever carries a biometric or a person's identity."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lfr.db.session import reading
from lfr.services import publication
from lfr.web.access import Admit
from lfr.web.deps import Context
from lfr.web.rendering import render

PUBLIC = Admit.public_route()

pages = APIRouter(include_in_schema=False, dependencies=[Depends(PUBLIC)])
api = APIRouter(prefix="/api/public", tags=["public"], dependencies=[Depends(PUBLIC)])


@pages.get("/public")
def public_page(request: Request, context: Context) -> Response:
    with reading(context.db) as db:
        planned, results = publication.planned(db), publication.results(db)
    return render(
        request,
        "public/index.html",
        {"planned": planned, "results": results, "title": "Live Facial Recognition"},
    )


@api.get("/deployments")
def public_deployments(context: Context) -> dict[str, list[dict[str, Any]]]:
    """Open data (PUB-3): planned deployments and results as JSON."""
    with reading(context.db) as db:
        return {
            "planned": [asdict(p) for p in publication.planned(db)],
            "results": [asdict(r) for r in publication.results(db)],
        }
