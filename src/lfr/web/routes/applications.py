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

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lfr.db.governance import AuthorityRow
from lfr.db.session import reading, transaction
from lfr.domain.authorisation import (
    LIST_FIELDS,
    TEXT_FIELDS,
    Application,
    Conditions,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
    TimeWindow,
    verify_wad,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.services import authorisations
from lfr.services.access import readable_application, readable_applications
from lfr.web.access import Admit, Viewer, viewer_of
from lfr.web.deps import Context
from lfr.web.rendering import render

READERS = Admit(
    Role.APPLICANT,
    Role.AUTHORISING_OFFICER,
    Role.CHIEF_OFFICER,
    Role.GOLD,
    Role.SILVER,
    Role.REVIEWER,
    Role.OVERSIGHT,
)
Reader = Annotated[Viewer | None, Depends(READERS)]
Applicant = Annotated[Viewer | None, Depends(Admit(Role.APPLICANT))]
Decider = Annotated[Viewer | None, Depends(Admit(Role.AUTHORISING_OFFICER))]
ChiefOfficer = Annotated[Viewer | None, Depends(Admit(Role.CHIEF_OFFICER))]

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
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        rows = readable_applications(db, actor)
        db.expunge_all()
    return render(
        request, "applications/index.html", {"applications": rows, "title": "Applications"}
    )


@pages.get("/applications/new")
def new_application_page(request: Request, viewer: Applicant) -> Response:
    return render(
        request,
        "applications/edit.html",
        {
            **_form_context(),
            "application": Application(applicant_id=""),
            "row": None,
            "title": "New application",
        },
    )


@pages.post("/applications")
async def create_application(request: Request, context: Context, viewer: Applicant) -> Response:
    actor = viewer_of(viewer).actor
    draft = application_from_form(await request.form(), actor.user_id)
    row_id = await _in_thread(lambda: _create(context, actor, draft))
    return RedirectResponse(f"/applications/{row_id}", status_code=303)


def _create(context: Context, actor: Actor, draft: Application) -> str:
    with transaction(context.db) as db:
        return authorisations.create_application(db, actor, draft).id


@pages.get("/applications/{application_id}")
def application_page(
    request: Request, context: Context, viewer: Reader, application_id: str
) -> Response:
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        application = authorisations.application_of(row)
        authority = _authority_of(db, row.id)
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
            "consultations": consultations,
            "is_applicant": row.applicant_id == actor.user_id,
            "title": row.title or "Application",
        },
    )


@pages.get("/applications/{application_id}/edit")
def edit_page(
    request: Request, context: Context, viewer: Applicant, application_id: str
) -> Response:
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        application = authorisations.application_of(row)
        db.expunge_all()
    return render(
        request,
        "applications/edit.html",
        {**_form_context(), "application": application, "row": row, "title": "Edit application"},
    )


@pages.post("/applications/{application_id}")
async def update_application(
    request: Request, context: Context, viewer: Applicant, application_id: str
) -> Response:
    actor = viewer_of(viewer).actor
    draft = application_from_form(await request.form(), actor.user_id)
    return await _change(
        context,
        actor,
        application_id,
        lambda db: authorisations.update_application(db, actor, application_id, draft),
    )


@pages.post("/applications/{application_id}/submit")
async def submit(context: Context, viewer: Applicant, application_id: str) -> Response:
    actor = viewer_of(viewer).actor
    return await _change(
        context,
        actor,
        application_id,
        lambda db: authorisations.submit_application(db, actor, application_id),
    )


@pages.post("/applications/{application_id}/decide")
async def decide(
    request: Request, context: Context, viewer: Decider, application_id: str
) -> Response:
    actor = viewer_of(viewer).actor
    form = await request.form()
    kind = _enum(DecisionKind, _text(form, "kind"), "kind")
    conditions = (
        conditions_from_form(form) if kind is DecisionKind.APPROVE_WITH_CONDITIONS else None
    )

    def run() -> None:
        with transaction(context.db) as db:
            readable_application(db, actor, application_id)
            authorisations.decide_application(
                db,
                actor,
                application_id,
                kind,
                _text(form, "reasons"),
                conditions,
                threshold_justification=_text(form, "threshold_justification") or None,
            )

    await _in_thread(run)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@pages.post("/applications/{application_id}/consult")
async def consult(
    request: Request, context: Context, viewer: ChiefOfficer, application_id: str
) -> Response:
    actor = viewer_of(viewer).actor
    form = await request.form()
    outcome = _enum(ConsultationOutcome, _text(form, "outcome"), "outcome")
    comments = _text(form, "comments")
    return await _change(
        context,
        actor,
        application_id,
        lambda db: authorisations.consult_chief_officer(
            db, actor, application_id, outcome, comments
        ),
    )


