"""Sign-in pages: password, second factor, one-time password change, sign-out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from lfr.db.session import transaction
from lfr.db.web_sessions import SessionStage
from lfr.domain.refusal import Refusal
from lfr.services import people
from lfr.web import schemas
from lfr.web.access import Admit, Identity, RequestIdentity, Viewer
from lfr.web.context import WebContext
from lfr.web.deps import Context, set_session_cookie
from lfr.web.rendering import render
from lfr.web.sessions import COOKIE_NAME, SessionView
from lfr.web.signin import (
    Advanced,
    SignInRefusedError,
    change_one_time_password,
    enrolment_secret,
    password_step,
    provisioning_uri,
    second_factor_step,
)

router = APIRouter(include_in_schema=False)
PUBLIC = Depends(Admit.public_route())
SignedIn = Annotated[Viewer, Depends(Admit.signed_in())]


def _safe_next(next_path: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return "/"


def _stage_page(stage: SessionStage, next_path: str) -> str:
    return {
        SessionStage.SECOND_FACTOR: "/sign-in/second-factor",
        SessionStage.PASSWORD_CHANGE: "/account/password",
    }.get(stage, next_path)


def _go(request: Request, advanced: Advanced, next_path: str) -> Response:
    response = RedirectResponse(_stage_page(advanced.session.stage, next_path), status_code=303)
    set_session_cookie(request, response, advanced.token)
    response.set_cookie("lfr_next", next_path, httponly=True, samesite="lax", max_age=900)
    return response


@router.get("/sign-in", dependencies=[PUBLIC])
def sign_in_page(
    request: Request, context: Context, identity: Identity, next: str = "/"
) -> Response:
    if identity.signed_in:
        return RedirectResponse(_safe_next(next), status_code=303)
    token: str | None = None
    view = identity.session
    if view is None or view.stage is not SessionStage.ANONYMOUS:
        with transaction(context.db) as db:
            if view is not None:
                context.sessions.end(db, view)
            context.sessions.purge_expired(db)  # anonymous sessions are made here: tidy here
            token, view = context.sessions.create(db, user_id=None, stage=SessionStage.ANONYMOUS)
    return _sign_in_form(request, view, token, next_path=_safe_next(next))


def _sign_in_form(
    request: Request,
    view: SessionView,
    token: str | None,
    *,
    next_path: str,
    error: str | None = None,
    username: str = "",
) -> Response:
    request.state.identity = RequestIdentity(session=view, actor=None)
    response = render(
        request,
        "auth/sign_in.html",
        {"next_path": next_path, "error": error, "username": username, "title": "Sign in"},
        status=401 if error else 200,
    )
    if token is not None:
        set_session_cookie(request, response, token)
    return response


@router.post("/sign-in", dependencies=[PUBLIC])
def sign_in(
    request: Request,
    context: Context,
    identity: Identity,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    view = identity.session
    assert view is not None  # the CSRF check refuses a request without a session
    client = request.client.host if request.client else None
    with transaction(context.db) as db:
        try:
            advanced = password_step(
                db,
                context.sessions,
                context.throttle,
                view,
                username=username,
                password=password,
                client=client,
                lock=context.account_lock,
            )
        except SignInRefusedError as refused:
            error = str(refused)
        else:
            return _go(request, advanced, _safe_next(next))
    return _sign_in_form(
        request, view, None, next_path=_safe_next(next), error=error, username=username
    )


def _pending_user(identity: Identity, stage: SessionStage) -> tuple[SessionView, str]:
    view = identity.session
    if view is None or view.stage is not stage or view.user_id is None:
        raise SignInRefusedError("start again from the sign-in page")
    return view, view.user_id


@router.get("/sign-in/second-factor", dependencies=[PUBLIC])
def second_factor_page(request: Request, context: Context, identity: Identity) -> Response:
    try:
        _view, user_id = _pending_user(identity, SessionStage.SECOND_FACTOR)
    except SignInRefusedError:
        return RedirectResponse("/sign-in", status_code=303)
    return _second_factor_form(request, context, user_id)


def _second_factor_form(
    request: Request, context: WebContext, user_id: str, error: str | None = None
) -> Response:
    with transaction(context.db) as db:
        user = people.get_user(db, user_id)
        secret = enrolment_secret(db, user)
        uri = provisioning_uri(user, secret) if secret else None
    return render(
        request,
        "auth/second_factor.html",
        {
            "enrolment_secret": secret,
            "enrolment_uri": uri,
            "error": error,
            "title": "Second factor",
        },
        status=401 if error else 200,
    )


@router.post("/sign-in/second-factor", dependencies=[PUBLIC])
def second_factor(
    request: Request,
    context: Context,
    identity: Identity,
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    try:
        view, user_id = _pending_user(identity, SessionStage.SECOND_FACTOR)
    except SignInRefusedError:
        return RedirectResponse("/sign-in", status_code=303)
    with transaction(context.db) as db:
        user = people.get_user(db, user_id)
        try:
            advanced = second_factor_step(db, context.sessions, context.throttle, view, user, code)
        except SignInRefusedError as refused:
            error = str(refused)
        else:
            return _go(request, advanced, _safe_next(request.cookies.get("lfr_next")))
    return _second_factor_form(request, context, user_id, error)


@router.get("/account/password", dependencies=[PUBLIC])
def password_page(request: Request, identity: Identity) -> Response:
    if identity.session is None or identity.session.stage is not SessionStage.PASSWORD_CHANGE:
        return RedirectResponse("/sign-in", status_code=303)
    return render(request, "auth/change_password.html", {"title": "New password"})


@router.post("/account/password", dependencies=[PUBLIC])
def change_password(
    request: Request,
    context: Context,
    identity: Identity,
    new_password: Annotated[str, Form(max_length=1000)],
    repeat: Annotated[str, Form(max_length=1000)],
) -> Response:
    view = identity.session
    if view is None or view.stage is not SessionStage.PASSWORD_CHANGE or identity.actor is None:
        return RedirectResponse("/sign-in", status_code=303)
    try:
        with transaction(context.db) as db:
            advanced = change_one_time_password(
                db, context.sessions, view, identity.actor, new_password, repeat
            )
    except Refusal as refusal:
        return render(
            request,
            "auth/change_password.html",
            {"error": refusal.reason, "title": "New password"},
            status=422,
        )
    return _go(request, advanced, _safe_next(request.cookies.get("lfr_next")))


@router.post("/sign-out", dependencies=[Depends(Admit.signed_in())])
def sign_out(request: Request, context: Context, identity: Identity) -> Response:
    if identity.session is not None:
        with transaction(context.db) as db:
            context.sessions.end(db, identity.session)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# --- the JSON sign-in, for scripts ---------------------------------------------------------------

api = APIRouter(prefix="/api/session", tags=["account"])
SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Problems, "description": "Refused (`rule`: sign-in); say why."},
    403: {
        "model": schemas.Problems,
        "description": "No session opened by `GET /api/session`, or its CSRF token missing "
        "(`rule`: access).",
    },
    **schemas.PUBLIC_ERRORS,
    **schemas.BODY_ERRORS,
}


def _state(
    request: Request, context: WebContext, advanced: Advanced | None, view: SessionView
) -> JSONResponse:
    """The session's stage and CSRF token as JSON; a new cookie when the session advanced."""
    uri = None
    if view.stage is SessionStage.SECOND_FACTOR and view.user_id is not None:
        with transaction(context.db) as db:
            user = people.get_user(db, view.user_id)
            secret = enrolment_secret(db, user)
            uri = provisioning_uri(user, secret) if secret else None
    state = schemas.SignInState(
        stage=view.stage.value, csrf_token=view.csrf_token, enrolment_uri=uri
    )
    response = JSONResponse(state.model_dump(mode="json"))
    if advanced is not None:
        set_session_cookie(request, response, advanced.token)
    return response


