"""Per-deployment camera totals from the workers' health figures (REC-5, REV-1, PUB-2).

The review and the published results need "faces seen" and camera downtime; the workers
report them as `HealthFigures` (counts only, never a face: REC-4). A worker's counters
are totals since *that worker* started, so a restarted worker starts again from zero: a
report whose counts fall below the previous one's (or a DOWN report, which carries
zeros) closes that worker run and adds its totals to the base. Downtime is time without
frames, whatever the cause: from a DOWN or ENDED report to the camera's next report, and
an interval in which an UP camera's frame count did not move (a stalled stream). Silence
after the last report (a dead worker, a lost link, a clip that ended) is added by the
review up to the deployment's stop (`lfr.reports.review`).

The central runtime's health sink (`lfr.runtime.control`) calls `record_health` for every
`HealthFigures` it receives; it writes counts, not decisions, so nothing here is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lfr.db.governance import DeploymentRow
from lfr.db.reports import CameraStatisticsRow
from lfr.domain.refusal import NotFound, Refusal
from lfr.vision.types import CameraStatus, HealthFigures


def record_health(session: Session, figures: HealthFigures) -> CameraStatisticsRow:
    """Fold one health report into its camera's running totals."""
    if figures.deployment_id is None:
        raise Refusal("REC-5", "health figures name no deployment", "deployment_id")
    if session.get(DeploymentRow, figures.deployment_id) is None:
        raise NotFound("deployment", figures.deployment_id)
    row = session.scalars(
        select(CameraStatisticsRow)
        .where(
            CameraStatisticsRow.deployment_id == figures.deployment_id,
            CameraStatisticsRow.camera == figures.camera,
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        row = CameraStatisticsRow(
            deployment_id=figures.deployment_id,
            camera=figures.camera,
            base_frames=0,
            base_faces=0,
            base_errors=0,
            last_frames=0,
            last_faces=0,
            last_errors=0,
            downtime_seconds=0.0,
            down_reports=0,
            last_status=figures.status.value,
            first_report_at=figures.at,
            last_report_at=figures.at,
        )
        session.add(row)
    elif figures.at < row.last_report_at:
        return row  # a late, out-of-order report: the totals already include it
    _fold(row, figures)
    session.flush()
    return row


def _fold(row: CameraStatisticsRow, figures: HealthFigures) -> None:
    restarted = figures.frames < row.last_frames or figures.faces < row.last_faces
    stalled = figures.status is CameraStatus.UP and figures.frames == row.last_frames > 0
    if row.last_status != CameraStatus.UP.value or (stalled and not restarted):
        row.downtime_seconds += (figures.at - row.last_report_at).total_seconds()
    if restarted or figures.status is CameraStatus.DOWN:
        row.base_frames += row.last_frames
        row.base_faces += row.last_faces
        row.last_frames = row.last_faces = 0
    if figures.errors < row.last_errors:
        row.base_errors += row.last_errors
    if figures.status is CameraStatus.DOWN:
        row.down_reports += 1
        row.last_errors = figures.errors
    else:
        row.last_frames, row.last_faces, row.last_errors = (
            figures.frames,
            figures.faces,
            figures.errors,
        )
    row.last_status = figures.status.value
    row.last_report_at = figures.at
