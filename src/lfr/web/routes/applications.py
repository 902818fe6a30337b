"""Applications (AUTH-1..6): draft, submit, decide with reasons and conditions, chief-officer
consultation, and the Written Authority Document (view, print, verify its hash).

Every change goes through `lfr.services.authorisations`; reading goes through the one
permission check `lfr.services.access.readable_application` (no IDOR).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import ApplicationRow, AuthorityRow
from lfr.db.session import reading, transaction
from lfr.domain.authorisation import (
    LIST_FIELDS,
    TEXT_FIELDS,
    Application,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
    urgent_lapse_time,
    verify_wad,
    wad_as_text,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import NotFound
from lfr.services import authorisations, cameras, watchlists
from lfr.services.access import readable_application, readable_applications
from lfr.services.policy import GovernancePolicy
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.application_forms import application_from_form
from lfr.web.authority_view import AuthorityTerms, authority_terms
from lfr.web.deps import Context
from lfr.web.forms import shown_on_form
from lfr.web.rendering import render
from lfr.web.wad_pdf import wad_pdf

READERS = Admit(
    Role.APPLICANT,
    Role.AUTHORISING_OFFICER,
    Role.CHIEF_OFFICER,
    Role.GOLD,
    Role.SILVER,
    Role.REVIEWER,
    Role.OVERSIGHT,
)
Reader = Annotated[Viewer, Depends(READERS)]
Applicant = Annotated[Viewer, Depends(Admit(Role.APPLICANT))]
Decider = Annotated[Viewer, Depends(Admit(Role.AUTHORISING_OFFICER))]
ChiefOfficer = Annotated[Viewer, Depends(Admit(Role.CHIEF_OFFICER))]

DEFAULT_FOOTFALL = 1000
"""Faces per hour the forecast assumes until the officer types the deployment's own figure:
a busy high street or event entrance (the form says it is an assumption to replace)."""

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/applications", tags=["applications"])


def _form_context() -> dict[str, Any]:
    return {
        "text_fields": TEXT_FIELDS,
        "list_fields": LIST_FIELDS,
        "place_categories": list(PlaceCategory),
        "categories": list(WatchlistCategory),
        "decision_kinds": list(DecisionKind),
        "consultation_outcomes": list(ConsultationOutcome),
    }


@pages.get("/applications")
def applications_page(request: Request, context: Context, viewer: Reader) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        rows = readable_applications(db, actor)
        db.expunge_all()
    return render(
        request, "applications/index.html", {"applications": rows, "title": "Applications"}
    )


@pages.get("/applications/new")
def new_application_page(request: Request, context: Context, viewer: Applicant) -> Response:
    return render(
        request,
        "applications/edit.html",
        {
            **_form_context(),
            "camera_names": _camera_names(context),
            "application": Application(applicant_id=""),
            "row": None,
            "title": "New application",
        },
    )


@pages.post("/applications")
@shown_on_form()
async def create_application(request: Request, context: Context, viewer: Applicant) -> Response:
    actor = viewer.actor
    draft = application_from_form(await request.form(), actor.user_id)
    row_id = await in_thread(lambda: _create(context, actor, draft))
    return RedirectResponse(f"/applications/{row_id}", status_code=303)


def _create(context: Context, actor: Actor, draft: Application) -> str:
    with transaction(context.db) as db:
        return authorisations.create_application(db, actor, draft).id


@pages.get("/applications/{application_id}")
def application_page(
    request: Request, context: Context, viewer: Reader, application_id: str
) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        application = authorisations.application_of(row)
        authority_row = _authority_of(db, row.id)
        authority = authority_answer(authority_row, context.policy) if authority_row else None
        terms = (
            authority_terms(db, authority_row, context.recognition_settings)
            if authority_row
            else None
        )
        watchlist = (
            watchlists.watchlist_for_authority(db, authority_row.id) if authority_row else None
        )
        consultations = list(row.consultations)
        db.expunge_all()
    return render(
        request,
        "applications/detail.html",
        {
            **_form_context(),
            "row": row,
            "application": application,
            "authority": authority,
            "terms": terms,
            "watchlist_id": watchlist.id if watchlist else None,
            "deployment_hours": _hours(application),
            "default_footfall": DEFAULT_FOOTFALL,
            "consultations": consultations,
            "is_applicant": row.applicant_id == actor.user_id,
            "title": row.title or "Application",
        },
    )


@pages.get("/applications/{application_id}/edit")
def edit_page(
    request: Request, context: Context, viewer: Applicant, application_id: str
) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        application = authorisations.application_of(row)
        db.expunge_all()
    return render(
        request,
        "applications/edit.html",
        {
            **_form_context(),
            "camera_names": _camera_names(context),
            "application": application,
            "row": row,
            "title": "Edit application",
        },
    )


def _camera_names(context: Context) -> list[str]:
    """The cameras the engineers have configured, offered as a hint on the form."""
    with reading(context.db) as db:
        return sorted(c.name for c in cameras.all_cameras(db))


@pages.post("/applications/{application_id}")
@shown_on_form()
async def update_application(
    request: Request, context: Context, viewer: Applicant, application_id: str
) -> Response:
    actor = viewer.actor
    draft = application_from_form(await request.form(), actor.user_id)
    return await change_and_show(
        context,
        actor,
        application_id,
        lambda db: authorisations.update_application(db, actor, application_id, draft),
    )


@pages.post("/applications/{application_id}/submit")
@shown_on_form(fields_at="/applications/{application_id}/edit")
async def submit(
    request: Request, context: Context, viewer: Applicant, application_id: str
) -> Response:
    actor = viewer.actor
    return await change_and_show(
        context,
        actor,
        application_id,
        lambda db: authorisations.submit_application(db, actor, application_id),
    )


@pages.post("/applications/{application_id}/withdraw")
def withdraw(
    context: Context,
    viewer: Applicant,
    application_id: str,
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    """The applicant withdraws an application not yet decided, saying why (AUTH-1)."""
    actor = viewer.actor
    change_application(
        context,
        actor,
        application_id,
        lambda db: authorisations.withdraw_application(db, actor, application_id, reason),
    )
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


async def change_and_show(
    context: Context, actor: Actor, application_id: str, change: Callable[[Session], object]
) -> Response:
    """Checks this person may read the application (no IDOR), then makes the change, in one
    transaction off the event loop; back to the application's page."""

    def run() -> None:
        with transaction(context.db) as db:
            readable_application(db, actor, application_id)
            change(db)

    await in_thread(run)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@pages.get("/applications/{application_id}/wad")
