"""Accounts, roles and training records (TRN-1): administrators only, never biometric data.

The people service enforces the rules (administrator only, nobody changes their own roles or
training); these pages only collect the fields and show the refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from lfr.db.people import TrainingRecord, User
from lfr.db.session import reading, transaction
from lfr.domain.people import Rank, Role
from lfr.services import people
from lfr.web import schemas
from lfr.web.access import Admit, Viewer, viewer_of
from lfr.web.deps import Context
from lfr.web.rendering import render
from lfr.web.signin import mark_one_time

ADMINISTRATORS = Admit(Role.ADMINISTRATOR)
AdminViewer = Annotated[Viewer | None, Depends(ADMINISTRATORS)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/people", tags=["people"])


def _accounts(context: Context) -> list[tuple[User, list[TrainingRecord]]]:
    with reading(context.db) as db:
        users = list(db.scalars(select(User).order_by(User.username)))
        training = list(db.scalars(select(TrainingRecord).order_by(TrainingRecord.expires_at)))
        db.expunge_all()  # kept loaded for the template after the read transaction ends
    by_user: dict[str, list[TrainingRecord]] = {}
    for record in training:
        by_user.setdefault(record.user_id, []).append(record)
    return [(user, by_user.get(user.id, [])) for user in users]


def _people_page(request: Request, context: Context, **extra: Any) -> Response:
    return render(
        request,
        "people/index.html",
        {
            "accounts": _accounts(context),
            "ranks": list(Rank),
            "roles": list(Role),
            "now": datetime.now(UTC),
            "title": "People",
            **extra,
        },
    )


@pages.get("/people")
def people_page(request: Request, context: Context, viewer: AdminViewer) -> Response:
    return _people_page(request, context)


@pages.post("/people")
def create_account(
    request: Request,
    context: Context,
    viewer: AdminViewer,
    username: Annotated[str, Form(max_length=80)],
    display_name: Annotated[str, Form(max_length=200)],
    rank: Annotated[str, Form(max_length=40)],
    roles: Annotated[list[Role] | None, Form()] = None,
) -> Response:
    actor = viewer_of(viewer).actor
    password = people.generate_password()
    with transaction(context.db) as db:
        user = people.create_user(
            db,
            actor=actor,
            username=username,
            display_name=display_name,
            rank=_rank(rank),
            password=password,
            roles=roles or [],
        )
        mark_one_time(db, user.id)
    return _people_page(
        request,
        context,
        created={"username": user.username, "password": password},
    )


@pages.post("/people/{user_id}/training")
def record_training(
    context: Context,
    viewer: AdminViewer,
    user_id: str,
    role: Annotated[Role, Form()],
    completed_on: Annotated[str, Form(max_length=10)],
    expires_on: Annotated[str, Form(max_length=10)],
) -> Response:
    with transaction(context.db) as db:
        people.record_training(
            db,
            actor=viewer_of(viewer).actor,
            user_id=user_id,
            role=role,
            completed_at=_day(completed_on, "completed_on"),
            expires_at=_day(expires_on, "expires_on"),
        )
    return RedirectResponse("/people", status_code=303)


def _rank(name: str) -> Rank:
    try:
        return Rank[name]
    except KeyError:
        from lfr.domain.refusal import Refusal

        raise Refusal("people.account", f"unknown rank {name!r}", "rank") from None


def _day(text: str, field: str) -> datetime:
    from lfr.domain.refusal import Refusal

    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise Refusal("TRN-1", f"not a date (YYYY-MM-DD): {text!r}", field) from None


@api.get(
    "",
    response_model=list[schemas.PersonOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_people",
)
def api_people(context: Context, viewer: AdminViewer) -> list[dict[str, Any]]:
    """Every account with its roles and training (never a password or second factor)."""
    return [
        {
            **people.user_snapshot(user),
            "id": user.id,
            "training": [
                {"role": r.role.value, "expires_at": r.expires_at.isoformat()} for r in records
            ],
        }
        for user, records in _accounts(context)
    ]
