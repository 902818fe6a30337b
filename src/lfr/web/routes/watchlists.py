"""The watchlist builder (WL-1..6): one watchlist per authority, entries with their subject
reference, category, reason, image source and the compiler's attestations, images checked
on upload by the engine's enrolment gate (WL-5) with the reason shown at once.

Uploads: JPEG or PNG only, each within the request size limit; anything else is refused
with a message naming the file and why, and nothing is stored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from lfr.db.governance import AuthorityRow, WatchlistRow
from lfr.db.session import reading, transaction
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.domain.watchlist import EntryDraft
from lfr.services import watchlist_import, watchlists
from lfr.services.access import readable_watchlist, readable_watchlists
from lfr.services.authorisations import authorities_in_force
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.authority_view import authority_terms
from lfr.web.deps import Context
from lfr.web.forms import shown_on_form
from lfr.web.rendering import render

IMAGE_TYPES = {"image/jpeg", "image/png"}
Compiler = Annotated[Viewer, Depends(Admit(Role.APPLICANT))]
Reader = Annotated[Viewer, Depends(Admit(Role.APPLICANT, Role.REVIEWER))]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/watchlists", tags=["watchlists"])


@pages.get("/watchlists")
def watchlists_page(request: Request, context: Context, viewer: Reader) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        authorities = [
            {
                "id": a.id,
                "title": a.application.title,
                "watchlist": watchlists.watchlist_for_authority(db, a.id),
            }
            for a in authorities_in_force(db, policy=context.policy)
            if a.application.applicant_id == actor.user_id or actor.has(Role.REVIEWER)
        ]
        db.expunge_all()
    return render(
        request, "watchlists/index.html", {"authorities": authorities, "title": "Watchlists"}
    )


@pages.post("/watchlists")
def create_watchlist(
    context: Context, viewer: Compiler, authority_id: Annotated[str, Form(max_length=64)]
) -> Response:
    with transaction(context.db) as db:
        row = watchlists.create_watchlist(db, viewer.actor, authority_id, policy=context.policy)
    return RedirectResponse(f"/watchlists/{row.id}", status_code=303)


@pages.get("/watchlists/{watchlist_id}")
def watchlist_page(
    request: Request, context: Context, viewer: Reader, watchlist_id: str
) -> Response:
    actor = viewer.actor
    with reading(context.db) as db:
        row = readable_watchlist(db, actor, watchlist_id)
        entries = [
            {
                "id": e.id,
                "reference": e.subject_reference,
                "category": e.category.label,
                "reason": e.reason,
                "source": e.image_source,
                "qualities": [image.quality_score for image in e.images],
                "added_at": e.added_at,
            }
            for e in row.entries
        ]
        summary = _summary(row)
        authority = db.get(AuthorityRow, row.authority_id)
        assert authority is not None  # a watchlist always belongs to an authority (WL-1)
        terms = authority_terms(db, authority, context.recognition_settings)
        application_id = authority.application_id
    return render(
        request,
        "watchlists/detail.html",
        {
            "watchlist": summary,
            "entries": entries,
            "terms": terms,
            "application_id": application_id,
            "categories": terms.categories,
            "title": "Watchlist",
        },
    )


def _summary(row: WatchlistRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "sealed_at": row.sealed_at,
        "created_at": row.created_at,
        "destroyed_at": row.biometrics_destroyed_at,
    }


async def read_images(files: list[UploadFile], field: str = "images") -> list[bytes]:
    """The uploaded images; refuses (naming each file) any that is not JPEG or PNG."""
    if len(files) > watchlists.MAX_IMAGES_PER_REQUEST:
        raise Refusal(
            "WL-5", f"at most {watchlists.MAX_IMAGES_PER_REQUEST} images per request", field
        )
    problems: list[Unmet] = []
    images: list[bytes] = []
    for index, upload in enumerate(files):
        name = upload.filename or f"{field}[{index}]"
        if upload.content_type not in IMAGE_TYPES:
            problems.append(
                Unmet("WL-5", f"{upload.content_type or 'unknown type'} is not JPEG or PNG", name)
            )
            continue
        images.append(await upload.read())
    if problems:
        raise Refusals(problems)
    return images


@pages.post("/watchlists/check-image")
async def check_image(
    request: Request,
    context: Context,
    viewer: Compiler,
    images: Annotated[list[UploadFile], File()],
) -> Response:
    """Instant feedback (WL-5): would the enrolment gate accept each image, and why not.
    Nothing is stored."""
    results = await _check_images(context, images)
    return render(request, "watchlists/check.html", {"results": results})


async def _check_images(context: Context, images: list[UploadFile]) -> list[schemas.ImageCheckOut]:
    if len(images) > watchlists.MAX_IMAGES_PER_REQUEST:
        raise Refusal(
            "WL-5", f"at most {watchlists.MAX_IMAGES_PER_REQUEST} images per request", "images"
        )
    return [await _check_one(context, upload) for upload in images]


async def _check_one(context: Context, upload: UploadFile) -> schemas.ImageCheckOut:
    import asyncio

    name = upload.filename or "image"
    try:
        data = (await read_images([upload], "image"))[0]
        enrolment = await asyncio.to_thread(context.enroler().enrol, data, name)
    except Refusal as refusal:
        return schemas.ImageCheckOut(
            name=name, usable=False, quality=None, reasons=[u.reason for u in refusal.unmet]
        )
    return schemas.ImageCheckOut(
        name=name, usable=True, quality=round(enrolment.quality_score, 3), reasons=[]
    )


@pages.post("/watchlists/{watchlist_id}/entries")
@shown_on_form()
async def add_entry(
    request: Request,
    context: Context,
    viewer: Compiler,
    watchlist_id: str,
    subject_reference: Annotated[str, Form(max_length=64)],
    category: Annotated[str, Form(max_length=40)],
    reason: Annotated[str, Form(max_length=4000)],
    image_source: Annotated[str, Form(max_length=2000)],
    images: Annotated[list[UploadFile], File()],
    attests_image_is_subject: Annotated[bool, Form()] = False,
    attests_still_of_interest: Annotated[bool, Form()] = False,
    date_of_birth: Annotated[str, Form(max_length=10)] = "",
    under_18_justification: Annotated[str, Form(max_length=4000)] = "",
) -> Response:

    draft = EntryDraft(
        subject_reference=subject_reference,
        category=watchlist_import.category_from_text(category),
        reason=reason,
        image_source=image_source,
        attests_image_is_subject=attests_image_is_subject,
        attests_still_of_interest=attests_still_of_interest,
        date_of_birth=watchlist_import.date_from_text(date_of_birth),
        under_18_justification=under_18_justification,
    )
    await _add(context, viewer.actor, watchlist_id, draft, images)
    return RedirectResponse(f"/watchlists/{watchlist_id}", status_code=303)


async def _add(
    context: Context,
    actor: Actor,
    watchlist_id: str,
    draft: EntryDraft,
    images: list[UploadFile],
) -> schemas.EntryOut:
    """One entry with its images, each through the enrolment gate (WL-3..5)."""
    import asyncio

    data = await read_images(images)
    _require_readable(context, actor, watchlist_id)  # before spending seconds on images
    prepared = await asyncio.to_thread(watchlists.prepare_enrolments, context.enroler(), data)

    def add() -> schemas.EntryOut:
        with transaction(context.db) as db:
            readable_watchlist(db, actor, watchlist_id)
            row = watchlists.add_entry(db, actor, watchlist_id, draft, data, prepared)
            return schemas.entry_out(row)

    return await asyncio.to_thread(add)


@pages.post("/watchlists/{watchlist_id}/entries/{entry_id}/remove")
def remove_entry(
    context: Context,
    viewer: Compiler,
    watchlist_id: str,
    entry_id: str,
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    """The compiling officer takes an entry off an unsealed watchlist, saying why (WL-3)."""
    _remove(context, viewer.actor, watchlist_id, entry_id, reason)
    return RedirectResponse(f"/watchlists/{watchlist_id}", status_code=303)


def _remove(context: Context, actor: Actor, watchlist_id: str, entry_id: str, reason: str) -> None:
    with transaction(context.db) as db:
        readable_watchlist(db, actor, watchlist_id)
        watchlists.remove_entry(db, actor, watchlist_id, entry_id, reason)


def _require_readable(context: Context, actor: Actor, watchlist_id: str) -> None:
    with reading(context.db) as db:
        readable_watchlist(db, actor, watchlist_id)


@pages.post("/watchlists/{watchlist_id}/import")
@shown_on_form()
async def bulk_import(
    request: Request,
    context: Context,
    viewer: Compiler,
    watchlist_id: str,
    table: Annotated[UploadFile, File()],
    images: Annotated[list[UploadFile], File()],
    attests_image_is_subject: Annotated[bool, Form()] = False,
    attests_still_of_interest: Annotated[bool, Form()] = False,
) -> Response:
    """A CSV (one row per subject, naming its image files) plus the images: every row is
    checked as a single entry would be; all are added, or none (the refusal lists every
    problem by row)."""
    attests = (attests_image_is_subject, attests_still_of_interest)
    await _import(context, viewer.actor, watchlist_id, table, images, attests)
    return RedirectResponse(f"/watchlists/{watchlist_id}", status_code=303)


async def _import(
    context: Context,
    actor: Actor,
    watchlist_id: str,
    table: UploadFile,
    images: list[UploadFile],
    attests: tuple[bool, bool],
) -> None:
    """The bulk import behind the page and the API (WL-3..5): every row checked, then added
    in short transactions (`lfr.services.watchlist_import`)."""
    import asyncio

    uploaded = dict(zip([u.filename or "" for u in images], await read_images(images), strict=True))
    rows = watchlist_import.parse_import(
        await table.read(),
        table.filename or "table.csv",
        attests_image_is_subject=attests[0],
        attests_still_of_interest=attests[1],
    )
    _require_readable(context, actor, watchlist_id)  # before spending seconds on images
    prepared = await asyncio.to_thread(
        watchlists.prepare_enrolments, context.enroler(), list(uploaded.values())
    )

    await asyncio.to_thread(
        watchlist_import.import_entries, context.db, actor, watchlist_id, rows, uploaded, prepared
    )


# --- the JSON API ------------------------------------------------------------------------------


def _read(context: Context, actor: Actor, watchlist_id: str) -> schemas.WatchlistOut:
    with reading(context.db) as db:
        return schemas.watchlist_out(readable_watchlist(db, actor, watchlist_id))


@api.get(
    "",
    response_model=list[schemas.WatchlistOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_watchlists",
)
def api_watchlists(context: Context, viewer: Reader) -> list[schemas.WatchlistOut]:
    """The watchlists this person compiled (reviewers: every one)."""
    actor = viewer.actor
    with reading(context.db) as db:
        return [schemas.watchlist_out(row) for row in readable_watchlists(db, actor)]


@api.post(
    "",
    status_code=201,
    response_model=schemas.WatchlistOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="create_watchlist",
)
def api_create_watchlist(
    context: Context, viewer: Compiler, body: schemas.WatchlistIn, response: Response
) -> schemas.WatchlistOut:
    """The one watchlist of an authority in force, compiled by its applicant (WL-1, WL-3)."""
    with transaction(context.db) as db:
        row = watchlists.create_watchlist(
            db, viewer.actor, body.authority_id, policy=context.policy
        )
        answer = schemas.watchlist_out(row)
    response.headers["Location"] = f"/api/watchlists/{answer.id}"
    return answer


@api.get(
    "/{watchlist_id}",
    response_model=schemas.WatchlistOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_watchlist",
)
def api_watchlist(context: Context, viewer: Reader, watchlist_id: str) -> schemas.WatchlistOut:
    """The watchlist's entries (never their images) and its blue list."""
    return _read(context, viewer.actor, watchlist_id)


