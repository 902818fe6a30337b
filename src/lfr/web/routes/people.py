"""Accounts, roles and training records (TRN-1): administrators only, never biometric data.

The people service enforces the rules (administrator only, nobody changes their own roles or
training); these pages only collect the fields and show the refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.people import RoleGrant, TrainingRecord, User
from lfr.db.session import reading, transaction
from lfr.domain.people import BIOMETRIC_ROLES, Actor, Rank, Role
from lfr.services import people
from lfr.web import schemas, signin
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


def _grants(context: Context) -> list[RoleGrant]:
    with reading(context.db) as db:
        grants = people.pending_grants(db)
        db.expunge_all()
    return grants


def _people_page(request: Request, context: Context, **extra: Any) -> Response:
    return render(
        request,
        "people/index.html",
        {
            "accounts": _accounts(context),
            "grants": _grants(context),
            "biometric_roles": BIOMETRIC_ROLES,
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


Reason = Annotated[str, Form(min_length=1, max_length=2000)]


T = TypeVar("T")


def _administer(
    context: Context, viewer: Viewer | None, change: Callable[[Session, Actor], T]
) -> T:
    """Run one administrative change in a transaction as the signed-in administrator."""
    actor = viewer_of(viewer).actor
    with transaction(context.db) as db:
        return change(db, actor)


@pages.post("/people/{user_id}/disable")
def disable_account(
    context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    """Disable an account: its sessions end at once (issue 12)."""
    _administer(context, viewer, lambda db, a: signin.disable_account(db, a, user_id, reason))
    return RedirectResponse("/people", status_code=303)


@pages.post("/people/{user_id}/enable")
def enable_account(context: Context, viewer: AdminViewer, user_id: str, reason: Reason) -> Response:
    _administer(
        context,
        viewer,
        lambda db, a: people.set_active(db, actor=a, user_id=user_id, active=True, reason=reason),
    )
    return RedirectResponse("/people", status_code=303)


@pages.post("/people/{user_id}/roles")
def change_roles(
    context: Context,
    viewer: AdminViewer,
    user_id: str,
    reason: Reason,
    roles: Annotated[list[Role] | None, Form()] = None,
) -> Response:
    """Roles that read biometrics wait for a second administrator (two-person rule)."""
    _administer(
        context,
        viewer,
        lambda db, a: people.set_roles(
            db, actor=a, user_id=user_id, roles=roles or [], reason=reason
        ),
    )
    return RedirectResponse("/people", status_code=303)


@pages.post("/people/{user_id}/password-reset")
def reset_password(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    password = _administer(
        context, viewer, lambda db, a: signin.issue_one_time_password(db, a, user_id, reason)
    )
    return _people_page(request, context, reset={"user_id": user_id, "password": password})


@pages.post("/people/{user_id}/second-factor-reset")
def reset_second_factor(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    password = _administer(
        context, viewer, lambda db, a: signin.reset_second_factor(db, a, user_id, reason)
    )
    return _people_page(request, context, reset={"user_id": user_id, "password": password})


@pages.post("/people/grants/{grant_id}/approve")
def approve_grant(context: Context, viewer: AdminViewer, grant_id: str) -> Response:
    _administer(
        context,
        viewer,
        lambda db, a: people.decide_grant(db, actor=a, grant_id=grant_id, approve=True),
    )
    return RedirectResponse("/people", status_code=303)


@pages.post("/people/grants/{grant_id}/refuse")
def refuse_grant(context: Context, viewer: AdminViewer, grant_id: str, reason: Reason) -> Response:
    _administer(
        context,
        viewer,
        lambda db, a: people.decide_grant(
            db, actor=a, grant_id=grant_id, approve=False, reason=reason
        ),
    )
    return RedirectResponse("/people", status_code=303)


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


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class RolesBody(ReasonBody):
    roles: list[Role] = Field(max_length=len(Role))


class OneTimePasswordOut(BaseModel):
    user_id: str
    one_time_password: str


class AccountOut(BaseModel):
    id: str
    username: str
    active: bool
    roles: list[str]
    pending_roles: list[str]


def _account_out(db: Session, user: User) -> AccountOut:
    pending = [g for g in people.pending_grants(db) if g.user_id == user.id]
    return AccountOut(
        id=user.id,
        username=user.username,
        active=user.active,
        roles=sorted(role.value for role in user.roles),
        pending_roles=sorted({role.value for g in pending for role in g.role_set}),
    )


@api.post(
    "/{user_id}/disable",
    response_model=AccountOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="disable_account",
)
def api_disable(
    context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody
) -> AccountOut:
    """Disable an account; its sessions end at once."""

    def change(db: Session, actor: Actor) -> AccountOut:
        signin.disable_account(db, actor, user_id, body.reason)
        return _account_out(db, people.get_user(db, user_id))

    return _administer(context, viewer, change)


@api.post(
    "/{user_id}/enable",
    response_model=AccountOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="enable_account",
)
def api_enable(context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody) -> AccountOut:
    def change(db: Session, actor: Actor) -> AccountOut:
        user = people.set_active(db, actor=actor, user_id=user_id, active=True, reason=body.reason)
        return _account_out(db, user)

    return _administer(context, viewer, change)


@api.put(
    "/{user_id}/roles",
    response_model=AccountOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="set_roles",
)
def api_set_roles(
    context: Context, viewer: AdminViewer, user_id: str, body: RolesBody
) -> AccountOut:
    """Replace the roles; those that read biometrics are listed as pending until a second
    administrator approves the grant."""

    def change(db: Session, actor: Actor) -> AccountOut:
        user = people.set_roles(
            db, actor=actor, user_id=user_id, roles=body.roles, reason=body.reason
        )
        return _account_out(db, user)

    return _administer(context, viewer, change)


@api.post(
    "/{user_id}/password-reset",
    response_model=OneTimePasswordOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="reset_password",
)
def api_reset_password(
    context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody
) -> OneTimePasswordOut:
    password = _administer(
        context, viewer, lambda db, a: signin.issue_one_time_password(db, a, user_id, body.reason)
    )
    return OneTimePasswordOut(user_id=user_id, one_time_password=password)


@api.post(
    "/{user_id}/second-factor-reset",
    response_model=OneTimePasswordOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="reset_second_factor",
)
def api_reset_second_factor(
    context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody
) -> OneTimePasswordOut:
    password = _administer(
        context, viewer, lambda db, a: signin.reset_second_factor(db, a, user_id, body.reason)
    )
    return OneTimePasswordOut(user_id=user_id, one_time_password=password)


class GrantOut(BaseModel):
    id: str
    user_id: str
    roles: list[str]
    reason: str
    requested_by: str
    approved: bool | None


def _grant_out(grant: RoleGrant) -> GrantOut:
    return GrantOut(
        id=grant.id,
        user_id=grant.user_id,
        roles=sorted(role.value for role in grant.role_set),
        reason=grant.reason,
        requested_by=grant.requested_by,
        approved=grant.approved,
    )


@api.get(
    "/grants",
    response_model=list[GrantOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_role_grants",
)
def api_grants(context: Context, viewer: AdminViewer) -> list[GrantOut]:
    """Role grants awaiting a second administrator."""
    return [_grant_out(grant) for grant in _grants(context)]


@api.post(
    "/grants/{grant_id}/approve",
    response_model=GrantOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="approve_role_grant",
)
def api_approve_grant(context: Context, viewer: AdminViewer, grant_id: str) -> GrantOut:
    return _administer(
        context,
        viewer,
        lambda db, a: _grant_out(people.decide_grant(db, actor=a, grant_id=grant_id, approve=True)),
    )


@api.post(
    "/grants/{grant_id}/refuse",
    response_model=GrantOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="refuse_role_grant",
)
def api_refuse_grant(
    context: Context, viewer: AdminViewer, grant_id: str, body: ReasonBody
) -> GrantOut:
    return _administer(
        context,
        viewer,
        lambda db, a: _grant_out(
            people.decide_grant(db, actor=a, grant_id=grant_id, approve=False, reason=body.reason)
        ),
    )
