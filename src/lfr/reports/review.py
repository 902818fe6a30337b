"""The post-deployment review's figures (REV-1), read from the record, and its rows read
back.

A review opens when its deployment is halted or ends (`lfr.services.reviews.open_review`,
in the halt's or the end's transaction; ending a halted deployment finds it open). While it
is open, its figures are computed here from the record on every reading, so outcomes the
engagement officers record after the end are counted; the sign-off
(`lfr.services.reviews.sign_off`) freezes them, so that the published results and the
review stay what was signed even after the alerts' retention period deletes them. This
module only reads: whatever writes a review is a service.

How alerts are counted (non-test alerts only; blue-list tests are counted apart, REC-6):

| figure | alerts |
|---|---|
| true | engaged, outcome recorded: identity confirmed |
| false | engaged, outcome recorded: identity not confirmed; or dismissed by the operator |
|       | (the operator's scrutiny found the match wrong, ADJ-2) |
| unconfirmed | not engaged, still pending or referred, or engaged with no outcome yet, |
|             | or not adjudicated (still undecided when the deployment ended, closed then) |
| not adjudicated | closed at the end undecided (also counted as unconfirmed) |
| engagements | engaged (with or without an outcome yet) |
| arrests | outcome lists an arrest |

The day's measured true-positive rate (REC-6) is the share of enrolled blue-list staff who
raised at least one test alert: the test protocol has every volunteer walk past the
cameras, so a volunteer without a test alert is a miss.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.audit_log import AuditEntry
from lfr.db.governance import (
    AlertRow,
    DeploymentRow,
    WatchlistRow,
)
from lfr.db.reports import (
    AlertPerceivedGroupRow,
    CameraStatisticsRow,
    DeploymentReviewRow,
)
from lfr.domain.alerts import Action, AlertState, Identity
from lfr.domain.authorisation import read_wad
from lfr.domain.refusal import NotFound
from lfr.reports.evaluations import latest_evaluation, overall_rates_at
from lfr.reports.forecast import forecast_alerts
from lfr.reports.recognition import RecognitionConfig, recognition_of
from lfr.vision.types import SILENT_AFTER_S, CameraStatus

FIGURES_FORMAT = 1


# --- figures from the record ---------------------------------------------------------------


def alert_class(row: AlertRow) -> str:
    """ "true", "false" or "unconfirmed" for a non-test alert (see the module's table)."""
    if row.state is AlertState.DISMISSED:
        return "false"
    if row.state is AlertState.CONCLUDED and row.outcome_identity is Identity.CONFIRMED:
        return "true"
    if row.state is AlertState.CONCLUDED and row.outcome_identity is Identity.NOT_CONFIRMED:
        return "false"
    return "unconfirmed"


def _actions(row: AlertRow) -> set[str]:
    return {a for a in (row.outcome_actions or "").split(",") if a}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _halts(session: Session, deployment_id: str) -> list[dict[str, Any]]:
    """Every halt of the deployment and why, from the audit log (AUD-1)."""
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == "deployment",
            AuditEntry.object_id == deployment_id,
            AuditEntry.action == "deployment.halt",
        )
        .order_by(AuditEntry.sequence)
    )
    return [{"at": e.time.isoformat(), "reason": e.reason or ""} for e in entries]


def _watchlist_figures(session: Session, authority_id: str) -> dict[str, Any]:
    watchlist = session.scalars(
        select(WatchlistRow).where(WatchlistRow.authority_id == authority_id)
    ).one_or_none()
    if watchlist is None:
        return {"size": 0, "categories": {}, "blue_list_size": 0}
    categories = Counter(entry.category.value for entry in watchlist.entries)
    return {
        "size": len(watchlist.entries),
        "categories": dict(sorted(categories.items())),
        "blue_list_size": len(watchlist.blue_entries),
    }


def silence_at_stop(row: CameraStatisticsRow, stopped: datetime | None) -> float:
    """Seconds without frames after a camera's last report, up to the deployment's stop:
    all of it when the camera last said it was down or ended, or fell silent for longer
    than `SILENT_AFTER_S` (a dead worker, a lost link); none for a camera that reported up
    shortly before the stop."""
    if stopped is None:
        return 0.0
    gap = max(0.0, (stopped - row.last_report_at).total_seconds())
    if row.last_status != CameraStatus.UP.value or gap > SILENT_AFTER_S:
        return gap
    return 0.0


