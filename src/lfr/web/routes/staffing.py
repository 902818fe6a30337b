"""Deployments over JSON, and the staffing, cancellation and blue-list doors (DEP-1, DEP-2,
TRN-1, REC-6): list and read deployments, plan, assign and unassign staff, cancel a planned
deployment, end one, enrol consenting staff on the blue list, configure cameras.

The deployments service decides every change; ending goes through `DeploymentControl`
(the same path as the deployment page's button): the service records it and the
reconciler stops the workers before the request answers.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import DeploymentRow
from lfr.db.session import reading, transaction
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal
from lfr.domain.watchlist import BlueListDraft
from lfr.reports.review import blue_list_test
from lfr.services import cameras as camera_service
from lfr.services import deployments, people, watchlists
from lfr.vision.sources import shown
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.rendering import render
from lfr.web.routes.deployments import (
    CameraAdmin,
    Commander,
    Planner,
    Reader,
    parse_assignment,
)
from lfr.web.routes.watchlists import read_images

BLUE_LIST_ENROLERS = Admit(Role.ENGINEER)
BlueListEnroler = Annotated[Viewer, Depends(BLUE_LIST_ENROLERS)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/deployments", tags=["deployments"])
cameras_api = APIRouter(prefix="/api/cameras", tags=["cameras"])


def _deployment_out(db: Session, row: DeploymentRow) -> schemas.DeploymentOut:
    test = blue_list_test(db, row)
    rate = schemas.TestRate(
        enrolled=test["blue_list_size"],
        alerted=test["blue_list_members_detected"],
        rate=test["measured_true_positive_rate"],
    )
    return schemas.deployment_out(row, rate)


def read_deployment(context: Context, deployment_id: str) -> schemas.DeploymentOut:
    with reading(context.db) as db:
        return _deployment_out(db, deployments.get_deployment(db, deployment_id))


# --- pages ---------------------------------------------------------------------------------------


@pages.post("/deployments/{deployment_id}/unassign")
def unassign(
    context: Context,
    viewer: Commander,
    deployment_id: str,
    assignment: Annotated[str, Form(max_length=120, description="user id|role")],
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    """Gold or Silver takes someone off the deployment, saying why (DEP-1)."""
    user_id, role = parse_assignment(assignment)
    _unassign(context, viewer.actor, deployment_id, user_id, role, reason)
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


def _unassign(
    context: Context, actor: Actor, deployment_id: str, user_id: str, role: Role, reason: str
) -> None:
    with transaction(context.db) as db:
        deployments.unassign(db, actor, deployment_id, user_id, role, reason)


@pages.post("/deployments/{deployment_id}/cancel")
def cancel(
    context: Context,
    viewer: Planner,
    deployment_id: str,
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    """A planned deployment that will not go ahead is cancelled with its reason (DEP-2);
    its watchlist's biometrics go as the retention policy says (WL-6)."""
    _cancel(context, viewer.actor, deployment_id, reason)
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


def _cancel(context: Context, actor: Actor, deployment_id: str, reason: str) -> None:
    with transaction(context.db) as db:
        deployments.cancel_deployment(db, actor, deployment_id, reason, policy=context.policy)


@pages.get("/deployments/{deployment_id}/blue-list")
def blue_list_fragment(
    request: Request, context: Context, viewer: Reader, deployment_id: str
) -> Response:
    """REC-6 on the deployment page: the consenting staff enrolled, the test alerts they
    raised today and the measured true-positive rate; engineers enrol here."""
    detail = read_deployment(context, deployment_id)
    return render(
        request,
        "deployments/blue_list.html",
        {"deployment": detail, "test": detail.blue_list_test},
    )


