"""Tables of reviews, transparency and equitability (REV-1, PUB-1..3, EQ-1..3).

Nothing here holds an image, a template or a watchlist subject's reference: the review
keeps counts, the camera statistics keep counts (never a face, REC-4), the public
documents are the force's own framework documents, and an evaluation keeps figures and
charts of a public research set.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lfr.db.base import Base, StrEnumText, UTCDateTime, new_id, utcnow

USER_FK = "user_account.id"


class ReviewStatus(StrEnum):
    OPEN = "open"
    SIGNED_OFF = "signed_off"


class DeploymentReviewRow(Base):
    """The post-deployment review (REV-1): opened when the deployment ends; the figures
    are computed from the record while it is open and frozen (with their SHA-256) when
    the reviewer signs it off."""

    __tablename__ = "deployment_review"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), unique=True)
    status: Mapped[ReviewStatus] = mapped_column(StrEnumText(ReviewStatus), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    performance_assessment: Mapped[str | None] = mapped_column(Text)
    safeguards_assessment: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    figures: Mapped[str | None] = mapped_column(Text)
    figures_sha256: Mapped[str | None] = mapped_column(String(64))


class CameraStatisticsRow(Base):
    """Running totals of one camera of one deployment, fed by its workers' `HealthFigures`
    (REC-5): counts only, never a face (REC-4). A worker's counters restart at zero when
    it restarts, so the totals of earlier worker runs are kept in `base_*`."""

    __tablename__ = "camera_statistics"
    __table_args__ = (UniqueConstraint("deployment_id", "camera"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    camera: Mapped[str] = mapped_column(String(200))
    base_frames: Mapped[int] = mapped_column(Integer, default=0)
    base_faces: Mapped[int] = mapped_column(Integer, default=0)
    base_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_frames: Mapped[int] = mapped_column(Integer, default=0)
    last_faces: Mapped[int] = mapped_column(Integer, default=0)
    last_errors: Mapped[int] = mapped_column(Integer, default=0)
    downtime_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    down_reports: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str] = mapped_column(String(40))
    first_report_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def frames(self) -> int:
        return self.base_frames + self.last_frames

    @property
    def faces_seen(self) -> int:
        return self.base_faces + self.last_faces

    @property
    def errors(self) -> int:
        return self.base_errors + self.last_errors


class PublicationDelayRow(Base):
    """An authority's announcement held back for a recorded operational reason (PUB-1)."""

    __tablename__ = "publication_delay"

    authority_id: Mapped[str] = mapped_column(ForeignKey("authority.id"), primary_key=True)
    publish_from: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PublicDocumentRow(Base):
    """A framework document the force publishes (PUB-3): legal mandate, policy, procedures."""

    __tablename__ = "public_document"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelEvaluationRow(Base):
    """An equitability evaluation of a named model version (EQ-1): the figures as JSON
    and the lowest threshold with no significant false-match differential."""

    __tablename__ = "model_evaluation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    model_version: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dataset: Mapped[str] = mapped_column(Text)
    labels_sha256: Mapped[str] = mapped_column(String(64))
    lowest_equitable_threshold: Mapped[float | None] = mapped_column(Float)
    report: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationChartRow(Base):
    """A chart of an evaluation (PNG), e.g. the DET curves per group."""

    __tablename__ = "evaluation_chart"
    __table_args__ = (UniqueConstraint("evaluation_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[str] = mapped_column(ForeignKey("model_evaluation.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    png: Mapped[bytes] = mapped_column(LargeBinary)


class ThresholdJustificationRow(Base):
    """An alert threshold below the model's equitable threshold, allowed by a recorded
    justification (EQ-1, AUTH-2)."""

    __tablename__ = "threshold_justification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    evaluation_id: Mapped[str] = mapped_column(ForeignKey("model_evaluation.id"))
    threshold: Mapped[float] = mapped_column(Float)
    equitable_threshold: Mapped[float] = mapped_column(Float)
    justification: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertPerceivedGroupRow(Base):
    """The demographic group the engaging officer perceived (EQ-2), optional. Deleted with
    its alert (DP-1); the review keeps only the counts per group."""

    __tablename__ = "alert_perceived_group"

    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True
    )
    perceived_group: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
