"""A deployment's recognition configuration is resolved once and recorded (REC-2, AUTH-2):
planned, then final at the start, audited; alerts are checked against it and read their
"1 in N" with its calibration, whatever the settings say afterwards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from lfr.audit import AuditEntry
from lfr.db.governance import AlertRow, DeploymentRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.refusal import Refusal
from lfr.reports.recognition import RecognitionSettings, recognition_of
from lfr.services import alerts, deployments
from lfr.services.policy import GovernancePolicy
from lfr.vision.calibration import REFERENCE_RULE, shipped_calibration_file
from lfr.vision.engine_config import EngineConfig
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import CachingEnroler, build_world, match_event

pytestmark = pytest.mark.db

MODEL = "dlib-resnet-v1"


def _forces_calibration(tmp_path: Path) -> Path:
    """The force's own calibration file: stricter than the shipped one (a score is
    commoner among strangers there)."""
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    reference = shipped.calibration.rules[REFERENCE_RULE].scores
    rules = {REFERENCE_RULE: {"scores": [score + 0.01 for score in reference]}}
    own = shipped.calibration.model_validate({**shipped.calibration.model_dump(), "rules": rules})
    path = tmp_path / "force.json"
    path.write_text(own.model_dump_json())
    return path


def test_the_start_records_the_configuration_the_alerts_are_held_to(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    tmp_path: Path,
) -> None:
    """Planned under the shipped settings, started under settings with a stricter engine
    threshold (0.97) and the force's calibration file: the start records those, audited;
    an alert matched at the shipped default is refused; an alert's false-match rate and
    calibration digest come from the recorded calibration, not from today's settings
    (which name no file)."""
    world = build_world(session_factory, personas, enroler, faces_dir, start=False)
    with transaction(session_factory) as session:
        planned = recognition_of(deployments.get_deployment(session, world.deployment_id))
    shipped = shipped_calibration_file(MODEL)
    assert shipped is not None
    assert (planned.threshold, planned.threshold_source) == (
        DEFAULT_ALERT_THRESHOLD,
        "engine setting",
    )
    assert planned.calibration is not None
    assert planned.calibration.sha256 == shipped.sha256

    calibration = _forces_calibration(tmp_path)
    engine = EngineConfig(alert_threshold=0.97, calibration_path=calibration)
    policy = GovernancePolicy(recognition=RecognitionSettings(engine, MODEL))
    with transaction(session_factory) as session:
        deployments.start_deployment(session, personas.silver, world.deployment_id, policy=policy)
    with transaction(session_factory) as session:
        row = session.get(DeploymentRow, world.deployment_id)
        assert row is not None
        recorded = recognition_of(row)
        started = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "deployment.start", AuditEntry.object_id == row.id
            )
        ).one()
        audited = json.loads(started.after or "{}")["recognition"]
    digest = hashlib.sha256(calibration.read_bytes()).hexdigest()
    assert recorded.threshold == 0.97
    assert recorded.calibration is not None
    assert recorded.calibration.sha256 == digest
    assert recorded.calibration.source == "force's calibration"
    assert audited["threshold"] == 0.97
    assert audited["calibration"]["sha256"] == digest

    with pytest.raises(Refusal) as refused, transaction(session_factory) as session:
        alerts.create_alert(
            session, match_event(world, faces_dir, score=0.98, threshold=0.946), policy=POLICY
        )
    assert (refused.value.rule, refused.value.field) == ("REC-2", "threshold")

    calibration.unlink()  # the file is gone: the deployment keeps what it started with
    with transaction(session_factory) as session:
        event = match_event(world, faces_dir, score=0.975, threshold=0.97)
        alert_id = alerts.create_alert(session, event, policy=POLICY).id
    with transaction(session_factory) as session:
        alert = session.get(AlertRow, alert_id)
        assert alert is not None
        assert alert.calibration_sha256 == digest
        force = shipped.calibration.model_validate_json(
            row.calibration or ""  # the text stored with the deployment
        )
        assert alert.false_match_rate == pytest.approx(force.false_match_rate(0.975))
        assert alert.false_match_rate != pytest.approx(shipped.calibration.false_match_rate(0.975))


def test_the_planner_runs_the_recorded_threshold_and_refuses_another_calibration(
    session_factory: SessionFactory,
    personas: Personas,
    enroler: CachingEnroler,
    faces_dir: Path,
    video_dir: Path,
    tmp_path: Path,
) -> None:
    """REC-2: the workers run the deployment's recorded threshold whatever the engine is
    configured with; an engine whose calibration is not the recorded one (the settings
    changed since the start) does not run it, naming what differs."""
    from lfr.runtime.engine import EngineJob
    from lfr.runtime.reconciler import Planner

    world = build_world(session_factory, personas, enroler, faces_dir)  # cameras read a clip
    with transaction(session_factory) as session:
        row = deployments.get_deployment(session, world.deployment_id)
        job = Planner(EngineConfig(alert_threshold=0.99), policy=POLICY).plan(session, row).job
        assert isinstance(job, EngineJob)
        assert (
            job.config.alert_threshold == recognition_of(row).threshold == DEFAULT_ALERT_THRESHOLD
        )
        other = Planner(EngineConfig(calibration_path=_forces_calibration(tmp_path)), policy=POLICY)
        with pytest.raises(Refusal, match="calibration") as refused:
            other.plan(session, row)
    assert refused.value.rule == "REC-2"
