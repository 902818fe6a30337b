"""A deployment recorded through the real services, with figures known by hand (REV-1).

Five alerts on the watchlist and one blue-list test:

| alert | path | counts as |
|---|---|---|
| dismissed | operator dismisses | false (operator) |
| arrest | referred, engaged, confirmed, arrest; perceived "black" | true, engagement, arrest |
| leaflet | referred, engaged, not confirmed, leaflet; perceived "white" | false, engagement |
| declined | referred, engagement officer declines | unconfirmed |
| other | referred, engaged, confirmed, other action | true, engagement |
| test | blue list, operator dismisses | test alert |

Cameras: cam-north reports 40 then 90 faces, goes down for 60 s, its restarted worker
reports 10 (total 100); cam-south reports 25. Silver halts ("crowd too dense"), then ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lfr.db.base import utcnow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.alerts import Action, Identity, Outcome
from lfr.reports import review
from lfr.reports.monitoring import PerceivedGroup
from lfr.services import alerts, camera_statistics, deployments, reviews
from lfr.services.monitoring import record_perceived_group
from lfr.vision.types import CameraStatus, HealthFigures, ListKind
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import CachingEnroler, World, build_world, match_event

HALT_REASON = "crowd too dense"


@dataclass(frozen=True)
class Recorded:
    world: World
    alert_ids: dict[str, str]


def health(
    world: World,
    camera: str,
    status: CameraStatus,
    at_s: float,
    faces: int,
    start: datetime | None = None,
) -> HealthFigures:
    """A report `at_s` seconds after `start` (default: 181 s ago, so a report at 180 s is the
    last before a halt now)."""
    origin = start or utcnow() - timedelta(seconds=181)
    return HealthFigures(
        deployment_id=world.deployment_id,
        camera=camera,
        status=status,
        at=origin + timedelta(seconds=at_s),
        fps=10,
        faces_per_s=1,
        latency_ms_p50=50,
        latency_ms_p95=90,
        frames=faces * 3,
        faces=faces,
        dropped_frames=0,
        errors=0,
    )


def record_deployment(
    factory: SessionFactory, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> Recorded:
    world = build_world(factory, personas, enroler, faces_dir)
    ids: dict[str, str] = {}
    with transaction(factory) as session:
        for name in ("dismissed", "arrest", "leaflet", "declined", "other"):
            ids[name] = alerts.create_alert(
                session, match_event(world, faces_dir), policy=POLICY
            ).id
        ids["test"] = alerts.create_alert(
            session,
            match_event(world, faces_dir, subject_id=world.blue_id, list_kind=ListKind.BLUE_LIST),
            policy=POLICY,
        ).id
    operator, officer = personas.operator, personas.engagement_officer
    with transaction(factory) as session:
        for alert_id in ids.values():
            alerts.claim_alert(session, operator, alert_id)
        alerts.dismiss_alert(session, operator, ids["dismissed"], "not the same person")
        alerts.dismiss_alert(session, operator, ids["test"], "blue-list test")
        for name in ("arrest", "leaflet", "declined", "other"):
            alerts.refer_alert(session, operator, ids[name])
        alerts.decline_alert(session, officer, ids["declined"], "lost in the crowd")
        for name in ("arrest", "leaflet", "other"):
            alerts.engage_alert(session, officer, ids[name])
        outcomes = {
            "arrest": Outcome(Identity.CONFIRMED, frozenset({Action.ARREST})),
            "leaflet": Outcome(Identity.NOT_CONFIRMED, frozenset({Action.LEAFLET_GIVEN})),
            "other": Outcome(Identity.CONFIRMED, frozenset({Action.OTHER_ACTION}), "advice"),
        }
        for name, outcome in outcomes.items():
            alerts.record_alert_outcome(session, officer, ids[name], outcome)
        record_perceived_group(session, officer, ids["arrest"], PerceivedGroup.BLACK)
        record_perceived_group(session, officer, ids["leaflet"], PerceivedGroup.WHITE)
    reports = [
        health(world, "cam-north", CameraStatus.UP, 0, 40),
        health(world, "cam-north", CameraStatus.UP, 60, 90),
        health(world, "cam-north", CameraStatus.DOWN, 120, 0),
        health(world, "cam-north", CameraStatus.UP, 180, 10),
        health(world, "cam-south", CameraStatus.UP, 30, 25),
        health(world, "cam-south", CameraStatus.UP, 180, 25),  # no frame since 30 s: stalled
    ]
    with transaction(factory) as session:
        for figures in reports:
            camera_statistics.record_health(session, figures)
        deployments.halt_deployment(session, personas.silver, world.deployment_id, HALT_REASON)
        deployments.end_deployment(session, personas.silver, world.deployment_id, policy=POLICY)
    return Recorded(world, ids)


def sign_off(factory: SessionFactory, personas: Personas, recorded: Recorded) -> str:
    """The auditor (reviewer role) assesses and signs the review off; returns its id."""
    with transaction(factory) as session:
        row = review.review_for_deployment(session, recorded.world.deployment_id)
        assert row is not None
        reviews.update_assessment(
            session,
            personas.auditor,
            row.id,
            performance="As forecast.",
            safeguards="Worked.",
            lessons="None new.",
        )
        reviews.sign_off(session, personas.auditor, row.id)
        return row.id


def forbidden_values(
    recorded: Recorded, personas: Personas, enroler: CachingEnroler, faces_dir: Path
) -> list[str]:
    """What must never reach a public page or the open data: subject references and ids,
    people's names and account names, images and templates (as base64 and hex)."""
    import base64
    from dataclasses import fields

    from tests.integration.governance.world import FACES, face_bytes

    values = ["PNC 1", "PNC 2", *recorded.world.entry_ids, recorded.world.blue_id]
    values += list(recorded.alert_ids.values())
    for field in fields(personas):
        actor = getattr(personas, field.name)
        values += [actor.name, actor.user_id]  # account names here are role words
    for face in FACES:
        image = face_bytes(faces_dir, face)
        template = enroler.enrol(image, face).template
        for blob in (image, template):
            values += [base64.b64encode(blob)[8:48].decode(), blob[16:40].hex()]
    return values


def assert_clean(text: str, forbidden: list[str]) -> None:
    found = [value for value in forbidden if value in text]
    assert found == [], f"public output carries {found}"
