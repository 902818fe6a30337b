"""Deployment control (DEP-1, DEP-2, REC-5): plan, staff, the start checklist showing every
unmet condition, live camera health, and Silver's halt button. Camera sources (REC-1).

The pages are no dead end: places, cameras and staff are picked from what the authority
and training allow; Halt and End need a ticked confirmation; a refusal shows the page
again with the problems inside the form that caused them and what was typed kept; the
deployment page links on to what its reader may open.

The deployments service decides every change; `DeploymentControl` then starts or stops the
camera workers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.governance import AuthorityRow, DeploymentRow
from lfr.db.people import User
from lfr.db.session import reading, transaction
from lfr.domain.deployment import DEPLOYMENT_ROLES, DeploymentStatus
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import NotFound, Refusal, Unmet
from lfr.reports import review, transparency
from lfr.services import cameras as camera_service
from lfr.services import deployments, fleet, people
from lfr.services.access import commands, may_read_watchlist, watchable_deployment
from lfr.services.authorisations import authorities_in_force, authority_of
from lfr.services.watchlists import watchlist_for_authority
from lfr.vision import source_types
from lfr.web import schemas
from lfr.web.access import Admit, Viewer, known_identity
from lfr.web.deps import Context
from lfr.web.forms import problems_of
from lfr.web.live import event_response, health_topic
from lfr.web.rendering import render
from lfr.web.routes.console import CONSOLE
from lfr.web.routes.reports import REVIEW_READERS
from lfr.web.start_guide import fix_steps

READERS = Admit(
    Role.APPLICANT,
    Role.GOLD,
    Role.SILVER,
    Role.BRONZE,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.ENGINEER,
    Role.REVIEWER,
)
PLANNERS = Admit(Role.APPLICANT, Role.GOLD, Role.SILVER)
COMMANDERS = Admit(Role.GOLD, Role.SILVER)
CAMERA_ADMINS = Admit(Role.ENGINEER, Role.ADMINISTRATOR)
Reader = Annotated[Viewer, Depends(READERS)]
Planner = Annotated[Viewer, Depends(PLANNERS)]
Commander = Annotated[Viewer, Depends(COMMANDERS)]
CameraAdmin = Annotated[Viewer, Depends(CAMERA_ADMINS)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/deployments", tags=["deployments"])


@dataclass(frozen=True, slots=True)
class RefusedForm:
    """Which of the page's forms was refused, why, and what had been typed in it."""

    form: str
    refusal: Refusal
    typed: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Link:
    """A way on from the deployment page."""

    id: str
    label: str
    href: str


@pages.get("/deployments")
def deployments_page(request: Request, context: Context, viewer: Reader) -> Response:
    return deployments_listing(request, context)


def deployments_listing(
    request: Request, context: Context, refused: RefusedForm | None = None
) -> Response:
    """Every deployment, and a plan form for each authority in force without one, its
    places and cameras offered as the authority allows them (AUTH-6); with `refused`, that
    form again (422) with the problems and what was chosen."""
    with reading(context.db) as db:
        rows = list(db.scalars(select(DeploymentRow).order_by(DeploymentRow.created_at.desc())))
        planned = {row.authority_id for row in rows}
        open_authorities = [
            a for a in authorities_in_force(db, policy=context.policy) if a.id not in planned
        ]
        listing = [deployment_summary(row) for row in rows]
        authorities = [_plannable(a) for a in open_authorities]
        actor = known_identity(request).actor
        dashboards = {row.id for row in rows if actor and dashboard_for(actor, row)}
    return render(
        request,
        "deployments/index.html",
        {
            "deployments": listing,
            "dashboards": dashboards,
            "authorities": authorities,
            "refused": refused,
            "problems": problems_of(refused.refusal) if refused else [],
            "title": "Deployments",
        },
        status=422 if refused else 200,
    )


def _plannable(row: AuthorityRow) -> dict[str, Any]:
    scope = authority_of(row).scope
    return {
        "id": row.id,
        "title": row.application.title,
        "places": scope.places,
        "cameras": scope.cameras,
    }


