"""The signed-in home page (a menu of what this person's roles admit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lfr.web import schemas
from lfr.web.access import Admit, Identity, Viewer
from lfr.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/", dependencies=[Depends(Admit.public_route())])
def home(request: Request, identity: Identity) -> Response:
    """Anyone may open the address; the public see the transparency pages."""
    if not identity.signed_in:
        return RedirectResponse("/public", status_code=303)
    return render(request, "home.html", {"title": "Home"})


API_DOCS_PAGE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>lfr API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger/init.js"></script></body></html>"""


@router.get("/api/docs", dependencies=[Depends(Admit.public_route())])
def api_docs() -> HTMLResponse:
    """The OpenAPI reference, with Swagger UI served from this server (no CDN)."""
    return HTMLResponse(API_DOCS_PAGE)


api = APIRouter(prefix="/api", tags=["account"])


@api.get(
    "/me", response_model=schemas.Me, responses=schemas.SIGNED_IN_ERRORS, operation_id="get_me"
)
def me(viewer: Annotated[Viewer, Depends(Admit.signed_in())]) -> schemas.Me:
    """Who is signed in: name, rank and roles."""
    actor = viewer.actor
    return schemas.Me(
        user_id=actor.user_id,
        name=actor.name,
        rank=actor.rank.name,
        roles=sorted(role.value for role in actor.roles),
    )
