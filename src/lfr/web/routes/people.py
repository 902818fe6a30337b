"""Accounts, roles and training records (TRN-1): administrators only, never biometric data.

The people service enforces the rules (administrator only, nobody changes their own roles or
training); these pages only collect the fields and show the refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.people import AccountReset, RoleGrant, TrainingRecord, User
from lfr.db.session import reading, transaction
from lfr.domain.people import TWO_PERSON_ROLES, Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.services import people
from lfr.web import schemas, signin
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.labels import field_label
from lfr.web.rendering import render

ADMINISTRATORS = Admit(Role.ADMINISTRATOR)
AdminViewer = Annotated[Viewer, Depends(ADMINISTRATORS)]

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


def _resets(context: Context) -> list[AccountReset]:
    with reading(context.db) as db:
        resets = people.pending_resets(db)
        db.expunge_all()
    return resets


def _people_page(request: Request, context: Context, status: int = 200, **extra: Any) -> Response:
    return render(
        request,
        "people/index.html",
        {
            "accounts": _accounts(context),
            "grants": _grants(context),
            "resets": _resets(context),
            "two_person_roles": TWO_PERSON_ROLES,
            "ranks": list(Rank),
            "roles": list(Role),
            "now": datetime.now(UTC),
            "title": "People",
            **extra,
        },
        status=status,
    )


def _on_page(
    request: Request,
    context: Context,
    viewer: Viewer,
    target: str,
    change: Callable[[Session, Actor], T],
    shown: Callable[[T], dict[str, Any]] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """Run a change from the People page; a refusal is shown beside the form that caused it
    (``target``: the account, grant or reset it was about), in plain words, with what was
    `typed` in that form kept."""
    try:
        result = _administer(context, viewer, change)
    except Refusal as refusal:
        reasons = [unmet.reason for unmet in refusal.unmet]
        refused = {"target": target, "reasons": reasons, "typed": typed or {}}
        return _people_page(request, context, 422, refused=refused)
    if shown is None:
        return RedirectResponse("/people", status_code=303)
    return _people_page(request, context, **shown(result))


def _reset_shown(user_id: str) -> Callable[[people.ResetOutcome], dict[str, Any]]:
    def shown(outcome: people.ResetOutcome) -> dict[str, Any]:
        if outcome.password is None:
            return {"reset_requested": {"user_id": user_id}}
        return {"reset": {"user_id": user_id, "password": outcome.password}}

    return shown


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
    """A new account; a refusal (a name taken, say) stays beside the new-account form with
    what was typed."""
    chosen = roles or []
    typed = {
        "username": username,
        "display_name": display_name,
        "rank": rank,
        "roles": ",".join(role.value for role in chosen),
    }
    return _on_page(
        request,
        context,
        viewer,
        "new-account",
        lambda db, a: _new_account(db, a, username, display_name, rank, chosen),
        lambda made: {"created": {"username": made[0].username, "password": made[1]}},
        typed=typed,
    )


def _new_account(
    db: Session, actor: Actor, username: str, display_name: str, rank: str, roles: list[Role]
) -> tuple[User, str]:
    """An account and its one-time password, shown once; roles that need a second
    administrator wait for one."""
    return people.create_one_time_account(
        db, actor=actor, username=username, display_name=display_name, rank=_rank(rank), roles=roles
    )


Reason = Annotated[str, Form(min_length=1, max_length=2000)]


T = TypeVar("T")


def _administer(context: Context, viewer: Viewer, change: Callable[[Session, Actor], T]) -> T:
    """Run one administrative change in a transaction as the signed-in administrator."""
    actor = viewer.actor
    with transaction(context.db) as db:
        return change(db, actor)


@pages.post("/people/{user_id}/disable")
def disable_account(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    """Disable an account: its sessions end at once (issue 12)."""
    return _on_page(
        request,
        context,
        viewer,
        user_id,
        lambda db, a: signin.disable_account(db, a, user_id, reason),
    )


@pages.post("/people/{user_id}/enable")
def enable_account(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        user_id,
        lambda db, a: people.set_active(db, actor=a, user_id=user_id, active=True, reason=reason),
    )


@pages.post("/people/{user_id}/roles")
def change_roles(
    request: Request,
    context: Context,
    viewer: AdminViewer,
    user_id: str,
    reason: Reason,
    roles: Annotated[list[Role] | None, Form()] = None,
) -> Response:
    """Roles that read biometrics, and administrator, wait for a second administrator."""
    return _on_page(
        request,
        context,
        viewer,
        user_id,
        lambda db, a: people.set_roles(
            db, actor=a, user_id=user_id, roles=roles or [], reason=reason
        ),
    )


@pages.post("/people/{user_id}/password-reset")
def reset_password(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        user_id,
        lambda db, a: signin.reset_sign_in(db, a, user_id, people.ResetKind.PASSWORD, reason),
        _reset_shown(user_id),
    )


@pages.post("/people/{user_id}/second-factor-reset")
def reset_second_factor(
    request: Request, context: Context, viewer: AdminViewer, user_id: str, reason: Reason
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        user_id,
        lambda db, a: signin.reset_sign_in(db, a, user_id, people.ResetKind.SECOND_FACTOR, reason),
        _reset_shown(user_id),
    )


@pages.post("/people/grants/{grant_id}/approve")
def approve_grant(
    request: Request, context: Context, viewer: AdminViewer, grant_id: str
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        grant_id,
        lambda db, a: signin.decide_grant(db, a, grant_id, approve=True),
        _grant_shown,
    )


def _grant_shown(outcome: people.GrantOutcome) -> dict[str, Any]:
    """An approval that issued a new one-time password shows it to the approver, once."""
    if outcome.password is None:
        return {}
    return {"reset": {"user_id": outcome.grant.user_id, "password": outcome.password}}


@pages.post("/people/grants/{grant_id}/refuse")
def refuse_grant(
    request: Request, context: Context, viewer: AdminViewer, grant_id: str, reason: Reason
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        grant_id,
        lambda db, a: signin.decide_grant(db, a, grant_id, approve=False, reason=reason),
    )


@pages.post("/people/resets/{reset_id}/approve")
def approve_reset(
    request: Request, context: Context, viewer: AdminViewer, reset_id: str
) -> Response:
    """The second administrator approves: the one-time password is shown to them, once."""

    def shown(outcome: people.ResetOutcome) -> dict[str, Any]:
        user_id = outcome.request.user_id if outcome.request else ""
        return {"reset": {"user_id": user_id, "password": outcome.password}}

    return _on_page(
        request,
        context,
        viewer,
        reset_id,
        lambda db, a: signin.decide_reset(db, a, reset_id, approve=True),
        shown,
    )


@pages.post("/people/resets/{reset_id}/refuse")
def refuse_reset(
    request: Request, context: Context, viewer: AdminViewer, reset_id: str, reason: Reason
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        reset_id,
        lambda db, a: signin.decide_reset(db, a, reset_id, approve=False, reason=reason),
    )


@pages.post("/people/{user_id}/training")
def record_training(
    request: Request,
    context: Context,
    viewer: AdminViewer,
    user_id: str,
    role: Annotated[Role, Form()],
    completed_on: Annotated[str, Form(max_length=10)],
    expires_on: Annotated[str, Form(max_length=10)],
) -> Response:
    """A training record (TRN-1); a refusal stays beside this account's training form with
    the role and dates as chosen."""
    return _on_page(
        request,
        context,
        viewer,
        f"training-{user_id}",
        lambda db, a: people.record_training(
            db,
            actor=a,
            user_id=user_id,
            role=role,
            completed_at=_day(completed_on, "completed_on"),
            expires_at=_day(expires_on, "expires_on"),
        ),
        typed={"role": role.value, "completed_on": completed_on, "expires_on": expires_on},
    )


def _rank(name: str) -> Rank:
    """A rank by its name, in any case (`lfr users add --rank` writes them in lower case)."""
    try:
        return Rank[name.strip().upper()]
    except KeyError:
        ranks = ", ".join(rank.name for rank in Rank)
        raise Refusal("people.account", f"unknown rank {name!r}: one of {ranks}", "rank") from None


def _day(text: str, field: str) -> datetime:
    from lfr.domain.refusal import Refusal

    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise Refusal(
            "TRN-1", f"{field_label(field).lower()} is not a date: choose a day", field
        ) from None


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


class ReasonBody(schemas.Schema):
    reason: str = Field(min_length=1, max_length=2000)


class RolesBody(ReasonBody):
    roles: list[Role] = Field(max_length=len(Role))


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


class AccountIn(schemas.Schema):
    """A new account. Its first password is made here and shown once, to the administrator
    who creates it, to give in person; roles that read biometrics or administer wait for a
    second administrator."""

    username: str = Field(min_length=1, max_length=80)
    display_name: str = Field(min_length=1, max_length=200)
    rank: str = Field(
        max_length=40, description="A rank's name: " + ", ".join(rank.name for rank in Rank)
    )
    roles: list[Role] = Field(default_factory=list, max_length=len(Role))


class CreatedAccountOut(AccountOut):
    one_time_password: str = Field(
        description="The account's first password, shown once: its holder changes it and "
        "enrols a second factor at first sign-in."
    )


@api.post(
    "",
    response_model=CreatedAccountOut,
    status_code=201,
    responses=schemas.CHANGE_ERRORS,
    operation_id="create_account",
)
def api_create_account(context: Context, viewer: AdminViewer, body: AccountIn) -> CreatedAccountOut:
    """Create an account, as the People page does (held-back roles listed as pending)."""

    def change(db: Session, actor: Actor) -> CreatedAccountOut:
        user, password = _new_account(
            db, actor, body.username, body.display_name, body.rank, body.roles
        )
        return CreatedAccountOut(**_account_out(db, user).model_dump(), one_time_password=password)

    return _administer(context, viewer, change)


class TrainingRecordIn(schemas.Schema):
    role: Role
    completed_on: date
    expires_on: date


class TrainingRecordOut(TrainingRecordIn):
    user_id: str


@api.post(
    "/{user_id}/training",
    response_model=TrainingRecordOut,
    status_code=201,
    responses=schemas.CHANGE_ERRORS,
    operation_id="record_training",
)
def api_record_training(
    context: Context, viewer: AdminViewer, user_id: str, body: TrainingRecordIn
) -> TrainingRecordOut:
    """A training record (TRN-1), as the People page's training form makes it."""

    def change(db: Session, actor: Actor) -> TrainingRecordOut:
        people.record_training(
            db,
            actor=actor,
            user_id=user_id,
            role=body.role,
            completed_at=datetime.combine(body.completed_on, time(), UTC),
            expires_at=datetime.combine(body.expires_on, time(), UTC),
        )
        return TrainingRecordOut(user_id=user_id, **body.model_dump())

    return _administer(context, viewer, change)


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


