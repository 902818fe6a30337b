"""The commanders' dashboard."""

from __future__ import annotations

from pydantic import Field

from lfr.domain.alerts import AlertState
from lfr.domain.deployment import DeploymentStatus
from lfr.web.schemas.alerts import AlertOut
from lfr.web.schemas.base import Schema
from lfr.web.schemas.deployments import HaltDeliveryOut


class StateCountOut(Schema):
    state: AlertState
    count: int


class CameraHealthOut(Schema):
    """One camera as the deployment's health shows it (REC-5): counts only, never a face."""

    camera: str
    status: str = Field(description="up, down, stale or unknown; `slow` says when up but slow.")
    slow: bool
    age_s: float | None = Field(description="Seconds since its figures arrived; null: none.")
    fps: float | None
    faces_per_s: float | None
    last_error: str | None
    restarts: int


class DashboardOut(Schema):
    """A deployment at a glance for its Gold, Silver and Bronze: its alerts by state, the
    newest of them, each camera's health and how far its last halt has reached (DEP-2)."""

    deployment_id: str
    title: str
    status: DeploymentStatus
    alerts_by_state: list[StateCountOut]
    latest_alerts: list[AlertOut] = Field(
        description="The newest ten, for a role that reads alerts; empty for Bronze."
    )
    cameras: list[CameraHealthOut]
    halt: HaltDeliveryOut | None
