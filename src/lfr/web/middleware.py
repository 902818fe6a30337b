"""Pure ASGI middleware: request ids, body-size limit and security headers.

Pure ASGI (not BaseHTTPMiddleware) so that server-sent event streams pass through
unbuffered and a request body is counted as it arrives, before anything parses it.
"""

from __future__ import annotations

import html
import json
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lfr.setting_groups import WebSettings
from lfr.settings import InsecureSettingsError, Settings

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


NO_STORE = (b"cache-control", b"no-store")
"""On every response but static files: signed-in pages and JSON carry personal data and
must not stay in a browser's or proxy's cache (public pages lose nothing by it)."""

HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
"""Sent over TLS only: browsers then refuse plain HTTP to this host for a year."""


def _response_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    present = {name.lower() for name, _ in headers}
    headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
    if NO_STORE[0] not in present and not str(scope.get("path", "")).startswith("/static/"):
        headers.append(NO_STORE)
    if scope.get("scheme") in {"https", "wss"}:
        headers.append(HSTS)


class RequestContext:
    """Gives each request an id (shown on error pages, copied into audit entries) and the
    security headers (no-store, HSTS over TLS)."""

    def __init__(self, app: ASGIApp, request_id: ContextVar[str | None]) -> None:
        self.app = app
        self.request_id = request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = self.request_id.set(request_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                _response_headers(scope, headers)
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.request_id.reset(token)


class AllowedHosts:
    """Answers 400 to a request whose Host header is not one of ``hosts`` (``["*"]``: any),
    before anything builds an absolute URL from it (LFR_ALLOWED_HOSTS)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = {host.lower() for host in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        if _host(scope) in self.hosts:
            await self.app(scope, receive, send)
            return
        await _respond(scope, send, 400, "unknown host: this service does not answer to it")


def require_allowed_hosts(settings: Settings) -> None:
    """Outside development and test the service answers only the host names it is given:
    ``["*"]`` would let any Host header through, to pages and links built from it.

    Raises:
        InsecureSettingsError: naming the setting, when it is empty or allows any host.
    """
    if settings.allows_development_secrets:
        return
    if not settings.allowed_hosts or "*" in settings.allowed_hosts:
        raise InsecureSettingsError(
            f"environment={settings.environment.value} needs allowed_hosts "
            '(LFR_ALLOWED_HOSTS, e.g. ["lfr.police.example"]): the service\'s own host names, '
            "not *"
        )


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            raw: bytes = value
            host = raw.decode("latin-1").lower()
            return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return ""


class BodyTooLargeError(Exception):
    pass


class BodySizeLimit:
    """Refuses a request body over the limit with 413 and a message naming the limit,
    whether or not the client announced its length."""

    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.limit = settings.max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        megabytes = self.limit / (1024 * 1024)
        message = (
            f"upload too large: the limit is {megabytes:.1f} MiB per request "
            "(LFR_WEB settings: max_upload_bytes); nothing was stored"
        )
        await _respond(scope, send, 413, message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _respond(scope: Scope, send: Send, status: int, message: str) -> None:
    """A minimal response for refusals raised before routing (JSON for the API, text page
    otherwise)."""
    is_api = str(scope.get("path", "")).startswith("/api")
    body, content_type = _body(is_api, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _body(is_api: bool, message: str) -> tuple[bytes, bytes]:
    if is_api:
        problem = {"rule": "request", "field": None, "reason": message}
        return json.dumps({"detail": [problem]}).encode(), b"application/json"
    page = (
        "<!doctype html><meta charset=utf-8><title>Refused</title>"
        '<link rel="stylesheet" href="/static/app.css">'
        f'<main><div class="card"><h1>Request refused</h1><p>{html.escape(message)}</p>'
        '<p><a href="/">Home</a></p></div></main>'
    )
    return page.encode(), b"text/html; charset=utf-8"


class HeadAsGet:
    """HEAD answered wherever GET is (RFC 9110: monitors and caches ask it): the request is
    routed as GET and the response keeps its status and headers, never its body. An event
    stream ends for HEAD once its headers are out (the server then reports the client
    gone, and the stream stops)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def without_body(message: Message) -> None:
            nonlocal ended
            if message["type"] != "http.response.body":
                await send(message)
            elif not ended:
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, without_body)