def deployment_summary(row: DeploymentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.authority.application.title,
        "status": row.status.value,
        "places": ", ".join(json.loads(row.places)),
        "cameras": ", ".join(json.loads(row.cameras)),
        "window": f"{row.authority.window_start:%Y-%m-%d %H:%M} – "
        f"{row.authority.window_end:%Y-%m-%d %H:%M} UTC",
    }


@pages.post("/deployments")
def plan(
    request: Request,
    context: Context,
    viewer: Planner,
    authority_id: Annotated[str, Form(max_length=64)],
    places: Annotated[list[str] | None, Form()] = None,
    cameras: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Plan at the places and cameras ticked, each one the authority allows (AUTH-6)."""
    places, cameras = places or [], cameras or []
    try:
        with transaction(context.db) as db:
            row = deployments.plan_deployment(
                db, viewer.actor, authority_id, places, cameras, policy=context.policy
            )
            deployment_id = row.id
    except NotFound:
        raise
    except Refusal as refusal:
        chosen: dict[str, str | list[str]] = {
            "authority_id": authority_id,
            "places": places,
            "cameras": cameras,
        }
        return deployments_listing(request, context, RefusedForm("plan", refusal, chosen))
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


def checklist(
    context: Context, deployment_id: str
) -> tuple[DeploymentRow, list[Unmet], list[Unmet]]:
    """DEP-1 as it stands, plus the cameras without a source (REC-1) and what this
    machine's capacity says of the cameras it would run (REC-5): unmet, then warnings."""
    admitted = context.control.admission_check(deployment_id)  # probes: outside reading
    with reading(context.db) as db:
        row = deployments.get_deployment(db, deployment_id)
        unmet = deployments.start_checklist(
            db, deployment_id, policy=context.policy, capacity=admitted.unmet
        )
        db.expunge_all()
    return row, unmet, admitted.warnings


@pages.get("/deployments/{deployment_id}")
def deployment_page(
    request: Request, context: Context, viewer: Reader, deployment_id: str
) -> Response:
    return detail_page(request, context, viewer.actor, deployment_id)


def detail_page(
    request: Request,
    context: Context,
    actor: Actor,
    deployment_id: str,
    refused: RefusedForm | None = None,
) -> Response:
    """The deployment page; with `refused`, shown again (422) with the problems on the
    form that caused them and what was typed there kept."""
    row, unmet, warnings = checklist(context, deployment_id)
    with reading(context.db) as db:
        users = {u.id: u.display_name for u in db.scalars(select(User))}
        staff = [(users.get(a.user_id, a.user_id), a.role.value) for a in row.assignments]
        links = onward_links(db, actor, row)
        choices = candidates(db, row) if row.status is DeploymentStatus.PLANNED else []
        steps = fix_steps(db, row, unmet)
        refused_steps = fix_steps(db, row, list(refused.refusal.unmet)) if refused else []
        db.expunge_all()
    return render(
        request,
        "deployments/detail.html",
        {
            "deployment": deployment_summary(row),
            "row": row,
            "unmet": unmet,
            "steps": steps,
            "refused_steps": refused_steps,
            "warnings": warnings,
            "staff": staff,
            "roles": DEPLOYMENT_ROLES,
            "links": links,
            "candidates": choices,
            "refused": refused,
            "problems": problems_of(refused.refusal) if refused else [],
            "title": deployment_summary(row)["title"],
            **health_view(context, deployment_id),
        },
        status=422 if refused else 200,
    )


DASHBOARDLESS = (DeploymentStatus.PLANNED, DeploymentStatus.CANCELLED)
"""A deployment that never ran has no alerts or cameras to follow on a dashboard."""


def dashboard_for(actor: Actor, row: DeploymentRow) -> bool:
    """Whether to lead this person to the deployment's dashboard: one of its commanders,
    once it has run."""
    return commands(actor, row) and row.status not in DASHBOARDLESS


def onward_links(db: Session, actor: Actor, row: DeploymentRow) -> list[Link]:
    """Where this person goes next from the deployment (no dead ends): each link only for
    someone the page behind it admits, so none ends on a refusal."""
    links = []
    if dashboard_for(actor, row):
        href = f"/deployments/{row.id}/dashboard"
        links.append(Link("dashboard-link", "Its dashboard", href))
    if CONSOLE.admits(actor):
        links.append(Link("console-link", "Operator console", "/console"))
    watchlist = watchlist_for_authority(db, row.authority_id)
    if watchlist is not None and may_read_watchlist(db, actor, watchlist):
        links.append(Link("watchlist-link", "Its watchlist", f"/watchlists/{watchlist.id}"))
    if CAMERA_ADMINS.admits(actor):
        links.append(Link("cameras-link", "Its cameras' sources", "/cameras"))
    opened = review.review_for_deployment(db, row.id)
    if opened is not None and REVIEW_READERS.admits(actor):
        links.append(Link("review-link", "Its post-deployment review", f"/reviews/{opened.id}"))
    if any(r.deployment_id == row.id for r in transparency.results(db)):
        links.append(Link("results-link", "Its published results", f"/public/results/{row.id}"))
    return links


@pages.get("/deployments/{deployment_id}/health")
def health_fragment(
    request: Request, context: Context, viewer: Reader, deployment_id: str
) -> Response:
    """Live camera health (REC-5): fps, faces/s, latency, errors, restarts."""
    return render(request, "deployments/health.html", health_view(context, deployment_id))


def health_view(context: Context, deployment_id: str) -> dict[str, Any]:
    """Cameras with the age of their figures, the deployment's nodes, and how far its last
    halt has reached (DEP-2, REC-5): nothing shows "up" beside a stopped deployment."""
    unreachable_s = context.settings.node_unreachable_s
    with reading(context.db) as db:
        row = deployments.get_deployment(db, deployment_id)
        names = deployments.cameras_of(row)
        node_names = fleet.nodes_of(db, names)
        at = utcnow()
        nodes = [
            {
                "name": n.name,
                "state": n.state,
                "version": n.version,
                "cameras": ", ".join(json.loads(n.cameras)) or "–",
                "silent_s": (at - n.last_seen).total_seconds(),
                "link_up": fleet.link_up(n.last_seen, at, unreachable_s),
            }
            for n in fleet.node_statuses(db)
            if n.name in node_names
        ]
        delivery = fleet.halt_delivery(db, deployment_id)
        running = row.status is DeploymentStatus.RUNNING
        db.expunge_all()
    runtime = context.runtime
    return {
        "deployment_id": deployment_id,
        "running": running,
        "cameras": runtime.cameras(deployment_id, names) if runtime and running else [],
        "nodes": nodes,
        "delivery": delivery,
        "unreachable": delivery.unreachable(at, unreachable_s) if delivery else [],
    }


@pages.get("/deployments/{deployment_id}/stream")
async def health_stream(
    request: Request, context: Context, viewer: Reader, deployment_id: str
) -> StreamingResponse:
    return event_response(context.feed, {health_topic(deployment_id)}, request)


@pages.post("/deployments/{deployment_id}/assign")
def assign(
    request: Request,
    context: Context,
    viewer: Planner,
    deployment_id: str,
    assignment: Annotated[str, Form(max_length=120, description="user id|role")],
) -> Response:
    """Assign someone chosen from the accounts trained for the role (TRN-1, DEP-1)."""
    actor = viewer.actor
    try:
        user_id, role = parse_assignment(assignment)
        with transaction(context.db) as db:
            deployments.assign(db, actor, deployment_id, user_id, role)
    except NotFound:
        raise
    except Refusal as refusal:
        again = RefusedForm("assign", refusal, {"assignment": assignment})
        return detail_page(request, context, actor, deployment_id, again)
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


def parse_assignment(value: str) -> tuple[str, Role]:
    """A staffing form's choice, ``user id|role``."""
    user_id, _, role = value.partition("|")
    try:
        return user_id, Role(role)
    except ValueError:
        raise Refusal("DEP-1", f"not a role: {role!r}", "assignment") from None


def candidates(db: Session, row: DeploymentRow) -> list[tuple[Role, list[User]]]:
    """For each deployment role, the accounts that hold it with in-date training and are
    not yet assigned in it (TRN-1): the staffing form's choices."""
    taken = {(a.user_id, a.role) for a in row.assignments}
    at = utcnow()
    return [
        (role, [u for u in people.trained_for(db, role, at) if (u.id, role) not in taken])
        for role in DEPLOYMENT_ROLES
    ]


@pages.post("/deployments/{deployment_id}/start")
def start(request: Request, context: Context, viewer: Commander, deployment_id: str) -> Response:
    """Start (DEP-1); a refusal is shown on the deployment page beside the Start button,
    each unmet condition with who fixes it and where."""
    actor = viewer.actor
    try:
        context.control.start(actor, deployment_id)
    except NotFound:
        raise
    except Refusal as refusal:
        return detail_page(request, context, actor, deployment_id, RefusedForm("start", refusal))
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@pages.post("/deployments/{deployment_id}/halt")
def halt(
    request: Request,
    context: Context,
    viewer: Commander,
    deployment_id: str,
    reason: Annotated[str, Form(max_length=2000)],
    halt_confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Silver's halt (DEP-2): recorded, then every camera worker stopped at once. The box
    stating what a halt does must be ticked, so no stray click halts."""
    actor = viewer.actor
    try:
        confirmed(halt_confirmed, "halt_confirmed", HALT_CONFIRMATION)
        context.control.halt(actor, deployment_id, reason)
    except NotFound:
        raise
    except Refusal as refusal:
        again = RefusedForm("halt", refusal, {"reason": reason})
        return detail_page(request, context, actor, deployment_id, again)
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@pages.post("/deployments/{deployment_id}/end")
def end(
    request: Request,
    context: Context,
    viewer: Commander,
    deployment_id: str,
    end_confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """End (DEP-2), once the box stating what an end does is ticked."""
    actor = viewer.actor
    try:
        confirmed(end_confirmed, "end_confirmed", END_CONFIRMATION)
        context.control.end(actor, deployment_id)
    except NotFound:
        raise
    except Refusal as refusal:
        return detail_page(request, context, actor, deployment_id, RefusedForm("end", refusal))
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


HALT_CONFIRMATION = "tick the box to confirm: every camera stops now, and a halt cannot be undone"
END_CONFIRMATION = (
    "tick the box to confirm: the deployment ends for good and its watchlist's images go "
    "as the retention policy says"
)


def confirmed(ticked: bool, field_name: str, reason: str) -> None:
    """The pages' confirmation of a step that cannot be undone (the JSON API needs none:
    a program does not click by accident)."""
    if not ticked:
        raise Refusal("DEP-2", reason, field_name)


CAMERA_VIEWERS = Admit(Role.OPERATOR, Role.SILVER, Role.GOLD, Role.BRONZE, Role.ENGINEER)


@pages.get("/deployments/{deployment_id}/cameras/{camera}/preview.jpg")
def camera_preview(
    context: Context,
    viewer: Annotated[Viewer, Depends(CAMERA_VIEWERS)],
    deployment_id: str,
    camera: str,
) -> Response:
    """The latest frame of a camera, every face that did not alert blurred (REC-4, REC-5)."""
    with reading(context.db) as db:
        running = watchable_deployment(db, viewer.actor, deployment_id).status
    preview = context.preview
    # The record decides: a stopped deployment shows nothing, whatever frame is in memory.
    live = running is DeploymentStatus.RUNNING
    frame = preview.latest(deployment_id, camera) if preview and live else None
    if frame is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(frame, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@pages.get("/cameras")
def cameras_page(request: Request, context: Context, viewer: CameraAdmin) -> Response:
    return cameras_listing(request, context)


def cameras_listing(
    request: Request, context: Context, refused: RefusedForm | None = None
) -> Response:
    """The camera sources and the form; with `refused`, the form again (422) with the
    problems and what was typed."""
    with reading(context.db) as db:
        rows = camera_service.all_cameras(db)
        db.expunge_all()
    return render(
        request,
        "deployments/cameras.html",
        {
            "cameras": rows,
            "refused": refused,
            "problems": problems_of(refused.refusal) if refused else [],
            "source_written": source_types.WRITTEN,
            "title": "Cameras",
        },
        status=422 if refused else 200,
    )


@pages.post("/cameras")
def configure_camera(
    request: Request,
    context: Context,
    viewer: CameraAdmin,
    name: Annotated[str, Form(max_length=64)],
    source: Annotated[str, Form(max_length=2000)],
) -> Response:
    """Save a camera's source once a frame has been read from it (REC-1)."""
    try:
        camera_service.check_source_reads(source, context.web_settings.camera_source_kinds)
        with transaction(context.db) as db:
            camera_service.configure_camera(db, viewer.actor, name, source)
    except Refusal as refusal:
        typed = {"name": name, "source": source}
        return cameras_listing(request, context, RefusedForm("camera", refusal, typed))
    return RedirectResponse("/cameras", status_code=303)


@api.get(
    "/{deployment_id}/checklist",
    response_model=schemas.ChecklistOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_start_checklist",
)
def api_checklist(context: Context, viewer: Reader, deployment_id: str) -> dict[str, Any]:
    """DEP-1 as it stands: every unmet condition, with its rule and field."""
    row, unmet, warnings = checklist(context, deployment_id)
    return {
        "status": row.status.value,
        "ready": not unmet,
        "unmet": [{"rule": u.rule, "field": u.field, "reason": u.reason} for u in unmet],
        "warnings": [{"rule": w.rule, "field": w.field, "reason": w.reason} for w in warnings],
    }


class Halt(schemas.Schema):
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the audit.")


@api.post(
    "/{deployment_id}/start",
    response_model=schemas.StatusOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="start_deployment",
)
def api_start(context: Context, viewer: Commander, deployment_id: str) -> dict[str, str]:
    """Start (DEP-1); a refusal (422) lists every unmet condition with rule and field."""
    context.control.start(viewer.actor, deployment_id)
    return {"status": "running"}


@api.post(
    "/{deployment_id}/halt",
    response_model=schemas.StatusOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="halt_deployment",
)
def api_halt(context: Context, viewer: Commander, deployment_id: str, body: Halt) -> dict[str, Any]:
    """Silver's halt (DEP-2): recorded at once with the halt owed to the deployment's nodes;
    workers here are stopped before it answers; `delivery` says which nodes have
    acknowledged so far (poll `GET /api/deployments/{id}/halt`)."""
    context.control.halt(viewer.actor, deployment_id, body.reason)
    return {"status": "halted", "delivery": halt_delivery_json(context, deployment_id)}


@api.get(
    "/{deployment_id}/halt",
    response_model=schemas.DeliveryOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_halt_delivery",
)
def api_halt_delivery(context: Context, viewer: Reader, deployment_id: str) -> dict[str, Any]:
    """How far the deployment's last halt has reached: published, and which nodes have
    acknowledged it (DEP-2)."""
    with reading(context.db) as db:
        deployments.get_deployment(db, deployment_id)
    return {"delivery": halt_delivery_json(context, deployment_id)}


def halt_delivery_json(context: Context, deployment_id: str) -> dict[str, Any] | None:
    with reading(context.db) as db:
        delivery = fleet.halt_delivery(db, deployment_id)
    if delivery is None:
        return None
    return {
        "reason": delivery.reason,
        "recorded_at": delivery.created_at.isoformat(),
        "published_at": delivery.published_at.isoformat() if delivery.published_at else None,
        "last_error": delivery.last_error,
        "complete": delivery.complete,
        "nodes": [
            {
                "node": n.node,
                "acknowledged_at": n.acked_at.isoformat() if n.acked_at else None,
                "last_seen": n.last_seen.isoformat() if n.last_seen else None,
            }
            for n in delivery.nodes
        ],
    }
