"""Request-scoped helpers shared by the routes: the app's `WebContext`, session cookies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from lfr.web.context import WebContext
from lfr.web.sessions import COOKIE_NAME


def web_context(request: Request) -> WebContext:
    context = request.app.state.context
    assert isinstance(context, WebContext)
    return context


Context = Annotated[WebContext, Depends(web_context)]


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site posts), Secure
    when the request came over TLS or the settings say so."""
    context = web_context(request)
    secure = context.web_settings.secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=context.web_settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