def wad_page(request: Request, context: Context, viewer: Reader, application_id: str) -> Response:
    """The Written Authority Document, printable; its SHA-256 is checked on every view."""
    terms = _wad_terms(context, viewer, application_id)
    return render(
        request,
        "applications/wad.html",
        {
            "terms": terms,
            "text_fields": TEXT_FIELDS,
            "now": datetime.now(UTC),
            "title": f"Written Authority Document: {terms.application.title}",
            "application_id": application_id,
        },
    )


@pages.get("/applications/{application_id}/wad.pdf")
def wad_pdf_file(context: Context, viewer: Reader, application_id: str) -> Response:
    """The same document as a PDF, made from the verified record on each request."""
    terms = _wad_terms(context, viewer, application_id)
    return Response(
        wad_pdf(terms, application_id),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="wad-{application_id}.pdf"'},
    )


@pages.get("/applications/{application_id}/wad.json")
def wad_record(context: Context, viewer: Reader, application_id: str) -> Response:
    """The signed record's exact bytes: their SHA-256 is the one printed on the document."""
    authority = _detached_authority(context, viewer, application_id)
    verify_wad(authority.wad, authority.wad_sha256)
    return Response(
        authority.wad,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="wad-{application_id}.json"'},
    )


def _wad_terms(context: Context, viewer: Viewer, application_id: str) -> AuthorityTerms:
    with reading(context.db) as db:
        authority = _readable_authority(db, viewer.actor, application_id)
        return authority_terms(db, authority, context.recognition_settings)


def _detached_authority(context: Context, viewer: Viewer, application_id: str) -> AuthorityRow:
    """The authority of an application this person may read (no IDOR), detached."""
    with reading(context.db) as db:
        authority = _readable_authority(db, viewer.actor, application_id)
        db.expunge_all()
        return authority


# --- the JSON API ------------------------------------------------------------------------------


def _application_out(
    db: Session, row: ApplicationRow, policy: GovernancePolicy
) -> schemas.ApplicationOut:
    authority = _authority_of(db, row.id)
    return schemas.ApplicationOut(
        id=row.id,
        status=row.status,
        applicant_id=row.applicant_id,
        application=authorisations.application_of(row).to_json(),
        decision_kind=row.decision_kind,
        decision_reasons=row.decision_reasons,
        decided_at=row.decided_at,
        consultations=[schemas.consultation_out(c) for c in row.consultations],
        authority=authority_answer(authority, policy) if authority else None,
    )


def authority_answer(row: AuthorityRow, policy: GovernancePolicy) -> schemas.AuthorityOut:
    validity = policy.urgent_validity
    return schemas.authority_out(row, urgent_lapse_time(authorisations.authority_of(row), validity))


def _read_application(context: Context, actor: Actor, application_id: str) -> Any:
    with reading(context.db) as db:
        return _application_out(db, readable_application(db, actor, application_id), context.policy)


def change_application(
    context: Context, actor: Actor, application_id: str, change: Callable[[Session], object]
) -> schemas.ApplicationOut:
    """Checks this person may read the application (no IDOR), makes the change in one
    transaction and answers the application as it now stands."""
    with transaction(context.db) as db:
        readable_application(db, actor, application_id)
        change(db)
    return _read_application(context, actor, application_id)  # type: ignore[no-any-return]


