"""Cameras, deployments, their staffing, start checklist and halts (DEP-*)."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import Field

from lfr.db.governance import (
    AssignmentRow,
    DeploymentRow,
)
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Role
from lfr.reports.recognition import RecognitionConfig, stored_recognition
from lfr.web.schemas.base import CameraName, PlaceName, Problem, Schema


class CameraIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=2000)


class CameraOut(Schema):
    """A camera's name and where its frames come from (credentials never shown)."""

    name: str
    source: str


class PlanIn(Schema):
    authority_id: str = Field(max_length=64)
    places: list[PlaceName] = Field(max_length=100)
    cameras: list[CameraName] = Field(max_length=100)


class AssignmentIn(Schema):
    username: str = Field(max_length=80, description="The account's sign-in name.")
    role: Role


class UnassignIn(Schema):
    user_id: str = Field(max_length=64)
    role: Role
    reason: str = Field(max_length=4000)


class AssignmentOut(Schema):
    user_id: str
    role: Role
    assigned_by: str
    assigned_at: datetime


class TestRate(Schema):
    """REC-6: of the consenting staff enrolled on the blue list, how many alerted (each
    walks past the cameras once): the day's measured true-positive rate."""

    enrolled: int
    alerted: int
    rate: float | None


class DeploymentOut(Schema):
    id: str
    authority_id: str
    title: str
    status: DeploymentStatus
    places: list[str]
    cameras: list[str]
    alert_threshold: float | None = Field(
        description="The authority's threshold condition (None: it set none); the threshold "
        "the deployment runs at is `recognition.threshold`."
    )
    recognition: RecognitionConfig | None = Field(
        description="How the deployment recognises, resolved once from the authority, the "
        "settings and the model's calibration: stored when planned, final when started "
        "(REC-2)."
    )
    window_start: datetime
    window_end: datetime
    started_at: datetime | None
    halted_at: datetime | None
    halt_reason: str | None
    finished_at: datetime | None
    cancel_reason: str | None
    assignments: list[AssignmentOut]
    blue_list_test: TestRate


class ChecklistOut(Schema):
    """DEP-1 as it stands: `ready` when nothing is unmet."""

    status: DeploymentStatus
    ready: bool
    unmet: list[Problem]
    warnings: list[Problem] = Field(
        default_factory=list,
        description=(
            "What does not stop the start but should be known first (REC-5): a camera "
            "whose source cannot be read now, or one this machine is expected to process "
            "below the frame rate recognition assumes."
        ),
    )


class NodeDeliveryOut(Schema):
    node: str
    acknowledged_at: datetime | None
    last_seen: datetime | None


class HaltDeliveryOut(Schema):
    """How far the deployment's last halt has reached: published, and which nodes have
    acknowledged it (DEP-2)."""

    reason: str
    recorded_at: datetime
    published_at: datetime | None
    last_error: str | None
    complete: bool
    nodes: list[NodeDeliveryOut]


class StatusOut(Schema):
    """The deployment's status after a start, halt or end; after a halt, how far it has
    reached (`delivery`; poll `GET /api/deployments/{id}/halt`)."""

    status: DeploymentStatus
    delivery: HaltDeliveryOut | None = None


class DeliveryOut(Schema):
    delivery: HaltDeliveryOut | None


def assignment_out(row: AssignmentRow) -> AssignmentOut:
    return AssignmentOut(
        user_id=row.user_id, role=row.role, assigned_by=row.assigned_by, assigned_at=row.assigned_at
    )


def deployment_out(row: DeploymentRow, test_rate: TestRate) -> DeploymentOut:
    return DeploymentOut(
        id=row.id,
        authority_id=row.authority_id,
        title=row.authority.application.title,
        status=row.status,
        places=json.loads(row.places),
        cameras=json.loads(row.cameras),
        alert_threshold=row.alert_threshold,
        recognition=stored_recognition(row.recognition),
        window_start=row.authority.window_start,
        window_end=row.authority.window_end,
        started_at=row.started_at,
        halted_at=row.halted_at,
        halt_reason=row.halt_reason,
        finished_at=row.finished_at,
        cancel_reason=row.cancel_reason,
        assignments=[assignment_out(a) for a in row.assignments],
        blue_list_test=test_rate,
    )
