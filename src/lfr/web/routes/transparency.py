"""Public transparency pages and downloads, no sign-in (PUB-1..3): results after review,
open data (CSV, JSON), the Atom feed, the framework documents; and, for the force, the
announcement delay (authorising officer, Gold) and document upload (administrator).

Everything public comes from `lfr.reports.transparency`'s `...Public` models, which carry
no image, template, subject reference or name.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from lfr.db.governance import AuthorityRow
from lfr.db.rows import found
from lfr.db.session import reading, transaction
from lfr.domain.people import Role
from lfr.domain.refusal import NotFound, Refusal
from lfr.reports import transparency
from lfr.reports.transparency import (
    RESULT_COLUMNS,
    AnnouncementPublic,
    DocumentKind,
    ResultPublic,
)
from lfr.services import publication
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.downloads import attachment, safe_filename
from lfr.web.forms import shown_on_form
from lfr.web.labels import from_local_input
from lfr.web.rendering import render
from lfr.web.shipped_documents import not_yet_published, shipped

PUBLIC = Admit.public_route()
PUBLISHERS = Admit(Role.ADMINISTRATOR)
DELAYERS = Admit(Role.AUTHORISING_OFFICER, Role.GOLD)
Publisher = Annotated[Viewer, Depends(PUBLISHERS)]
Delayer = Annotated[Viewer, Depends(DELAYERS)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/public", tags=["public"])


@pages.get("/public/results/{deployment_id}", dependencies=[Depends(PUBLIC)])
def result_page(request: Request, context: Context, deployment_id: str) -> Response:
    with reading(context.db) as db:
        found = [r for r in transparency.results(db) if r.deployment_id == deployment_id]
    if not found:
        raise NotFound("published result", deployment_id)
    return render(
        request,
        "public/result.html",
        {"result": found[0], "columns": RESULT_COLUMNS, "title": found[0].title},
    )


@pages.get("/public/open-data", dependencies=[Depends(PUBLIC)])
def open_data_page(request: Request) -> Response:
    return render(
        request, "public/open_data.html", {"columns": RESULT_COLUMNS, "title": "Open data"}
    )


@pages.get("/public/open-data/results.csv", dependencies=[Depends(PUBLIC)])
def open_data_csv(context: Context) -> Response:
    with reading(context.db) as db:
        text = transparency.results_csv(transparency.results(db))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": attachment("lfr-results.csv")},
    )


@pages.get("/public/open-data/results.json", dependencies=[Depends(PUBLIC)])
def open_data_json(context: Context) -> Response:
    with reading(context.db) as db:
        text = transparency.results_json(transparency.results(db))
    return Response(text, media_type="application/json")


@pages.get("/public/feed.atom", dependencies=[Depends(PUBLIC)])
def atom_feed(request: Request, context: Context) -> Response:
    with reading(context.db) as db:
        feed = transparency.atom_feed(
            transparency.announcements(db), transparency.results(db), feed_base(request, context)
        )
    return Response(feed, media_type="application/atom+xml")


def feed_base(request: Request, context: Context) -> str:
    """The service's own address for the feed's links, never the request's Host header (a
    forged one would be copied into every reader's feed): `web.public_url`, else the first
    allowed host, else (development, any host allowed) links relative to the site."""
    public_url = context.web_settings.public_url
    if public_url is not None:
        return public_url
    hosts = [host for host in context.settings.allowed_hosts if host != "*"]
    return f"{request.url.scheme}://{hosts[0]}" if hosts else ""


@pages.get("/public/documents", dependencies=[Depends(PUBLIC)])
def documents_page(request: Request, context: Context) -> Response:
    with reading(context.db) as db:
        listed = transparency.documents(db)
    return render(
        request,
        "public/documents.html",
        {
            "documents": listed,
            "templates": not_yet_published(d.kind for d in listed),
            "kinds": list(DocumentKind),
            "title": "Documents",
        },
    )


@pages.get("/public/documents/templates/{kind}", dependencies=[Depends(PUBLIC)])
def document_template(kind: str) -> Response:
    """A shipped template (Markdown), shown until the force publishes its own."""
    document = shipped(kind)
    return Response(
        document.content(),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{document.filename}"'},
    )


@pages.get("/public/documents/{document_id}", dependencies=[Depends(PUBLIC)])
def document_download(context: Context, document_id: str) -> Response:
    with reading(context.db) as db:
        document, content = transparency.document_file(db, document_id)
    return Response(
        content,
        media_type=document.content_type,
        headers={
            "Content-Disposition": attachment(document.filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


@pages.post("/public/documents")
async def upload_document(
    context: Context,
    viewer: Publisher,
    title: Annotated[str, Form(max_length=200)],
    kind: Annotated[DocumentKind, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    content = await file.read(publication.MAX_DOCUMENT_BYTES + 1)
    with transaction(context.db) as db:
        publication.upload_document(
            db,
            viewer.actor,
            title=title,
            kind=kind,
            filename=safe_filename(file.filename or ""),
            content_type=(file.content_type or "").split(";")[0].strip(),
            content=content,
        )
    return RedirectResponse("/public/documents", status_code=303)


@pages.post("/authorities/{authority_id}/publication-delay")
@shown_on_form()
async def delay_announcement(
    request: Request,
    context: Context,
    viewer: Delayer,
    authority_id: str,
    publish_from: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    try:
        when = from_local_input(publish_from)  # the form's field is typed in UK time
    except ValueError as error:
        raise Refusal("PUB-1", "give a date and time", "publish_from") from error
    actor = viewer.actor

    def delay() -> str:
        with transaction(context.db) as db:
            publication.delay_announcement(db, actor, authority_id, when, reason)
            return found(db, AuthorityRow, authority_id, "authority").application_id

    application_id = await asyncio.to_thread(delay)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@api.get(
    "/results",
    dependencies=[Depends(PUBLIC)],
    response_model=list[ResultPublic],
    operation_id="list_public_results",
)
def api_results(context: Context) -> list[dict[str, Any]]:
    """PUB-2 results after review, in the open-data columns."""
    with reading(context.db) as db:
        return [r.model_dump(mode="json") for r in transparency.results(db)]


@api.get(
    "/announcements",
    dependencies=[Depends(PUBLIC)],
    response_model=list[AnnouncementPublic],
    operation_id="list_public_announcements",
)
def api_announcements(context: Context) -> list[dict[str, Any]]:
    """PUB-1 announcements (date, area, purpose)."""
    with reading(context.db) as db:
        return [a.model_dump(mode="json") for a in transparency.announcements(db)]
