"""The commanders' dashboard (DEP-2, REC-5, ADJ-1..3): one deployment at a glance for the
Gold, Silver and Bronze assigned to it: its alerts by state with the newest of them, each
camera's health, how far its last halt has reached, what its authority allows, and the
way on to the deployment page and, as that page offers them, the console, its review and
its published results.

Only the deployment's own commanders see it (`commanded_deployment`): the role alone is not
enough, as everywhere a route touches one deployment's record (no IDOR).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from lfr.db.governance import AlertRow
from lfr.db.session import reading
from lfr.domain.alerts import AlertState
from lfr.domain.people import Actor, Role
from lfr.runtime.central import CameraHealth
from lfr.services import alerts
from lfr.services.access import commanded_deployment, readable_alerts
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.alert_views import card_of
from lfr.web.authority_view import authority_terms
from lfr.web.deps import Context
from lfr.web.rendering import render
from lfr.web.routes.deployments import (
    Link,
    deployment_summary,
    halt_delivery_json,
    health_view,
    onward_links,
)

COMMANDERS = Admit(Role.GOLD, Role.SILVER, Role.BRONZE)
Commander = Annotated[Viewer, Depends(COMMANDERS)]

LATEST = 10
"""How many of the newest alerts the dashboard lists (the alerts page has them all)."""

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/deployments", tags=["deployments"])


@pages.get("/deployments/{deployment_id}/dashboard")
def dashboard_page(
    request: Request, context: Context, viewer: Commander, deployment_id: str
) -> Response:
    actor = viewer.actor
    headline = _headline(context, actor, deployment_id)
    return render(
        request,
        "deployments/dashboard.html",
        {
            **headline,
            **_alerts_view(context, actor, deployment_id),
            **health_view(context, deployment_id),
            "title": f"Dashboard: {headline['deployment']['title']}",
        },
    )


@pages.get("/deployments/{deployment_id}/dashboard/alerts")
def dashboard_alerts(
    request: Request, context: Context, viewer: Commander, deployment_id: str
) -> Response:
    """The alerts panel alone, polled by the page so that counts follow each decision."""
    actor = viewer.actor
    return render(
        request,
        "deployments/dashboard_alerts.html",
        _alerts_view(context, actor, deployment_id),
    )


def _headline(context: Context, actor: Actor, deployment_id: str) -> dict[str, Any]:
    """The deployment's summary, what its authority allows (AUTH-6: what Silver must keep
    within) and the ways on from it (the deployment page's own, less this page), once this
    person is found to command it (else `NotFound`)."""
    with reading(context.db) as db:
        row = commanded_deployment(db, actor, deployment_id)
        back = Link(
            "deployment-link", "Deployment page (start, halt, end)", f"/deployments/{row.id}"
        )
        onward = [link for link in onward_links(db, actor, row) if link.id != "dashboard-link"]
        return {
            "deployment": deployment_summary(row),
            "terms": authority_terms(db, row.authority, context.recognition_settings),
            "links": [back, *onward],
        }


def _alerts_view(context: Context, actor: Actor, deployment_id: str) -> dict[str, Any]:
    """The deployment's status, its alerts counted by state and the newest as cards (what
    happened after each), once this person is found to command it (else `NotFound`)."""
    with reading(context.db) as db:
        status = commanded_deployment(db, actor, deployment_id).status
        tally, rows = _alerts_of(db, actor, deployment_id)
        latest = [card_of(db, row, actor) for row in rows]
    return {
        "deployment_id": deployment_id,
        "status": status.value,
        "by_state": list(tally.items()),
        "waiting": tally[AlertState.PENDING],
        "latest": latest,
        "alert_details_shown": reads_alerts(actor),
    }


@api.get(
    "/{deployment_id}/dashboard",
    response_model=schemas.DashboardOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_deployment_dashboard",
)
def api_dashboard(context: Context, viewer: Commander, deployment_id: str) -> schemas.DashboardOut:
    """The deployment at a glance for its Gold, Silver and Bronze: alerts by state, the
    newest alerts, each camera's health and the last halt's delivery (DEP-2, REC-5)."""
    actor = viewer.actor
    with reading(context.db) as db:
        row = commanded_deployment(db, actor, deployment_id)
        title, status = row.authority.application.title, row.status
        tally, rows = _alerts_of(db, actor, deployment_id)
        latest = [schemas.alert_out(r) for r in rows]
    health = health_view(context, deployment_id)
    return schemas.DashboardOut(
        deployment_id=deployment_id,
        title=title,
        status=status,
        alerts_by_state=[schemas.StateCountOut(state=s, count=n) for s, n in tally.items()],
        latest_alerts=latest,
        cameras=[_camera_out(c) for c in health["cameras"]],
        halt=_halt_out(context, deployment_id),
    )


def _alerts_of(
    db: Session, actor: Actor, deployment_id: str
) -> tuple[dict[AlertState, int], list[AlertRow]]:
    """The deployment's alerts counted by state, and the newest few of them for a reader
    whose role reads alerts (the alert routes' own gate): Bronze gets the counts alone."""
    tally = alerts.alerts_by_state(db, deployment_id)
    if not reads_alerts(actor):
        return tally, []
    return tally, readable_alerts(db, actor, deployment_id=deployment_id, limit=LATEST)


def reads_alerts(actor: Actor) -> bool:
    return bool(actor.roles & alerts.PROBE_VIEWER_ROLES)


def _halt_out(context: Context, deployment_id: str) -> schemas.HaltDeliveryOut | None:
    delivery = halt_delivery_json(context, deployment_id)
    return schemas.HaltDeliveryOut.model_validate(delivery) if delivery else None


def _camera_out(health: CameraHealth) -> schemas.CameraHealthOut:
    figures = health.figures
    return schemas.CameraHealthOut(
        camera=health.camera,
        status=health.status,
        slow=health.slow,
        age_s=health.age_s,
        fps=figures.fps if figures else None,
        faces_per_s=figures.faces_per_s if figures else None,
        last_error=figures.last_error if figures else None,
        restarts=health.worker.crashes if health.worker else 0,
    )
