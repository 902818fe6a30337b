"""The post-deployment review (REV-1): figures from the record equal hand counts; the
assessment and sign-off follow the rules and are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lfr.audit import AuditEntry, verify
from lfr.db.governance import DeploymentRow
from lfr.db.reports import ReviewStatus
from lfr.db.session import SessionFactory, transaction
from lfr.domain.refusal import Refusals
from lfr.reports import review
from lfr.services import camera_statistics, deployments, reviews
from lfr.vision.types import CameraStatus
from tests.db_fixtures import POLICY, Personas
from tests.integration.governance.world import World
from tests.integration.reports.recorded import HALT_REASON, Recorded, health

pytestmark = pytest.mark.db


def test_review_opens_at_the_end_with_figures_equal_to_hand_counts(
    session_factory: SessionFactory, recorded: Recorded
) -> None:
    """REV-1, REC-6, EQ-2: every figure, counted by hand from recorded.py's table."""
    with transaction(session_factory) as session:
        row = review.review_for_deployment(session, recorded.world.deployment_id)
        assert row is not None
        assert row.status is ReviewStatus.OPEN
        figures = review.figures_of(session, row)
    assert figures["alerts"] == 5
    assert figures["true_alerts"] == 2
    assert figures["false_alerts"] == 2
    assert figures["false_alerts_dismissed_by_operator"] == 1
    assert figures["unconfirmed_alerts"] == 1
    assert figures["engagements"] == 3
    assert figures["arrests"] == 1
    assert figures["outcomes"] == {
        "arrest": 1,
        "identity_confirmed": 2,
        "identity_not_confirmed": 1,
        "leaflet_given": 1,
        "other_action": 1,
    }
    assert figures["test_alerts"] == 1
    assert figures["measured_true_positive_rate"] == 1.0
    assert figures["faces_seen"] == 125  # cam-north 90 + 10 after its restart, cam-south 25
    # without frames: cam-north down from 120 s to 180 s, cam-south stalled from 30 s to 180 s
    assert figures["camera_downtime_seconds"] == pytest.approx(210.0, abs=1.0)
    assert [c["faces_seen"] for c in figures["cameras"]] == [100, 25]
    assert [h["reason"] for h in figures["halts"]] == [HALT_REASON]
    assert figures["watchlist"] == {
        "size": 2,
        "categories": {"wanted_by_courts": 2},
        "blue_list_size": 1,
    }
    assert figures["perceived_groups"] == {
        "black": {"concluded": 1, "false": 0},
        "white": {"concluded": 1, "false": 1},
    }
    assert figures["time_running_seconds"] is not None
    assert figures["time_running_seconds"] >= 0


def test_sign_off_needs_an_independent_reviewer_and_a_full_assessment(
    session_factory: SessionFactory, personas: Personas, recorded: Recorded
) -> None:
    """REV-1: Silver ran it and cannot review it; a blank assessment cannot be signed off;
    the signed-off figures are frozen and every step is audited."""
    with transaction(session_factory) as session:
        review_id = review.review_for_deployment(session, recorded.world.deployment_id).id  # type: ignore[union-attr]
    with pytest.raises(Refusals) as silver_refused, transaction(session_factory) as session:
        reviews.update_assessment(
            session, personas.silver, review_id, performance="a", safeguards="b", lessons="c"
        )
    assert "member of the deployment" in str(silver_refused.value)
    with pytest.raises(Refusals) as blank_refused, transaction(session_factory) as session:
        reviews.sign_off(session, personas.auditor, review_id)
    assert {u.field for u in blank_refused.value.unmet} >= {
        "performance_assessment",
        "safeguards_assessment",
        "lessons",
    }
    with transaction(session_factory) as session:
        reviews.update_assessment(
            session,
            personas.auditor,
            review_id,
            performance="Two true alerts as expected; one false alert after engagement.",
            safeguards="Operator dismissed one weak match; leaflets given.",
            lessons="Brief engagement officers on the south exit's lighting.",
        )
        signed = reviews.sign_off(session, personas.auditor, review_id)
        assert signed.status is ReviewStatus.SIGNED_OFF
        assert signed.figures_sha256
    with transaction(session_factory) as session:
        frozen = review.figures_of(session, review.get_review(session, review_id))
        actions = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == review_id))
        )
        assert verify(session).ok
    assert frozen["true_alerts"] == 2
    assert actions == ["review.open", "review.assess", "review.sign_off"]
    with pytest.raises(Refusals), transaction(session_factory) as session:
        reviews.update_assessment(
            session, personas.auditor, review_id, performance="x", safeguards="y", lessons="z"
        )


