"""The routers of the web application, one module per area."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from lfr.web.routes import audit, auth, console, home, people, public

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    home.api,
    public.pages,
    public.api,
    console.pages,
    console.api,
    audit.pages,
    audit.api,
    people.pages,
    people.api,
)


def api_routes() -> list[APIRoute]:
    """Every route of the app as declared (path with prefix, methods, dependencies)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