def _camera_figures(
    session: Session, deployment: DeploymentRow, stopped: datetime | None
) -> dict[str, Any]:
    """Each camera's counts and its downtime: time without frames, whatever the cause; a
    camera of the deployment that never reported was down from start to stop."""
    rows = {
        r.camera: r
        for r in session.scalars(
            select(CameraStatisticsRow).where(CameraStatisticsRow.deployment_id == deployment.id)
        )
    }
    never = _seconds(deployment.started_at, stopped) or 0.0
    cameras: list[dict[str, Any]] = []
    for camera in sorted(set(rows) | set(json.loads(deployment.cameras))):
        row = rows.get(camera)
        downtime = never if row is None else row.downtime_seconds + silence_at_stop(row, stopped)
        cameras.append(
            {
                "camera": camera,
                "frames": row.frames if row else 0,
                "faces_seen": row.faces_seen if row else 0,
                "errors": row.errors if row else 0,
                "downtime_seconds": round(downtime, 1),
            }
        )
    return {
        "faces_seen": sum(c["faces_seen"] for c in cameras) if rows else None,
        "camera_downtime_seconds": round(sum(c["downtime_seconds"] for c in cameras), 1),
        "cameras": cameras,
    }


def _alert_figures(alerts: list[AlertRow], groups: dict[str, str]) -> dict[str, Any]:
    real = [a for a in alerts if not a.is_test]
    classes = Counter(alert_class(a) for a in real)
    engaged = [a for a in real if a.state in (AlertState.ENGAGED, AlertState.CONCLUDED)]
    outcomes: Counter[str] = Counter()
    for alert in real:
        if alert.state is AlertState.CONCLUDED and alert.outcome_identity is not None:
            outcomes[f"identity_{alert.outcome_identity.value}"] += 1
            outcomes.update(_actions(alert))
    return {
        "alerts": len(real),
        "true_alerts": classes["true"],
        "false_alerts": classes["false"],
        "false_alerts_dismissed_by_operator": sum(
            1 for a in real if a.state is AlertState.DISMISSED
        ),
        "unconfirmed_alerts": classes["unconfirmed"],
        "not_adjudicated_alerts": sum(1 for a in real if a.state is AlertState.NOT_ADJUDICATED),
        "engagements": len(engaged),
        "arrests": sum(1 for a in real if Action.ARREST.value in _actions(a)),
        "outcomes": dict(sorted(outcomes.items())),
        "states": dict(sorted(Counter(a.state.value for a in real).items())),
        "perceived_groups": _group_figures(real, groups),
    }