def test_signed_off_figures_outlive_the_alerts_retention(
    session_factory: SessionFactory, personas: Personas, recorded: Recorded
) -> None:
    """DP-1 with REV-1/EQ-2: when the alerts are deleted at the end of their retention
    period, their perceived groups go with them, and the signed-off review (and so the
    published results and the monitoring) keeps its counts."""
    from datetime import timedelta

    from sqlalchemy import func

    from lfr.db.base import utcnow
    from lfr.db.governance import AlertRow
    from lfr.db.reports import AlertPerceivedGroupRow
    from lfr.services import retention
    from tests.integration.reports.recorded import sign_off

    review_id = sign_off(session_factory, personas, recorded)
    with transaction(session_factory) as session:
        report = retention.run_retention(session, now=utcnow() + timedelta(days=400), policy=POLICY)
    assert report.alerts_deleted == 6
    with transaction(session_factory) as session:
        left = session.scalar(select(func.count()).select_from(AlertRow))
        groups_left = session.scalar(select(func.count()).select_from(AlertPerceivedGroupRow))
        figures = review.figures_of(session, review.get_review(session, review_id))
    assert (left, groups_left) == (0, 0)
    assert (figures["alerts"], figures["true_alerts"], figures["arrests"]) == (5, 2, 1)
    assert figures["perceived_groups"]["white"] == {"concluded": 1, "false": 1}


def test_downtime_counts_time_without_frames_whatever_the_cause(
    session_factory: SessionFactory, personas: Personas, world: World
) -> None:
    """REV-1, REC-5: a camera whose clip ended 12 s into a 6-minute run, and then sent
    nothing, was without frames for the rest of the run; a camera that never reported was
    without frames all of it."""
    with transaction(session_factory) as session:
        deployment = session.get(DeploymentRow, world.deployment_id)
        assert deployment is not None
        assert deployment.started_at is not None
        start = deployment.started_at
        for report in (
            health(world, "cam-north", CameraStatus.UP, 5, 10, start),
            health(world, "cam-north", CameraStatus.ENDED, 12, 20, start),
        ):
            camera_statistics.record_health(session, report)
        deployments.halt_deployment(
            session, personas.silver, world.deployment_id, "done", now=start + timedelta(minutes=6)
        )
    with transaction(session_factory) as session:
        figures = review.compute_figures(session, world.deployment_id)
    downtime = {c["camera"]: c["downtime_seconds"] for c in figures["cameras"]}
    assert downtime == {"cam-north": 348.0, "cam-south": 360.0}
    assert figures["camera_downtime_seconds"] == 708.0
    assert figures["faces_seen"] == 20


def test_the_review_states_the_threshold_and_model_the_deployment_ran(
    session_factory: SessionFactory, personas: Personas, planned_world: World
) -> None:
    """REV-1, REC-2: started under settings with another model version and a stricter
    engine threshold, the deployment stores them; its review reads the forecast from that
    model's evaluation at that threshold (not the settings' model of the day), and the
    summary prints that threshold."""
    import numpy as np

    from lfr.reports.equitability import GroupScores
    from lfr.reports.equitability_evaluation import scores_report
    from lfr.reports.recognition import RecognitionSettings
    from lfr.reports.review_export import summary_lines
    from lfr.services.evaluations import store_evaluation
    from lfr.services.people import console_actor
    from lfr.services.policy import GovernancePolicy
    from lfr.vision.engine_config import EngineConfig

    own_model = "force-model-v2"
    scores = GroupScores(mated=np.full(500, 0.99), non_mated=np.full(1000, 0.5))
    result = scores_report({"a": scores, "b": scores}, [0.90, 0.95, 0.97])
    engine = EngineConfig(alert_threshold=0.97)
    policy = GovernancePolicy(recognition=RecognitionSettings(engine, own_model))
    with transaction(session_factory) as session:
        store_evaluation(
            session,
            console_actor(),
            model_version=own_model,
            dataset="synthetic",
            labels_sha256="0" * 64,
            report=result.report,
            charts=result.charts,
        )
        deployments.start_deployment(
            session, personas.silver, planned_world.deployment_id, policy=policy
        )
    with transaction(session_factory) as session:
        deployments.halt_deployment(session, personas.silver, planned_world.deployment_id, "done")
    with transaction(session_factory) as session:
        figures = review.compute_figures(session, planned_world.deployment_id)
    assert figures["alert_threshold"] == 0.97
    assert figures["recognition"]["model_version"] == own_model
    expectation = figures["expectation"]
    assert expectation is not None
    assert (expectation["model_version"], expectation["threshold"]) == (own_model, 0.97)
    lines = dict(summary_lines(figures))
    assert lines["Alert threshold"].startswith("0.97")
    assert "Forecast (evaluation)" in lines