class ResetRequestOut(BaseModel):
    """A password or second-factor reset awaiting (or decided by) a second administrator."""

    id: str
    user_id: str
    kind: people.ResetKind
    reason: str
    requested_by: str
    approved: bool | None


class ResetOut(BaseModel):
    """A reset: done now (``one_time_password``, shown once, for the holder), or, for a
    holder of a role that reads biometrics or administers, ``pending`` until a second
    administrator approves it (``POST /api/people/resets/{id}/approve``)."""

    user_id: str
    one_time_password: str | None
    pending: ResetRequestOut | None


def _reset_request_out(request: AccountReset) -> ResetRequestOut:
    return ResetRequestOut(
        id=request.id,
        user_id=request.user_id,
        kind=people.ResetKind(request.kind),
        reason=request.reason,
        requested_by=request.requested_by,
        approved=request.approved,
    )


def _reset_out(user_id: str, outcome: people.ResetOutcome) -> ResetOut:
    request = outcome.request
    pending = request if request is not None and request.decided_at is None else None
    return ResetOut(
        user_id=user_id,
        one_time_password=outcome.password,
        pending=_reset_request_out(pending) if pending is not None else None,
    )


def _api_reset(
    context: Context, viewer: Viewer, user_id: str, kind: people.ResetKind, reason: str
) -> ResetOut:
    return _administer(
        context,
        viewer,
        lambda db, a: _reset_out(user_id, signin.reset_sign_in(db, a, user_id, kind, reason)),
    )