def _refused(message: str) -> JSONResponse:
    return schemas.problems_response(401, [{"rule": "sign-in", "field": None, "reason": message}])


@api.get(
    "",
    response_model=schemas.SignInState,
    operation_id="get_session",
    dependencies=[PUBLIC],
)
def api_session(request: Request, context: Context, identity: Identity) -> JSONResponse:
    """Where this session stands; opens an anonymous one (cookie and CSRF token) if there
    is none, which the password step then needs."""
    view = identity.session
    if view is not None:
        return _state(request, context, None, view)
    with transaction(context.db) as db:
        context.sessions.purge_expired(db)
        token, view = context.sessions.create(db, user_id=None, stage=SessionStage.ANONYMOUS)
    return _state(request, context, Advanced(token, view), view)


@api.post(
    "",
    response_model=schemas.SignInState,
    responses=SIGN_IN_ERRORS,
    operation_id="sign_in_password",
    dependencies=[PUBLIC],
)
def api_sign_in(
    request: Request, context: Context, identity: Identity, body: schemas.PasswordStep
) -> JSONResponse:
    """The password step; then `second_factor` (deciding and commanding roles),
    `password_change` (a one-time password) or `signed_in`."""
    view = identity.session
    assert view is not None  # the CSRF check refuses a request without a session
    client = request.client.host if request.client else None
    with transaction(context.db) as db:
        try:
            advanced = password_step(
                db,
                context.sessions,
                context.throttle,
                view,
                username=body.username,
                password=body.password,
                client=client,
                lock=context.account_lock,
            )
        except SignInRefusedError as refused:
            return _refused(str(refused))
    return _state(request, context, advanced, advanced.session)


@api.post(
    "/second-factor",
    response_model=schemas.SignInState,
    responses=SIGN_IN_ERRORS,
    operation_id="sign_in_second_factor",
    dependencies=[PUBLIC],
)
def api_second_factor(
    request: Request, context: Context, identity: Identity, body: schemas.CodeStep
) -> JSONResponse:
    """The current TOTP code (the first right one enrols the factor shown at `enrolment_uri`)."""
    try:
        view, user_id = _pending_user(identity, SessionStage.SECOND_FACTOR)
    except SignInRefusedError as refused:
        return _refused(str(refused))
    with transaction(context.db) as db:
        user = people.get_user(db, user_id)
        try:
            advanced = second_factor_step(
                db, context.sessions, context.throttle, view, user, body.code
            )
        except SignInRefusedError as refused:
            return _refused(str(refused))
    return _state(request, context, advanced, advanced.session)


@api.post(
    "/password",
    response_model=schemas.SignInState,
    responses=SIGN_IN_ERRORS,
    operation_id="sign_in_new_password",
    dependencies=[PUBLIC],
)
def api_new_password(
    request: Request, context: Context, identity: Identity, body: schemas.NewPassword
) -> JSONResponse:
    """Replace a one-time password; the session is then signed in."""
    view = identity.session
    if view is None or view.stage is not SessionStage.PASSWORD_CHANGE or identity.actor is None:
        return _refused("start again from the password step")
    with transaction(context.db) as db:
        advanced = change_one_time_password(
            db, context.sessions, view, identity.actor, body.new_password, body.repeat
        )
    return _state(request, context, advanced, advanced.session)


@api.delete(
    "",
    status_code=204,
    operation_id="sign_out",
    responses=schemas.SIGNED_IN_ERRORS,
)
def api_sign_out(context: Context, viewer: SignedIn) -> Response:
    """End this session."""
    with transaction(context.db) as db:
        context.sessions.end(db, viewer.session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
