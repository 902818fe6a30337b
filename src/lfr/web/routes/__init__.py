"""The routers of the web application, one module per area."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from lfr.web.routes import (
    applications,
    audit,
    auth,
    authorisations,
    console,
    dashboard,
    deployments,
    fleet,
    handheld,
    home,
    operations,
    people,
    public,
    reports,
    retention,
    staffing,
    transparency,
    watchlists,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    auth.api,
    home.router,
    home.api,
    public.pages,
    public.api,
    transparency.pages,
    transparency.api,
    reports.pages,
    reports.api,
    applications.pages,
    applications.api,
    authorisations.pages,
    authorisations.api,
    authorisations.authorities_api,
    watchlists.pages,
    watchlists.api,
    deployments.pages,
    deployments.api,
    dashboard.pages,
    dashboard.api,
    fleet.pages,
    fleet.api,
    staffing.pages,
    staffing.api,
    staffing.cameras_api,
    console.pages,
    console.api,
    handheld.pages,
    handheld.api,
    audit.pages,
    audit.api,
    retention.pages,
    people.pages,
    people.api,
    operations.router,
)


def api_routes() -> list[APIRoute]:
    """Every route of the app as declared (path with prefix, methods, dependencies)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