@api.post(
    "/{watchlist_id}/entries",
    status_code=201,
    response_model=schemas.EntryOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="add_watchlist_entry",
)
async def api_add_entry(
    context: Context,
    viewer: Compiler,
    watchlist_id: str,
    response: Response,
    subject_reference: Annotated[str, Form(max_length=64)],
    category: Annotated[WatchlistCategory, Form()],
    reason: Annotated[str, Form(max_length=4000)],
    image_source: Annotated[str, Form(max_length=2000)],
    images: Annotated[list[UploadFile], File(description="JPEG or PNG, one face each")],
    attests_image_is_subject: Annotated[bool, Form()] = False,
    attests_still_of_interest: Annotated[bool, Form()] = False,
    date_of_birth: Annotated[date | None, Form()] = None,
    under_18_justification: Annotated[str, Form(max_length=4000)] = "",
) -> schemas.EntryOut:
    """Add a subject with their image(s), multipart (WL-3..5): each image passes the
    engine's enrolment gate or the refusal names it and why; nothing is stored then."""
    draft = EntryDraft(
        subject_reference=subject_reference,
        category=category,
        reason=reason,
        image_source=image_source,
        attests_image_is_subject=attests_image_is_subject,
        attests_still_of_interest=attests_still_of_interest,
        date_of_birth=date_of_birth,
        under_18_justification=under_18_justification,
    )
    answer = await _add(context, viewer.actor, watchlist_id, draft, images)
    response.headers["Location"] = f"/api/watchlists/{watchlist_id}"
    return answer