def _group_figures(real: list[AlertRow], groups: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per perceived group (EQ-2): engaged alerts with an outcome, and the false ones."""
    figures: dict[str, dict[str, int]] = {}
    for alert in real:
        group = groups.get(alert.id)
        if group is None or alert.state is not AlertState.CONCLUDED:
            continue
        entry = figures.setdefault(group, {"concluded": 0, "false": 0})
        entry["concluded"] += 1
        entry["false"] += alert_class(alert) == "false"
    return dict(sorted(figures.items()))


def _test_figures(alerts: list[AlertRow], blue_list_size: int) -> dict[str, Any]:
    tests = [a for a in alerts if a.is_test]
    detected = len({a.subject_id for a in tests})
    return {
        "test_alerts": len(tests),
        "blue_list_members_detected": detected,
        "measured_true_positive_rate": detected / blue_list_size if blue_list_size else None,
    }


def blue_list_test(session: Session, deployment: DeploymentRow) -> dict[str, Any]:
    """REC-6, as the deployment runs: the consenting staff enrolled on its blue list, the
    test alerts they raised and the measured true-positive rate (members detected over
    members enrolled; each walks past the cameras once)."""
    tests = list(
        session.scalars(
            select(AlertRow).where(
                AlertRow.deployment_id == deployment.id, AlertRow.is_test.is_(True)
            )
        )
    )
    size = _watchlist_figures(session, deployment.authority_id)["blue_list_size"]
    return {"blue_list_size": size, **_test_figures(tests, size)}


def _expectation(
    session: Session, recognition: RecognitionConfig, size: int, faces: int | None
) -> dict[str, Any] | None:
    """What the evaluation of the model the deployment ran forecast for its threshold,
    watchlist and crowd: both read from its stored recognition configuration (REC-2), so
    the review states the rule it ran, not today's settings."""
    model_version, threshold = recognition.model_version, recognition.threshold
    evaluation = latest_evaluation(session, model_version)
    if evaluation is None:
        return None
    rates = overall_rates_at(evaluation, threshold)
    if rates is None:
        return None
    forecast = forecast_alerts(
        fmr=rates.fmr, fnmr=rates.fnmr, watchlist_size=size, threshold=threshold
    )
    return {
        "evaluation_id": evaluation.id,
        "model_version": model_version,
        "threshold": threshold,
        "false_alerts_per_10k_faces": forecast.false_alerts_per_10k_faces,
        "expected_false_alerts": (
            forecast.false_positive_identification_rate * faces if faces is not None else None
        ),
        "true_identification_rate": forecast.true_identification_rate,
    }


def compute_figures(session: Session, deployment_id: str) -> dict[str, Any]:
    """Every figure of REV-1 for the deployment, read from the record now; the threshold,
    its false-match rate and the forecast it is held against are those of the deployment's
    stored recognition configuration (`recognition_of`)."""
    deployment = session.get(DeploymentRow, deployment_id)
    if deployment is None:
        raise NotFound("deployment", deployment_id)
    application, decision = read_wad(deployment.authority.wad)
    alerts = list(
        session.scalars(
            select(AlertRow).where(AlertRow.deployment_id == deployment_id).order_by(AlertRow.id)
        )
    )
    recorded_groups = session.execute(
        select(AlertPerceivedGroupRow.alert_id, AlertPerceivedGroupRow.perceived_group).where(
            AlertPerceivedGroupRow.alert_id.in_([a.id for a in alerts])
        )
    )
    groups = {str(alert_id): str(group) for alert_id, group in recorded_groups.all()}
    watchlist = _watchlist_figures(session, deployment.authority_id)
    stopped = deployment.halted_at or deployment.finished_at
    cameras = _camera_figures(session, deployment, stopped if deployment.started_at else None)
    recognition = recognition_of(deployment)
    threshold = recognition.threshold
    figures: dict[str, Any] = {
        "format": FIGURES_FORMAT,
        "deployment_id": deployment.id,
        "title": application.title,
        "places": json.loads(deployment.places),
        "place_category": application.place_category.value if application.place_category else None,
        "status": deployment.status.value,
        "started_at": deployment.started_at.isoformat() if deployment.started_at else None,
        "stopped_at": stopped.isoformat() if stopped else None,
        "time_running_seconds": _seconds(deployment.started_at, stopped),
        "halts": _halts(session, deployment.id),
        "alert_threshold": threshold,
        "alert_threshold_false_match_rate": recognition.false_match_rate,
        "recognition": recognition.model_dump(mode="json"),
        "authorised_by_rank": decision.decided_by_rank.name.replace("_", " ").title(),
        "watchlist": watchlist,
        **cameras,
        **_alert_figures(alerts, groups),
        **_test_figures(alerts, watchlist["blue_list_size"]),
    }
    figures["expectation"] = _expectation(
        session, recognition, watchlist["size"], cameras["faces_seen"]
    )
    return figures


# --- reading reviews -----------------------------------------------------------------------


def get_review(session: Session, review_id: str) -> DeploymentReviewRow:
    row = session.get(DeploymentReviewRow, review_id)
    if row is None:
        raise NotFound("deployment_review", review_id)
    return row


def review_for_deployment(session: Session, deployment_id: str) -> DeploymentReviewRow | None:
    return session.scalars(
        select(DeploymentReviewRow).where(DeploymentReviewRow.deployment_id == deployment_id)
    ).one_or_none()


def list_reviews(session: Session) -> list[DeploymentReviewRow]:
    return list(
        session.scalars(select(DeploymentReviewRow).order_by(DeploymentReviewRow.opened_at))
    )


def figures_of(session: Session, review: DeploymentReviewRow) -> dict[str, Any]:
    """The frozen figures of a signed-off review; the live ones of an open review."""
    if review.figures is not None:
        frozen: dict[str, Any] = json.loads(review.figures)
        return frozen
    return compute_figures(session, review.deployment_id)
