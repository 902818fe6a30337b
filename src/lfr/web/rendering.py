"""Server-rendered pages: one `render` that gives every template the same context (who is
signed in, their menu, the session's CSRF token)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from lfr.domain.people import Actor
from lfr.reports.equitability import MATERIAL_RATIO
from lfr.reports.monitoring import PerceivedGroup
from lfr.web.access import Admit, known_identity, route_admission
from lfr.web.forecast_view import alerts_phrase, stranger_phrase
from lfr.web.labels import field_label, local_input, local_time, result_label, role_name
from lfr.web.qr import qr_svg

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["perceived_groups"] = [group.value for group in PerceivedGroup]
templates.env.filters["field_label"] = field_label
templates.env.filters["role_name"] = role_name
templates.env.filters["local_input"] = local_input
templates.env.filters["local_time"] = local_time
templates.env.filters["result_label"] = result_label
templates.env.globals["alerts_phrase"] = alerts_phrase
templates.env.globals["stranger_phrase"] = stranger_phrase
templates.env.globals["material_ratio"] = MATERIAL_RATIO
templates.env.filters["qr_svg"] = qr_svg


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    summary: str


NAV: tuple[NavItem, ...] = (
    NavItem("Applications", "/applications", "Draft, submit and decide deployment applications"),
    NavItem("Watchlists", "/watchlists", "Build a deployment's watchlist"),
    NavItem("Deployments", "/deployments", "Start checklist, camera health, halt"),
    NavItem("Fleet", "/fleet", "Recognition nodes: enrolment, link, last report"),
    NavItem("Console", "/console", "Live alerts"),
    NavItem("Handheld", "/handheld", "Referred alerts and outcomes"),
    NavItem("Alerts", "/alerts", "Every alert you may read, its decisions and holds"),
    NavItem("Reviews", "/reviews", "Post-deployment reviews, figures from the record"),
    NavItem("Equitability", "/equitability", "The algorithm's error rates per group"),
    NavItem("Monitoring", "/monitoring", "Outcomes and benefit across deployments"),
    NavItem("Audit", "/audit", "The tamper-evident log and its verification"),
    NavItem("Retention", "/retention", "What is kept, and until when"),
    NavItem("People", "/people", "Accounts, roles and training records"),
    NavItem("Public", "/public", "What the public sees"),
)


def nav_for(request: Request, actor: Actor | None) -> list[NavItem]:
    """The menu shows what the routes admit: the routes' declarations are the one source."""
    may_reach = reachable(request, actor)
    return [item for item in NAV if may_reach(item.path)]


def reachable(request: Request, actor: Actor | None) -> Callable[[str], bool]:
    """Whether this person's roles pass the gate of the page at a path as its route
    declares it (`/alerts/{alert_id}`), so that a page offers a link only where it leads
    somewhere; the object's own permission check still applies when it is followed."""
    admissions = _admissions_by_path(request)

    def may_reach(path: str) -> bool:
        admit = admissions.get(path)
        return admit is not None and admit.admits(actor)

    return may_reach


def _admissions_by_path(request: Request) -> dict[str, Admit]:
    cached = getattr(request.app.state, "nav_admissions", None)
    if cached is None:
        cached = {}
        from lfr.web.routes import api_routes

        for route in api_routes():
            admit = route_admission(route)
            if admit is not None and "GET" in (route.methods or set()):
                cached[route.path] = admit
        request.app.state.nav_admissions = cached
    return cached


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    identity = known_identity(request)
    actor = identity.actor if identity.signed_in else None
    full: dict[str, Any] = {
        "actor": actor,
        "nav": nav_for(request, actor),
        "may_reach": reachable(request, actor),
        "csrf_token": identity.session.csrf_token if identity.session else "",
        "flashes": [],
        "title": None,
    }
    full.update(context or {})
    return templates.TemplateResponse(request, template, full, status_code=status)
