"""The fleet (DEP-2, WL-1): enrolled recognition nodes, their link and what they last
reported; an administrator enrols a node's public key and revokes a node. The fleet
service enforces the rules; these routes collect the fields and show the result."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from lfr.db.base import utcnow
from lfr.db.session import reading, transaction
from lfr.domain.people import Role
from lfr.services import fleet
from lfr.web import schemas
from lfr.web.access import Admit, Viewer, viewer_of
from lfr.web.deps import Context
from lfr.web.rendering import render

READERS = Admit(Role.ADMINISTRATOR, Role.ENGINEER, Role.GOLD, Role.SILVER)
Reader = Annotated[Viewer | None, Depends(READERS)]
ADMINISTRATORS = Admit(Role.ADMINISTRATOR)
Administrator = Annotated[Viewer | None, Depends(ADMINISTRATORS)]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/fleet", tags=["fleet"])


def fleet_view(context: Context) -> list[dict[str, Any]]:
    """Every node enrolled or heard from: enrolment, revocation, link, last report."""
    at = utcnow()
    with reading(context.db) as db:
        enrolled = {row.name: row for row in fleet.enrolled_nodes(db)}
        reports = {row.name: row for row in fleet.node_statuses(db)}
        nodes = []
        for name in sorted(set(enrolled) | set(reports)):
            row, report = enrolled.get(name), reports.get(name)
            silent = (at - report.last_seen).total_seconds() if report else None
            nodes.append(
                {
                    "name": name,
                    "enrolled": row is not None,
                    "enrolled_at": row.enrolled_at.isoformat() if row else None,
                    "revoked_at": row.revoked_at.isoformat() if row and row.revoked_at else None,
                    "link_up": fleet.link_up(
                        report.last_seen if report else None,
                        at,
                        context.settings.node_unreachable_s,
                    ),
                    "last_seen_s": round(silent, 1) if silent is not None else None,
                    "state": report.state if report else None,
                    "version": report.version if report else None,
                    "deployment_id": report.deployment_id if report else None,
                    "cameras": json.loads(report.cameras) if report else [],
                    "outbox_depth": report.outbox_depth if report else None,
                }
            )
    return nodes


@pages.get("/fleet")
def fleet_page(request: Request, context: Context, viewer: Reader) -> Response:
    actor = viewer_of(viewer).actor
    return render(
        request,
        "fleet/index.html",
        {
            "nodes": fleet_view(context),
            "may_administer": actor.has(Role.ADMINISTRATOR),
            "title": "Fleet",
        },
    )


@pages.post("/fleet")
def enrol_page(
    context: Context,
    viewer: Administrator,
    name: Annotated[str, Form(max_length=64)],
    public_key: Annotated[str, Form(max_length=200)],
) -> Response:
    with transaction(context.db) as db:
        fleet.enrol_node(db, viewer_of(viewer).actor, name.strip(), public_key)
    return RedirectResponse("/fleet", status_code=303)


@pages.post("/fleet/{name}/revoke")
def revoke_page(
    context: Context,
    viewer: Administrator,
    name: str,
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    with transaction(context.db) as db:
        fleet.revoke_node(db, viewer_of(viewer).actor, name, reason)
    return RedirectResponse("/fleet", status_code=303)


class Enrolment(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="The node's name.")
    public_key: str = Field(max_length=200, description="What `lfr fleet keygen` printed.")


class Revocation(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the audit.")


@api.get(
    "",
    response_model=schemas.FleetOut,
    responses=schemas.SIGNED_IN_ERRORS,
    operation_id="list_nodes",
)
def api_fleet(context: Context, viewer: Reader) -> dict[str, Any]:
    """Every node enrolled or heard from, with its link state and last report."""
    return {"nodes": fleet_view(context)}


@api.post(
    "",
    status_code=201,
    response_model=schemas.NodeChange,
    responses=schemas.CHANGE_ERRORS,
    operation_id="enrol_node",
)
def api_enrol(context: Context, viewer: Administrator, body: Enrolment) -> dict[str, Any]:
    """Enrol a node (administrator); a refusal (422) names the rule and field."""
    with transaction(context.db) as db:
        row = fleet.enrol_node(db, viewer_of(viewer).actor, body.name, body.public_key)
        return {"name": row.name, "enrolled_at": row.enrolled_at.isoformat()}


@api.post(
    "/{name}/revoke",
    response_model=schemas.NodeChange,
    responses=schemas.CHANGE_ERRORS,
    operation_id="revoke_node",
)
def api_revoke(
    context: Context, viewer: Administrator, name: str, body: Revocation
) -> dict[str, Any]:
    """Revoke a node (administrator): it receives no watchlist, its messages are refused."""
    with transaction(context.db) as db:
        row = fleet.revoke_node(db, viewer_of(viewer).actor, name, body.reason)
        revoked_at = row.revoked_at.isoformat() if row.revoked_at else None
        return {"name": row.name, "revoked_at": revoked_at}
