"""Public transparency pages, no sign-in (PUB-1, PUB-2): planned deployments and results,
from the record. Nothing here ever carries a biometric or a person's identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lfr.audit.checkpoint import feed_json, load_signing_key, public_key_text
from lfr.audit.log import signed_head
from lfr.audit.verify import stored_checkpoints
from lfr.db.session import reading
from lfr.services import publication
from lfr.web import schemas
from lfr.web.access import Admit
from lfr.web.context import WebContext
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
        return {"planned": [p.published() for p in publication.planned(db)]}


PAGE_CHECKPOINTS = 50
"""Checkpoints listed on the page (newest); the JSON feed lists them all."""


@pages.get("/public/audit")
def audit_page(request: Request, context: Context) -> Response:
    """AUD-1: the signed checkpoints of the audit log, for anyone to keep a copy of."""
    with reading(context.db) as db:
        checkpoints = stored_checkpoints(db, limit=PAGE_CHECKPOINTS)
    return render(
        request,
        "public/audit.html",
        {
            "checkpoints": list(reversed(checkpoints)),
            "public_key": _public_key(context),
            "title": "Audit log checkpoints",
        },
    )


@api.get(
    "/audit/checkpoints",
    response_model=schemas.CheckpointFeed,
    operation_id="list_audit_checkpoints",
)
def audit_checkpoints(context: Context) -> dict[str, Any]:
    """AUD-1: every signed checkpoint, oldest first: a copy pins the log up to each one
    (`lfr audit verify --against` checks the log against it)."""
    with reading(context.db) as db:
        checkpoints = stored_checkpoints(db)
    return feed_json(checkpoints, _public_key(context))


@api.get("/audit/head", response_model=schemas.SignedCheckpointOut, operation_id="get_audit_head")
def audit_head(context: Context) -> dict[str, Any]:
    """AUD-1: the log's current head, signed now (not stored): keep it to prove later what
    the log held at this moment."""
    key = load_signing_key(context.settings.audit_signing_key_bytes())
    with reading(context.db) as db:
        return signed_head(db, key).to_dict()


def _public_key(context: WebContext) -> str:
    return public_key_text(load_signing_key(context.settings.audit_signing_key_bytes()))
