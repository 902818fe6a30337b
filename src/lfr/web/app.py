"""The FastAPI application factory: pages (Jinja2 + htmx) and the JSON API under /api.

Every state-changing request must carry its session's CSRF token (form field `csrf_token`
or header `X-CSRF-Token`); every route declares the roles it admits (`lfr.web.access`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lfr.db.session import unanswered_reason
from lfr.domain.refusal import NotFound, Refusal
from lfr.web.access import Identity, NotSignedInError
from lfr.web.context import WebContext
from lfr.web.middleware import (
    AllowedHosts,
    BodySizeLimit,
    HeadAsGet,
    RequestContext,
    require_allowed_hosts,
)
from lfr.web.rendering import STATIC_DIR, render
from lfr.web.request_metrics import RequestMetrics
from lfr.web.schemas import problems_of, problems_response
from lfr.web.schemas.base import NUL, NUL_REFUSED
from lfr.web.sessions import csrf_matches

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefusedError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def check_csrf(request: Request, identity: Identity) -> None:
    """Refuses a state-changing request whose CSRF token is missing or not this session's."""
    if request.method not in STATE_CHANGING:
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and _is_form(request):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if identity.session is None:
        raise CsrfRefusedError("no session: open the page again before submitting")
    if not presented:
        raise CsrfRefusedError("the form's security token is missing: reload the page and retry")
    if not csrf_matches(identity.session, presented):
        raise CsrfRefusedError(
            "the form's security token is not valid for this session (expired, signed out or "
            "from another session): reload the page and retry"
        )


async def refuse_nul_in_forms(request: Request) -> None:
    """Refuses a form whose text holds the NUL character (U+0000): PostgreSQL cannot store
    it, and no person types it. JSON bodies are checked by their schemas (`Schema`)."""
    if request.method not in STATE_CHANGING or not _is_form(request):
        return
    for name, value in (await request.form()).multi_items():
        if isinstance(value, str) and NUL in value:
            raise Refusal("request", NUL_REFUSED, name)


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def create_app(context: WebContext) -> FastAPI:
    """Builds the application around one `WebContext` (database, settings, live feeds);
    refuses (`InsecureSettingsError`) production settings that answer any host."""
    require_allowed_hosts(context.settings)
    app = FastAPI(
        lifespan=_lifespan,
        title="lfr",
        summary="Live Facial Recognition deployments with the framework's safeguards built in.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(check_csrf), Depends(refuse_nul_in_forms)],
    )
    app.state.context = context
    app.state.identity_loader = context.load_identity
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _include_routers(app)
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimit, settings=context.web_settings)
    app.add_middleware(RequestContext, request_id=context.request_id_var)
    app.add_middleware(RequestMetrics)
    app.add_middleware(HeadAsGet)
    # Outermost: a forged Host header is answered 400 before anything reads it.
    app.add_middleware(AllowedHosts, hosts=context.settings.allowed_hosts)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the recognition side with the server (when it has one: `lfr.system`), whose
    reconciler brings up what the record says runs, and stops every worker on shutdown.

    Pages are served at once: the recognition side starts beside them, since reaching a
    NATS server that is down may take its first-connection bound (15 s), and a halt must
    be recordable meanwhile (`/readyz` says "connecting" until it is up)."""
    context: WebContext = app.state.context
    recognition = context.recognition
    if recognition is None:
        yield
        return
    starting = asyncio.create_task(recognition.start(), name="recognition-start")
    starting.add_done_callback(_log_failed_start)
    try:
        yield
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await recognition.stop()


def _log_failed_start(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the recognition side failed to start", exc_info=task.exception())


def _include_routers(app: FastAPI) -> None:
    from lfr.web.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router)


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedInError, _not_signed_in)
    app.add_exception_handler(CsrfRefusedError, _csrf_refused)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Refusal, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


STATUS_RULES = {401: "sign-in", 403: "access", 404: "not-found", 413: "request", 503: "database"}
"""What stands in for a SPEC rule when the refusal is not one of the framework's rules."""
DATABASE_RETRY_AFTER_S = 5
"""How long a client is asked to wait (Retry-After) when the database did not answer."""


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return problems_response(
            401, [{"rule": "sign-in", "field": None, "reason": "sign in first"}]
        )
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": "/sign-in"})
    return RedirectResponse(f"/sign-in?next={_quote(target)}", status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, CsrfRefusedError) else "security token refused"
    return error_response(request, 403, "Request refused", reason)


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFound)
    if _is_api(request):
        return problems_response(404, problems_of(exc.unmet))
    return error_response(request, 404, "Not found", exc.reason)


async def _refused(request: Request, exc: Exception) -> Response:
    """A rule said no: every unmet condition is listed, naming its rule and field."""
    assert isinstance(exc, Refusal)
    details = [str(unmet) for unmet in exc.unmet]
    if _is_api(request):
        return problems_response(422, problems_of(exc.unmet))
    return error_response(request, 422, "Refused", "Nothing was changed, because:", details=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headings = {401: "Sign in first", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
    heading = headings.get(exc.status_code, "Request refused")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(request, exc.status_code, heading, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [
        (".".join(str(part) for part in error["loc"] if part != "body"), str(error["msg"]))
        for error in exc.errors()
    ]
    if _is_api(request):
        return problems_response(
            422, [{"rule": "request", "field": field, "reason": msg} for field, msg in fields]
        )
    problems = [f"{field}: {msg}" for field, msg in fields]
    return error_response(request, 422, "Some fields need attention", "", details=problems)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database did not answer (down, restarting, refusing connections): a 503 to
    try again, and one log line, not a 500 with two tracebacks."""
    assert isinstance(exc, OperationalError)
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        unanswered_reason(exc),
    )
    return error_response(
        request,
        503,
        "Database unavailable",
        "The database did not answer, so nothing was changed. Try again in a moment.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        "Something went wrong",
        "The request failed and nothing was changed. Quote the reference below when reporting.",
    )


def error_response(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    details: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One error shape: JSON `{"detail": [{"rule", "field", "reason"}]}` for the API, a page
    for people."""
    if _is_api(request):
        rule = STATUS_RULES.get(status, "request" if status < 500 else "server")
        reasons = [message] if message else details or [heading]
        return problems_response(
            status, [{"rule": rule, "field": None, "reason": r} for r in reasons], headers
        )
    context = {
        "heading": heading,
        "message": message,
        "details": details or [],
        "status": status,
        "request_id": getattr(request.state, "request_id", None),
        "title": heading,
    }
    response = render(request, "errors/error.html", context, status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
