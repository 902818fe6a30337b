"""HTTP request durations for Prometheus, by route template (`/alerts/{alert_id}`, never the
concrete path: an id in a label would be one series per alert) and method (unknown methods
are one label, ``other``). Pure ASGI, so event streams
pass through unbuffered; a stream is measured when it ends."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lfr.metrics import HTTP_SECONDS, Timer, method_label


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timer, status = Timer(), ["500"]

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = method_label(scope["method"])
            HTTP_SECONDS.labels(method, template, status[0]).observe(timer.seconds())