async def _change(
    context: Context, actor: Actor, application_id: str, change: Callable[[Session], object]
) -> Response:
    """Checks this person may read the application (no IDOR), then makes the change, in one
    transaction off the event loop; back to the application's page."""

    def run() -> None:
        with transaction(context.db) as db:
            readable_application(db, actor, application_id)
            change(db)

    await _in_thread(run)
    return RedirectResponse(f"/applications/{application_id}", status_code=303)


@pages.get("/applications/{application_id}/wad")
def wad_page(request: Request, context: Context, viewer: Reader, application_id: str) -> Response:
    """The Written Authority Document, printable; its SHA-256 is checked on every view."""
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        authority = _authority_of(db, row.id)
        if authority is None:
            raise Refusal("AUTH-5", "this application has no authority", "application")
        wad, digest = authority.wad, authority.wad_sha256
    verify_wad(wad, digest)
    pretty = json.dumps(json.loads(wad), indent=2, ensure_ascii=False)
    return render(
        request,
        "applications/wad.html",
        {
            "wad": pretty,
            "sha256": digest,
            "title": "Written Authority Document",
            "application_id": application_id,
        },
    )


@api.get("")
def api_applications(context: Context, viewer: Reader) -> list[dict[str, Any]]:
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        return [
            {"id": r.id, "title": r.title, "status": r.status.value, "urgent": r.urgent}
            for r in readable_applications(db, actor)
        ]


@api.get("/{application_id}")
def api_application(context: Context, viewer: Reader, application_id: str) -> dict[str, Any]:
    actor = viewer_of(viewer).actor
    with reading(context.db) as db:
        row = readable_application(db, actor, application_id)
        return {
            "id": row.id,
            "status": row.status.value,
            "application": authorisations.application_of(row).to_json(),
        }


def _authority_of(db: Session, application_id: str) -> AuthorityRow | None:
    return db.scalars(
        select(AuthorityRow).where(AuthorityRow.application_id == application_id)
    ).one_or_none()


# --- form parsing: every problem named by its field -----------------------------------------


async def _in_thread(function: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _list(form: FormData, name: str) -> tuple[str, ...]:
    text = _text(form, name)
    return tuple(item.strip() for item in text.replace("\n", ",").split(",") if item.strip())


def _enum(kind: Any, value: str, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise Refusal(
            "AUTH-1", f"choose one of: {', '.join(k.value for k in kind)}", field
        ) from None


def _moment(form: FormData, name: str, problems: list[Unmet]) -> datetime | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        problems.append(Unmet("AUTH-1", f"not a date and time: {text!r}", name))
        return None


def _window(form: FormData, prefix: str, problems: list[Unmet]) -> TimeWindow | None:
    start = _moment(form, f"{prefix}start", problems)
    end = _moment(form, f"{prefix}end", problems)
    if start is None or end is None:
        return None
    try:
        return TimeWindow(start, end)
    except Refusal as refusal:
        problems.extend(refusal.unmet)
        return None


def _categories(form: FormData, name: str) -> frozenset[WatchlistCategory]:
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    return frozenset(_enum(WatchlistCategory, v, name) for v in values)


def application_from_form(form: FormData, applicant_id: str) -> Application:
    problems: list[Unmet] = []
    category = _text(form, "place_category")
    window = _window(form, "window_", problems)
    if problems:
        raise Refusals(problems)
    return Application(
        applicant_id=applicant_id,
        **{name: _text(form, name) for name in TEXT_FIELDS},
        places=_list(form, "places"),
        cameras=_list(form, "cameras"),
        watchlist_categories=_categories(form, "watchlist_categories"),
        place_category=_enum(PlaceCategory, category, "place_category") if category else None,
        window=window,
        urgent=form.get("urgent") == "on",
        urgency_reason=_text(form, "urgency_reason"),
    )


def conditions_from_form(form: FormData) -> Conditions:
    problems: list[Unmet] = []
    size_text = _text(form, "max_watchlist_size")
    threshold_text = _text(form, "alert_threshold")
    size = _number(int, size_text, "max_watchlist_size", problems)
    threshold = _number(float, threshold_text, "alert_threshold", problems)
    window = _window(form, "condition_window_", problems)
    if problems:
        raise Refusals(problems)
    categories = _categories(form, "allowed_categories")
    return Conditions(
        max_watchlist_size=size,
        allowed_categories=categories or None,
        places=_list(form, "condition_places") or None,
        cameras=_list(form, "condition_cameras") or None,
        window=window,
        alert_threshold=threshold,
    )


def _number(kind: Any, text: str, field: str, problems: list[Unmet]) -> Any:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        problems.append(Unmet("AUTH-2", f"not a number: {text!r}", field))
        return None
