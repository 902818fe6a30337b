"""Threshold governance (EQ-1, AUTH-2): below the model's equitable threshold only with a
recorded, audited justification; the forecast the authorising officer sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from lfr.audit import AuditEntry
from lfr.db.governance import AuthorityRow
from lfr.db.reports import ThresholdJustificationRow
from lfr.db.session import SessionFactory, transaction
from lfr.domain.authorisation import Conditions, DecisionKind
from lfr.domain.refusal import Refusal
from lfr.reports import thresholds
from lfr.reports.equitability import GroupScores
from lfr.reports.equitability_evaluation import scores_report
from lfr.services import authorisations
from lfr.services.evaluations import store_evaluation
from lfr.services.people import console_actor
from lfr.vision.thresholds import DEFAULT_ALERT_THRESHOLD
from tests.db_fixtures import Personas
from tests.integration.governance.world import submitted

pytestmark = pytest.mark.db

MODEL = "dlib-resnet-v1"
SHIPPED = thresholds.EvaluatedModel(MODEL)
"""The model with no calibration file of the force's own: the shipped one speaks."""


def store_synthetic_evaluation(factory: SessionFactory) -> None:
    """Group b confuses 100 of its 1,000 impostor pairs at 0.85; group a none. So FMR
    differs significantly at 0.80 and 0.85 and not from 0.90: the equitable floor is 0.90."""
    a = GroupScores(mated=np.full(500, 0.99), non_mated=np.full(1000, 0.5))
    b = GroupScores(
        mated=np.full(500, 0.99), non_mated=np.r_[np.full(900, 0.5), np.full(100, 0.85)]
    )
    result = scores_report({"a": a, "b": b}, [0.80, 0.85, 0.90, 0.95])
    assert result.report["lowest_equitable_threshold"] == 0.90
    with transaction(factory) as session:
        store_evaluation(
            session,
            console_actor(),
            model_version=MODEL,
            dataset="synthetic",
            labels_sha256="0" * 64,
            report=result.report,
            charts=result.charts,
        )


def decide(
    factory: SessionFactory, personas: Personas, threshold: float, justification: str | None
) -> str | None:
    application_id = submitted(factory, personas)
    with transaction(factory) as session:
        result = authorisations.decide_application(
            session,
            personas.authorising_officer,
            application_id,
            DecisionKind.APPROVE_WITH_CONDITIONS,
            "Necessary and proportionate",
            Conditions(alert_threshold=threshold),
            model_version=MODEL,
            engine_threshold=DEFAULT_ALERT_THRESHOLD,
            threshold_justification=justification,
        )
        return result.authority.id if result.authority else None


def count(factory: SessionFactory, model: type) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_threshold_below_the_floor_is_refused_then_accepted_with_justification(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """EQ-1: refused without a justification (nothing written), accepted with one, which
    is stored and audited in the decision's transaction; at the floor no justification."""
    store_synthetic_evaluation(session_factory)
    with pytest.raises(Refusal, match=r"below the equitable threshold 0\.9 ") as refused:
        decide(session_factory, personas, 0.85, None)
    assert refused.value.field == "alert_threshold"
    assert count(session_factory, AuthorityRow) == 0
    authority_id = decide(
        session_factory, personas, 0.85, "Missing child at risk: every minute counts"
    )
    assert authority_id is not None
    with transaction(session_factory) as session:
        justification = session.scalars(select(ThresholdJustificationRow)).one()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "application.threshold_below_equitable")
        ).one()
    assert (justification.threshold, justification.equitable_threshold) == (0.85, 0.90)
    assert entry.reason == "Missing child at risk: every minute counts"
    assert decide(session_factory, personas, 0.90, None) is not None
    assert count(session_factory, ThresholdJustificationRow) == 1