@pages.post("/deployments/{deployment_id}/blue-list")
async def enrol_blue_list(
    context: Context,
    viewer: BlueListEnroler,
    deployment_id: str,
    username: Annotated[str, Form(max_length=80)],
    consent_statement: Annotated[str, Form(max_length=4000)],
    image_source: Annotated[str, Form(max_length=2000)],
    image: Annotated[UploadFile, File()],
    consented: Annotated[bool, Form()] = False,
) -> Response:
    """An engineer enrols a member of staff who has consented, once per deployment (REC-6)."""
    data = (await read_images([image], "image"))[0]
    actor = viewer.actor
    await asyncio.to_thread(
        _enrol,
        context,
        actor,
        deployment_id,
        username,
        BlueListDraft("", consent_statement, consented, image_source),
        data,
    )
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


def _enrol(
    context: Context,
    actor: Actor,
    deployment_id: str,
    username: str,
    draft: BlueListDraft,
    image: bytes,
) -> schemas.BlueListEntryOut:
    """Enrol `username` on the blue list beside this deployment's watchlist."""
    # The image is checked before the transaction opens (it takes seconds).
    prepared = watchlists.prepare_enrolments(context.enroler(), [image])
    with transaction(context.db) as db:
        row = deployments.get_deployment(db, deployment_id)
        watchlist = watchlists.watchlist_for_authority(db, row.authority_id)
        if watchlist is None:
            raise Refusal("WL-1", "no watchlist has been compiled", "watchlist")
        user = people.find_user(db, username.strip())
        if user is None:
            raise Refusal("REC-6", f"no account {username!r}", "username")
        staffed = BlueListDraft(
            user.id, draft.consent_statement, draft.consented, draft.image_source
        )
        entry = watchlists.enrol_blue_list(db, actor, watchlist.id, staffed, image, prepared)
        return schemas.blue_entry_out(entry)


# --- JSON ------------------------------------------------------------------------------------