@api.post(
    "/check-image",
    response_model=list[schemas.ImageCheckOut],
    responses=schemas.CHANGE_ERRORS,
    operation_id="check_watchlist_images",
)
async def api_check_images(
    context: Context,
    viewer: Compiler,
    images: Annotated[list[UploadFile], File(description="JPEG or PNG, one face each")],
) -> list[schemas.ImageCheckOut]:
    """Would the enrolment gate accept each image (WL-5): its quality, or the reasons it
    would not. Nothing is stored; the same check runs again when the entry is added."""
    return await _check_images(context, images)


@api.post(
    "/{watchlist_id}/import",
    status_code=201,
    response_model=schemas.WatchlistOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="import_watchlist_entries",
)
async def api_bulk_import(
    context: Context,
    viewer: Compiler,
    watchlist_id: str,
    response: Response,
    table: Annotated[
        UploadFile,
        File(
            description=(
                "UTF-8 CSV with a header: subject_reference, category, reason, image_source, "
                "image (the file name; several separated by ';'), optionally date_of_birth "
                "(YYYY-MM-DD) and under_18_justification"
            )
        ),
    ],
    images: Annotated[list[UploadFile], File(description="the JPEG or PNG files the CSV names")],
    attests_image_is_subject: Annotated[bool, Form()] = False,
    attests_still_of_interest: Annotated[bool, Form()] = False,
) -> schemas.WatchlistOut:
    """Add many subjects at once, multipart (WL-3..5): every row is checked as a single
    entry is; all rows are added, or none, and the refusal names each problem by row
    (`row 3 category`, `row 4 side.jpg`). The attestations apply to every row."""
    actor = viewer.actor
    attests = (attests_image_is_subject, attests_still_of_interest)
    await _import(context, actor, watchlist_id, table, images, attests)
    response.headers["Location"] = f"/api/watchlists/{watchlist_id}"
    return _read(context, actor, watchlist_id)


@api.post(
    "/{watchlist_id}/entries/{entry_id}/remove",
    response_model=schemas.WatchlistOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="remove_watchlist_entry",
)
def api_remove_entry(
    context: Context, viewer: Compiler, watchlist_id: str, entry_id: str, body: schemas.Reason
) -> schemas.WatchlistOut:
    """Take an entry and its images off an unsealed watchlist, saying why (WL-3)."""
    actor = viewer.actor
    _remove(context, actor, watchlist_id, entry_id, body.reason)
    return _read(context, actor, watchlist_id)