def _draft_of(body: schemas.ApplicationIn, applicant_id: str) -> Application:
    return Application.from_json({**body.model_dump(mode="json"), "applicant_id": applicant_id})


@api.get(
    "",
    response_model=list[schemas.ApplicationSummary],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_applications",
)
def api_applications(context: Context, viewer: Reader) -> list[schemas.ApplicationSummary]:
    """The applications this person may read."""
    actor = viewer.actor
    with reading(context.db) as db:
        return [
            schemas.ApplicationSummary(id=r.id, title=r.title, status=r.status, urgent=r.urgent)
            for r in readable_applications(db, actor)
        ]


@api.post(
    "",
    status_code=201,
    response_model=schemas.ApplicationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="create_application",
)
def api_create_application(
    context: Context, viewer: Applicant, body: schemas.ApplicationIn, response: Response
) -> schemas.ApplicationOut:
    """Draft an application (AUTH-1); every answer may be filled in later."""
    actor = viewer.actor
    row_id = _create(context, actor, _draft_of(body, actor.user_id))
    response.headers["Location"] = f"/api/applications/{row_id}"
    return _read_application(context, actor, row_id)  # type: ignore[no-any-return]


@api.get(
    "/{application_id}",
    response_model=schemas.ApplicationOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_application",
)
def api_application(
    context: Context, viewer: Reader, application_id: str
) -> schemas.ApplicationOut:
    """The application, its decision, consultations and the authority it granted."""
    return _read_application(context, viewer.actor, application_id)  # type: ignore[no-any-return]


@api.put(
    "/{application_id}",
    response_model=schemas.ApplicationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="update_application",
)
def api_update_application(
    context: Context, viewer: Applicant, application_id: str, body: schemas.ApplicationIn
) -> schemas.ApplicationOut:
    """Replace a draft's answers (AUTH-1): the applicant, while it is a draft."""
    actor = viewer.actor
    draft = _draft_of(body, actor.user_id)
    return change_application(
        context,
        actor,
        application_id,
        lambda db: authorisations.update_application(db, actor, application_id, draft),
    )


@api.post(
    "/{application_id}/submit",
    response_model=schemas.ApplicationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="submit_application",
)
def api_submit(context: Context, viewer: Applicant, application_id: str) -> schemas.ApplicationOut:
    """Submit for decision; refused naming every empty AUTH-1 field."""
    actor = viewer.actor
    return change_application(
        context,
        actor,
        application_id,
        lambda db: authorisations.submit_application(db, actor, application_id),
    )


@api.post(
    "/{application_id}/withdraw",
    response_model=schemas.ApplicationOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="withdraw_application",
)
def api_withdraw(
    context: Context, viewer: Applicant, application_id: str, body: schemas.Reason
) -> schemas.ApplicationOut:
    """The applicant withdraws an application not yet decided, saying why."""
    actor = viewer.actor
    return change_application(
        context,
        actor,
        application_id,
        lambda db: authorisations.withdraw_application(db, actor, application_id, body.reason),
    )


def _readable_authority(db: Session, actor: Actor, application_id: str) -> AuthorityRow:
    row = readable_application(db, actor, application_id)
    authority = _authority_of(db, row.id)
    if authority is None:
        raise NotFound("authority", application_id)
    return authority


@api.get(
    "/{application_id}/wad",
    response_model=schemas.WadOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_wad",
)
def api_wad(context: Context, viewer: Reader, application_id: str) -> schemas.WadOut:
    """The Written Authority Document as frozen, after checking its SHA-256 (AUTH-5)."""
    with reading(context.db) as db:
        authority = _readable_authority(db, viewer.actor, application_id)
        authorisations.authority_of(authority)  # verifies the hash (AUTH-5)
        return schemas.WadOut(
            authority_id=authority.id,
            sha256=authority.wad_sha256,
            wad=json.loads(authority.wad),
        )


@api.get(
    "/{application_id}/wad.txt",
    response_class=PlainTextResponse,
    responses={
        **schemas.as_json_refusals(schemas.READ_ERRORS),
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    },
    operation_id="get_wad_document",
)
def api_wad_document(context: Context, viewer: Reader, application_id: str) -> PlainTextResponse:
    """The WAD as the printable document the WAD page shows, with its SHA-256."""
    with reading(context.db) as db:
        authority = _readable_authority(db, viewer.actor, application_id)
        return PlainTextResponse(wad_as_text(authority.wad, authority.wad_sha256))


def _authority_of(db: Session, application_id: str) -> AuthorityRow | None:
    return db.scalars(
        select(AuthorityRow).where(AuthorityRow.application_id == application_id)
    ).one_or_none()


async def in_thread(function: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function)


def _hours(application: Application) -> float:
    """The deployment's length in hours (the forecast counts faces over it)."""
    if application.window is None:
        return 0.0
    return (application.window.end - application.window.start).total_seconds() / 3600