@api.post(
    "/{user_id}/password-reset",
    response_model=ResetOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="reset_password",
)
def api_reset_password(
    context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody
) -> ResetOut:
    """A new one-time password now, or a request for a second administrator (two-person
    role holders)."""
    return _api_reset(context, viewer, user_id, people.ResetKind.PASSWORD, body.reason)


@api.post(
    "/{user_id}/second-factor-reset",
    response_model=ResetOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="reset_second_factor",
)
def api_reset_second_factor(
    context: Context, viewer: AdminViewer, user_id: str, body: ReasonBody
) -> ResetOut:
    """Remove the second factor with a new one-time password now, or a request for a second
    administrator (two-person role holders)."""
    return _api_reset(context, viewer, user_id, people.ResetKind.SECOND_FACTOR, body.reason)


@api.get(
    "/resets",
    response_model=list[ResetRequestOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_reset_requests",
)
def api_resets(context: Context, viewer: AdminViewer) -> list[ResetRequestOut]:
    """Password and second-factor resets awaiting a second administrator."""
    return [_reset_request_out(request) for request in _resets(context)]


class ResetDecisionOut(BaseModel):
    request: ResetRequestOut
    one_time_password: str | None
    """On approval: the holder's one-time password, shown to the approver once."""


def _decision_out(outcome: people.ResetOutcome) -> ResetDecisionOut:
    assert outcome.request is not None
    return ResetDecisionOut(
        request=_reset_request_out(outcome.request), one_time_password=outcome.password
    )


@api.post(
    "/resets/{reset_id}/approve",
    response_model=ResetDecisionOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="approve_reset_request",
)
def api_approve_reset(context: Context, viewer: AdminViewer, reset_id: str) -> ResetDecisionOut:
    """A second administrator (not the requester, nor the account's creator or holder)
    approves: the reset is done and its one-time password returned, once."""
    return _decide_reset(context, viewer, reset_id, approve=True)


@api.post(
    "/resets/{reset_id}/refuse",
    response_model=ResetDecisionOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="refuse_reset_request",
)
def api_refuse_reset(
    context: Context, viewer: AdminViewer, reset_id: str, body: ReasonBody
) -> ResetDecisionOut:
    return _decide_reset(context, viewer, reset_id, approve=False, reason=body.reason)


def _decide_reset(
    context: Context, viewer: Viewer, reset_id: str, *, approve: bool, reason: str = ""
) -> ResetDecisionOut:
    return _administer(
        context,
        viewer,
        lambda db, a: _decision_out(
            signin.decide_reset(db, a, reset_id, approve=approve, reason=reason)
        ),
    )


class GrantOut(BaseModel):
    id: str
    user_id: str
    roles: list[str]
    reason: str
    requested_by: str
    approved: bool | None
    one_time_password: str | None = Field(
        default=None,
        description="On approval of a role that reads biometrics or administers, for an "
        "account whose password was still a one-time one: its new one-time password, shown "
        "to the approver once (the one its creator or resetter was shown no longer works).",
    )


def _grant_out(grant: RoleGrant, password: str | None = None) -> GrantOut:
    return GrantOut(
        id=grant.id,
        user_id=grant.user_id,
        roles=sorted(role.value for role in grant.role_set),
        reason=grant.reason,
        requested_by=grant.requested_by,
        approved=grant.approved,
        one_time_password=password,
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
    return _decide_grant(context, viewer, grant_id, approve=True)


@api.post(
    "/grants/{grant_id}/refuse",
    response_model=GrantOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="refuse_role_grant",
)
def api_refuse_grant(
    context: Context, viewer: AdminViewer, grant_id: str, body: ReasonBody
) -> GrantOut:
    return _decide_grant(context, viewer, grant_id, approve=False, reason=body.reason)


def _decide_grant(
    context: Context, viewer: Viewer, grant_id: str, *, approve: bool, reason: str = ""
) -> GrantOut:
    return _administer(
        context,
        viewer,
        lambda db, a: _decided_grant_out(
            signin.decide_grant(db, a, grant_id, approve=approve, reason=reason)
        ),
    )


def _decided_grant_out(outcome: people.GrantOutcome) -> GrantOut:
    return _grant_out(outcome.grant, outcome.password)
