"""The fleet (DEP-2, WL-1): enrolled recognition nodes, their link and what they last
reported; an administrator enrols a node's public key, a second one approves it (two-person
rule: the node then receives decrypted watchlist templates), and either revokes a node. The fleet
service enforces the rules; these routes collect the fields and show the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field
from sqlalchemy.orm import Session

from lfr.db.base import utcnow
from lfr.db.fleet import EnrolledNodeRow
from lfr.db.session import reading, transaction
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Refusal
from lfr.services import fleet
from lfr.web import schemas
from lfr.web.access import Admit, Viewer
from lfr.web.deps import Context
from lfr.web.rendering import render

READERS = Admit(Role.ADMINISTRATOR, Role.ENGINEER, Role.GOLD, Role.SILVER)
Reader = Annotated[Viewer, Depends(READERS)]
ADMINISTRATORS = Admit(Role.ADMINISTRATOR)
Administrator = Annotated[Viewer, Depends(ADMINISTRATORS)]

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
                    "awaiting_approval": row is not None and row.approved_at is None,
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
    return _fleet_page(request, context, viewer)


def _fleet_page(
    request: Request,
    context: Context,
    viewer: Viewer,
    refused: dict[str, Any] | None = None,
) -> Response:
    """The fleet; with `refused`, the refusal beside the form that caused it (422)."""
    actor = viewer.actor
    return render(
        request,
        "fleet/index.html",
        {
            "nodes": fleet_view(context),
            "may_administer": actor.has(Role.ADMINISTRATOR),
            "refused": refused,
            "title": "Fleet",
        },
        status=422 if refused else 200,
    )


def _on_page(
    request: Request,
    context: Context,
    viewer: Viewer,
    target: str,
    change: Callable[[Session, Actor], object],
    typed: dict[str, str] | None = None,
) -> Response:
    """Run a change from the Fleet page; a refusal is shown in plain words beside the form
    that caused it (``target``: the node, or ``enrol``), with what was typed kept."""
    try:
        with transaction(context.db) as db:
            change(db, viewer.actor)
    except Refusal as refusal:
        reasons = [unmet.reason for unmet in refusal.unmet]
        refused = {"target": target, "reasons": reasons, "typed": typed or {}}
        return _fleet_page(request, context, viewer, refused)
    return RedirectResponse("/fleet", status_code=303)


@pages.post("/fleet")
def enrol_page(
    request: Request,
    context: Context,
    viewer: Administrator,
    name: Annotated[str, Form(max_length=64)],
    public_key: Annotated[str, Form(max_length=200)],
) -> Response:
    """Enrol a node; it is trusted once a second administrator approves (two-person rule)."""
    return _on_page(
        request,
        context,
        viewer,
        "enrol",
        lambda db, actor: fleet.enrol_node(db, actor, name.strip(), public_key),
        {"name": name, "public_key": public_key},
    )


@pages.post("/fleet/{name}/approve")
def approve_page(request: Request, context: Context, viewer: Administrator, name: str) -> Response:
    return _on_page(
        request, context, viewer, name, lambda db, actor: fleet.approve_node(db, actor, name)
    )


@pages.post("/fleet/{name}/revoke")
def revoke_page(
    request: Request,
    context: Context,
    viewer: Administrator,
    name: str,
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    return _on_page(
        request,
        context,
        viewer,
        name,
        lambda db, actor: fleet.revoke_node(db, actor, name, reason),
        {"reason": reason},
    )


class Enrolment(schemas.Schema):
    name: str = Field(min_length=1, max_length=64, description="The node's name.")
    public_key: str = Field(max_length=200, description="What `lfr fleet keygen` printed.")


class Revocation(schemas.Schema):
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
    """Enrol a node (administrator); it is trusted with nothing until a second administrator
    approves it (`approved_at` stays null). A refusal (422) names the rule and field."""
    with transaction(context.db) as db:
        return _node_change(fleet.enrol_node(db, viewer.actor, body.name, body.public_key))


@api.post(
    "/{name}/approve",
    response_model=schemas.NodeChange,
    responses=schemas.CHANGE_ERRORS,
    operation_id="approve_node",
)
def api_approve(context: Context, viewer: Administrator, name: str) -> dict[str, Any]:
    """Approve a node's enrolment as the second administrator (not the one who enrolled
    it): only then are its messages accepted and a watchlist released to it."""
    with transaction(context.db) as db:
        return _node_change(fleet.approve_node(db, viewer.actor, name))


def _node_change(row: EnrolledNodeRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "enrolled_at": row.enrolled_at.isoformat(),
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


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
        return _node_change(fleet.revoke_node(db, viewer.actor, name, body.reason))