def test_a_fresh_install_is_locked_by_the_figures_shipped_with_the_model(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """EQ-1: with no stored evaluation the shipped equitability figures set the floor. A
    justification stores them as an evaluation in the decision's transaction (audited),
    so the justification names the figures that required it."""
    from lfr.reports.evaluations import latest_evaluation, shipped_equitability

    shipped = shipped_equitability(MODEL)
    assert shipped is not None
    floor = shipped.lowest_equitable_threshold
    assert floor is not None
    assert 0.9 < floor < 0.99
    with pytest.raises(Refusal, match="the figures shipped with the model") as refused:
        decide(session_factory, personas, 0.5, None)
    assert f"equitable threshold {floor:g}" in str(refused.value)
    assert count(session_factory, AuthorityRow) == 0
    assert decide(session_factory, personas, 0.5, "Rehearsal on volunteers only") is not None
    with transaction(session_factory) as session:
        justification = session.scalars(select(ThresholdJustificationRow)).one()
        stored = latest_evaluation(session, MODEL)
        actions = set(session.scalars(select(AuditEntry.action)))
    assert stored is not None
    assert justification.evaluation_id == stored.id
    assert justification.equitable_threshold == floor
    assert stored.dataset == shipped.dataset
    assert stored.lowest_equitable_threshold == floor
    assert {"evaluation.store", "application.threshold_below_equitable"} <= actions
    # At or above the floor no justification is needed.
    assert decide(session_factory, personas, floor, None) is not None
    assert count(session_factory, ThresholdJustificationRow) == 1


def test_a_model_without_figures_is_not_locked(session_factory: SessionFactory) -> None:
    with transaction(session_factory) as session:
        forecast = thresholds.decision_forecast(
            session, 0.5, 10, thresholds.EvaluatedModel("a-model-with-no-figures")
        )
    assert forecast.floor is None
    assert forecast.groups is None


def test_a_fresh_install_forecasts_from_the_shipped_calibration(
    session_factory: SessionFactory,
) -> None:
    """EQ-1, AUTH-2: with no stored evaluation the officer still sees a forecast, in
    calibrated units, from the figures shipped with the model."""
    from lfr.vision.calibration import shipped_calibration

    calibration = shipped_calibration("dlib-resnet-v1")
    assert calibration is not None
    with transaction(session_factory) as session:
        strict = thresholds.decision_forecast(session, 0.96, 1000, SHIPPED)
        loose = thresholds.decision_forecast(session, 0.94, 1000, SHIPPED)
        small = thresholds.decision_forecast(session, 0.94, 10, SHIPPED)
    assert strict.source == loose.source == "shipped calibration"
    # The differential at the typed threshold, from the shipped equitability figures.
    assert loose.groups is not None
    assert set(loose.groups) == {"female", "male"}
    assert loose.groups_threshold is not None
    assert loose.groups_threshold <= 0.94
    assert loose.floor is not None
    assert loose.floor.shipped is not None
    assert loose.below_floor  # 0.94 lies below the shipped equitable threshold
    assert strict.forecast is not None
    assert loose.forecast is not None
    assert strict.false_match_rate == pytest.approx(calibration.false_match_rate(0.96))
    # A stricter threshold: fewer false alerts, fewer people found.
    assert strict.forecast.false_alerts_per_10k_faces < loose.forecast.false_alerts_per_10k_faces
    assert strict.forecast.true_identification_rate < loose.forecast.true_identification_rate
    # The false alerts follow 1 − (1 − FMR)^N from the calibrated FMR.
    fmr = loose.false_match_rate
    assert fmr is not None
    assert small.forecast is not None
    expected = 10_000 * (1 - (1 - fmr) ** 10)
    assert small.forecast.false_alerts_per_10k_faces == pytest.approx(expected)


def test_forecast_reads_the_stored_rates(session_factory: SessionFactory) -> None:
    """At 0.85 the pooled FMR is 100/2000 = 0.05: a watchlist of 10 gives
    FPIR = 1 - 0.95**10 = 0.40126, i.e. 4012.6 false alerts per 10,000 faces; at 0.87
    the forecast reads the 0.85 row (the cautious side); at 0.90 no false alert."""
    store_synthetic_evaluation(session_factory)
    with transaction(session_factory) as session:
        at_085 = thresholds.decision_forecast(session, 0.85, 10, SHIPPED)
        at_087 = thresholds.decision_forecast(session, 0.87, 10, SHIPPED)
        at_090 = thresholds.decision_forecast(session, 0.90, 10, SHIPPED)
        below_range = thresholds.decision_forecast(session, 0.70, 10, SHIPPED)
    assert at_085.forecast is not None
    assert at_085.forecast.false_alerts_per_10k_faces == pytest.approx(4012.6, abs=0.1)
    assert at_085.forecast.true_identification_rate == 1.0
    assert at_085.below_floor
    assert at_087.rates_threshold == 0.85
    assert at_090.forecast is not None
    assert at_090.forecast.false_alerts_per_10k_faces == 0.0
    assert not at_090.below_floor
    assert below_range.forecast is None


def test_a_forces_own_calibration_file_speaks_for_the_scores(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    """Issue 15: a force's `lfr evaluate --calibration-out` file, configured for the engine,
    replaces the shipped calibration on the pages too: an alert's score meaning and the
    forecast read it; one of another model leaves the shipped one in place."""
    from lfr.reports.recognition import FORCE_CALIBRATION
    from lfr.vision.calibration import REFERENCE_RULE, shipped_calibration

    shipped = shipped_calibration(MODEL)
    assert shipped is not None
    reference = shipped.rules[REFERENCE_RULE].scores
    stricter = {REFERENCE_RULE: {"scores": [score + 0.01 for score in reference]}}
    own = shipped.model_validate({**shipped.model_dump(), "rules": stricter}).model_dump_json()
    path = tmp_path / "own.json"
    path.write_text(own)
    forces = thresholds.EvaluatedModel(MODEL, path)
    rate = thresholds.score_false_match_rate(0.951, forces)
    assert rate == pytest.approx(shipped.model_validate_json(own).false_match_rate(0.951))
    assert rate is not None
    assert rate > shipped.false_match_rate(0.951)  # the same score is commoner there
    with transaction(session_factory) as session:
        forecast = thresholds.decision_forecast(session, 0.951, 1000, forces)
    assert forecast.source == FORCE_CALIBRATION
    assert forecast.false_match_rate == pytest.approx(rate)

    path.write_text(own.replace(f'"model_id":"{MODEL}"', '"model_id":"another-model"'))
    assert thresholds.score_false_match_rate(0.951, forces) == pytest.approx(
        shipped.false_match_rate(0.951)
    )


def test_without_a_condition_the_floor_and_forecast_check_the_engines_configured_threshold(
    session_factory: SessionFactory, personas: Personas
) -> None:
    """REC-2, EQ-1: one resolution of the threshold. An authority that sets none runs at
    the engine's configured threshold, so that is what the floor checks and the forecast
    shows (not a constant): below the floor (0.90 here) it needs a justification."""
    from lfr.vision.calibration import shipped_calibration

    store_synthetic_evaluation(session_factory)

    def approve(engine_threshold: float) -> None:
        application_id = submitted(session_factory, personas)
        with transaction(session_factory) as session:
            authorisations.decide_application(
                session,
                personas.authorising_officer,
                application_id,
                DecisionKind.APPROVE,
                "Necessary and proportionate",
                model_version=MODEL,
                engine_threshold=engine_threshold,
            )

    with pytest.raises(Refusal, match=r"alert threshold 0\.85 is below"):
        approve(0.85)
    approve(0.97)
    calibration = shipped_calibration(MODEL)
    assert calibration is not None
    with transaction(session_factory) as session:
        forecast = thresholds.decision_forecast(
            session, None, 100, thresholds.EvaluatedModel(MODEL, None, 0.97)
        )
    assert forecast.threshold == 0.97
    assert forecast.false_match_rate == pytest.approx(calibration.false_match_rate(0.97))


def test_a_fresh_install_running_the_fusion_reads_the_fusions_figures(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    """REC-2, EQ-1: configured with dlib fused with faceres, the lock and the forecast read
    that model's shipped figures and its default threshold, not dlib's."""
    from lfr.settings import Settings
    from lfr.vision.describers.faceres import DLIB_FACERES_CARD
    from tests.tiny_faceres import write_faceres_shaped_model

    faceres = write_faceres_shaped_model(tmp_path / "faceres.onnx")
    parts = [
        {"describer": {"type": "dlib"}, "weight": 0.85},
        {"describer": {"type": "faceres", "model_path": str(faceres)}, "weight": 0.15},
    ]
    settings = Settings(engine={"describer": {"type": "fusion", "parts": parts}})  # type: ignore[arg-type]
    assert settings.evaluated_model_version == DLIB_FACERES_CARD.model_id
    model = thresholds.EvaluatedModel(
        settings.evaluated_model_version, engine_threshold=settings.engine.alert_threshold
    )
    with transaction(session_factory) as session:
        forecast = thresholds.decision_forecast(session, None, 100, model)
    assert forecast.threshold == DLIB_FACERES_CARD.default_threshold
    assert forecast.floor is not None
    assert forecast.floor.model_version == DLIB_FACERES_CARD.model_id
    assert forecast.floor.shipped is not None
    assert forecast.floor.equitable_threshold == forecast.floor.shipped.lowest_equitable_threshold
    from lfr.reports.evaluations import shipped_equitability

    dlib_figures = shipped_equitability(MODEL)
    assert dlib_figures is not None
    assert forecast.floor.equitable_threshold != dlib_figures.lowest_equitable_threshold
    # The fusion's default lies below its floor (docs/evaluation.md says why): locked.
    assert not forecast.floor.allows(forecast.threshold)
    # Its "1 in N" is the fusion's own calibration's, the false-match rate of dlib's default.
    assert forecast.false_match_rate is not None
    assert 5e-6 < forecast.false_match_rate < 1.2e-5