@api.get(
    "",
    response_model=list[schemas.DeploymentOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_deployments",
)
def api_deployments(context: Context, viewer: Reader) -> list[schemas.DeploymentOut]:
    """Every deployment, newest first."""
    with reading(context.db) as db:
        rows = db.scalars(select(DeploymentRow).order_by(DeploymentRow.created_at.desc()))
        return [_deployment_out(db, row) for row in rows]


@api.post(
    "",
    status_code=201,
    response_model=schemas.DeploymentOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="plan_deployment",
)
def api_plan(
    context: Context, viewer: Planner, body: schemas.PlanIn, response: Response
) -> schemas.DeploymentOut:
    """Plan the one deployment of an authority in force, at authorised places and cameras
    (WL-1, AUTH-6)."""
    with transaction(context.db) as db:
        row = deployments.plan_deployment(
            db,
            viewer.actor,
            body.authority_id,
            body.places,
            body.cameras,
            policy=context.policy,
        )
        answer = _deployment_out(db, row)
    response.headers["Location"] = f"/api/deployments/{answer.id}"
    return answer


@api.get(
    "/{deployment_id}",
    response_model=schemas.DeploymentOut,
    responses=schemas.READ_ERRORS,
    operation_id="get_deployment",
)
def api_deployment(context: Context, viewer: Reader, deployment_id: str) -> schemas.DeploymentOut:
    """The deployment, its staff and the blue list's measured true-positive rate (REC-6)."""
    return read_deployment(context, deployment_id)


@api.post(
    "/{deployment_id}/assignments",
    status_code=201,
    response_model=schemas.AssignmentOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="assign_staff",
)
def api_assign(
    context: Context,
    viewer: Planner,
    deployment_id: str,
    body: schemas.AssignmentIn,
    response: Response,
) -> schemas.AssignmentOut:
    """Assign a person in a role they hold and are trained for (TRN-1), never as both
    operator and engagement officer (ADJ-2)."""
    with transaction(context.db) as db:
        user = people.find_user(db, body.username.strip())
        if user is None:
            raise Refusal("DEP-1", f"no account {body.username!r}", "username")
        row = deployments.assign(db, viewer.actor, deployment_id, user.id, body.role)
        answer = schemas.assignment_out(row)
    response.headers["Location"] = f"/api/deployments/{deployment_id}"
    return answer


@api.post(
    "/{deployment_id}/unassign",
    response_model=schemas.DeploymentOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="unassign_staff",
)
def api_unassign(
    context: Context, viewer: Commander, deployment_id: str, body: schemas.UnassignIn
) -> schemas.DeploymentOut:
    """Gold or Silver takes someone off the deployment, saying why (DEP-1)."""
    actor = viewer.actor
    _unassign(context, actor, deployment_id, body.user_id, body.role, body.reason)
    return read_deployment(context, deployment_id)


@api.post(
    "/{deployment_id}/cancel",
    response_model=schemas.DeploymentOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="cancel_deployment",
)
def api_cancel(
    context: Context, viewer: Planner, deployment_id: str, body: schemas.Reason
) -> schemas.DeploymentOut:
    """Cancel a planned deployment, saying why (DEP-2)."""
    _cancel(context, viewer.actor, deployment_id, body.reason)
    return read_deployment(context, deployment_id)


@api.post(
    "/{deployment_id}/end",
    response_model=schemas.StatusOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="end_deployment",
)
def api_end(context: Context, viewer: Commander, deployment_id: str) -> schemas.StatusOut:
    """End a running or halted deployment: its workers stop, its review opens (REV-1) and
    its biometrics go as the retention policy says (WL-6)."""
    context.control.end(viewer.actor, deployment_id)
    return schemas.StatusOut(status=read_deployment(context, deployment_id).status)


@api.post(
    "/{deployment_id}/blue-list",
    status_code=201,
    response_model=schemas.BlueListEntryOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="enrol_blue_list",
)
async def api_enrol_blue_list(
    context: Context,
    viewer: BlueListEnroler,
    deployment_id: str,
    response: Response,
    username: Annotated[str, Form(max_length=80)],
    consent_statement: Annotated[str, Form(max_length=4000)],
    image_source: Annotated[str, Form(max_length=2000)],
    image: Annotated[UploadFile, File()],
    consented: Annotated[bool, Form()] = False,
) -> schemas.BlueListEntryOut:
    """Enrol a consenting member of staff for live testing (REC-6): their alerts are tests,
    never referred, and give the deployment's measured true-positive rate."""
    data = (await read_images([image], "image"))[0]
    draft = BlueListDraft("", consent_statement, consented, image_source)
    actor = viewer.actor
    answer = await asyncio.to_thread(_enrol, context, actor, deployment_id, username, draft, data)
    response.headers["Location"] = f"/api/deployments/{deployment_id}"
    return answer


@cameras_api.get(
    "",
    response_model=list[schemas.CameraOut],
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_cameras",
)
def api_cameras(context: Context, viewer: CameraAdmin) -> list[schemas.CameraOut]:
    """Every camera and its source, a stream's user name and password hidden."""
    with reading(context.db) as db:
        return [
            schemas.CameraOut(name=c.name, source=shown(c.source))
            for c in camera_service.all_cameras(db)
        ]


@cameras_api.post(
    "",
    status_code=201,
    response_model=schemas.CameraOut,
    responses=schemas.CHANGE_ERRORS,
    operation_id="configure_camera",
)
def api_configure_camera(
    context: Context, viewer: CameraAdmin, body: schemas.CameraIn, response: Response
) -> schemas.CameraOut:
    """Set (or change) where a named camera's video comes from (REC-1). A source is saved
    only once a frame has been read from it (refused, 422, with the reason when none can
    be); a `node:<name>` source is read by its node, not checked here."""
    camera_service.check_source_reads(body.source, context.web_settings.camera_source_kinds)
    with transaction(context.db) as db:
        row = camera_service.configure_camera(db, viewer.actor, body.name, body.source)
        answer = schemas.CameraOut(name=row.name, source=shown(row.source))
    response.headers["Location"] = "/api/cameras"
    return answer
