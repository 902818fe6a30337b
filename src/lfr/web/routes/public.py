"""Public transparency pages, no sign-in (PUB-1, PUB-2): planned deployments and results,
from the record. Nothing here ever carries a biometric or a person's identity."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lfr.db.session import reading
from lfr.services import publication
from lfr.web import schemas
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
        awaiting = publication.awaiting_review(db)
    return render(
        request,
        "public/index.html",
        {
            "planned": planned,
            "results": results,
            "awaiting": awaiting,
            "title": "Live Facial Recognition",
        },
    )


@api.get(
    "/deployments",
    response_model=schemas.PublicDeployments,
    operation_id="list_public_deployments",
)
def public_deployments(context: Context) -> dict[str, list[dict[str, Any]]]:
    """Deployments announced and not yet reviewed (PUB-1). Results after review are served
    once, at /api/public/results (PUB-2, the open-data columns)."""
    with reading(context.db) as db:
        return {"planned": [asdict(p) for p in publication.planned(db)]}
