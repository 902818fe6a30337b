"""REC-5 admission control through the doors people use: the start checklist (page and
JSON) gives each camera's expected rate when this machine is short of capacity, and with
`over_capacity: refuse` the start is refused naming the cameras, whichever door is used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from lfr.db.session import transaction
from lfr.domain.deployment import DeploymentStatus
from lfr.runtime.engine import run_camera_engine
from lfr.runtime.supervisor import SupervisorSettings
from lfr.services.deployments import get_deployment
from lfr.system import attach_recognition
from lfr.web.context import WebContext
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.conftest import enroler
from tests.integration.governance.world import CAMERAS, CachingEnroler, World, build_world

__all__ = ["enroler"]  # fixtures used here

HAMILTON = "short_hamilton_clip.mp4"  # 640×360 at 29.97 frames/s


def planned_on_hamilton(
    context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    *,
    start: bool = False,
) -> World:
    clip = str(faces_dir.parent / "video" / HAMILTON)
    sources: dict[str, str | None] = dict.fromkeys(CAMERAS, clip)
    return build_world(context.db, personas, enroler, faces_dir, start=start, sources=sources)


def short_of_capacity(over_capacity: str) -> SupervisorSettings:
    """15 frames/s for the deployment's two cameras: 7.5 each, below the 10 assumed."""
    return SupervisorSettings(
        host_frames_per_s=15,
        min_camera_fps=10,
        over_capacity=over_capacity,  # type: ignore[arg-type]
    )


class Checked(NamedTuple):
    world: World
    silver: Any
    checklist: dict[str, Any]


@pytest.fixture
def checked_as(
    web_context: WebContext,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    client_for: Any,
) -> Callable[[str], Checked]:
    """The planned deployment's start checklist as Silver sees it on a machine short of
    capacity, admission set to `over_capacity`."""

    def check(over_capacity: str) -> Checked:
        world = planned_on_hamilton(web_context, personas, enroler, faces_dir)
        attach_recognition(
            web_context, run_camera_engine, supervisor=short_of_capacity(over_capacity)
        )
        silver = client_for(personas.silver)
        checklist = silver.get(f"/api/deployments/{world.deployment_id}/checklist").json()
        return Checked(world, silver, checklist)

    return check


def test_the_checklist_warns_of_each_camera_s_expected_rate(
    checked_as: Callable[[str], Checked],
) -> None:
    world, silver, checklist = checked_as("warn")
    assert checklist["ready"] is True
    assert [(w["rule"], w["field"]) for w in checklist["warnings"]] == [
        ("REC-5", camera) for camera in CAMERAS
    ]
    assert "about 7.5 frames/s expected" in checklist["warnings"][0]["reason"]

    page = silver.get(f"/deployments/{world.deployment_id}").text
    assert 'id="start-warnings"' in page
    assert "about 7.5 frames/s expected (640×360, 2 cameras" in page


def test_refuse_mode_refuses_the_start_naming_the_cameras(
    web_context: WebContext, checked_as: Callable[[str], Checked]
) -> None:
    world, silver, checklist = checked_as("refuse")
    assert checklist["ready"] is False
    assert {(u["rule"], u["field"]) for u in checklist["unmet"]} == {
        ("REC-5", camera) for camera in CAMERAS
    }

    response = silver.post(f"/api/deployments/{world.deployment_id}/start")
    assert response.status_code == 422, response.text
    refused = {(d["rule"], d["field"]) for d in response.json()["detail"]}
    assert refused == {("REC-5", camera) for camera in CAMERAS}
    with transaction(web_context.db) as session:
        assert get_deployment(session, world.deployment_id).status is DeploymentStatus.PLANNED


def test_a_service_set_to_loop_files_plays_each_camera_s_file_again(
    web_context: WebContext, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> None:
    """`loop_files` (demos, training, soak runs): the deployment's workers are told to play
    their file again at its end; off by default, since a real camera is a stream."""
    from lfr.runtime.engine import EngineJob
    from lfr.runtime.reconciler import Planner

    world = planned_on_hamilton(web_context, personas, enroler, faces_dir, start=True)
    with transaction(web_context.db) as session:
        row = get_deployment(session, world.deployment_id)
        looping = Planner(loop_files=True, policy=POLICY).plan(session, row).job
        once = Planner(policy=POLICY).plan(session, row).job
    assert isinstance(looping, EngineJob)
    assert isinstance(once, EngineJob)
    assert (looping.loop, once.loop) == (True, False)
