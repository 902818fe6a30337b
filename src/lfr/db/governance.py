"""Tables of the framework: applications, authorities, watchlists, deployments, alerts.

The rules live in `lfr.domain`; these rows only store what the rules decided. An
application's answers are kept as JSON (`Application.to_json`) because they are read and
written whole; an authority's scope is read from its frozen WAD, never from columns that
could be edited (AUTH-5). Biometric bytes (images, templates, probe crops) are encrypted
at rest with `EncryptedBytes` (DP-2) and live in their own rows so that destroying them
(WL-6, DP-1) removes the row, not a column someone might forget.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lfr.crypto import EncryptedBytes
from lfr.db.base import Base, StrEnumText, UTCDateTime, new_id, utcnow
from lfr.domain.alerts import AlertState, Identity
from lfr.domain.authorisation import ApplicationStatus, ConsultationOutcome, DecisionKind
from lfr.domain.categories import WatchlistCategory
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Role
from lfr.vision.types import ListKind

USER_FK = "user_account.id"


class ApplicationRow(Base):
    """A deployment application (AUTH-1) and, once decided, its decision (AUTH-2)."""

    __tablename__ = "application"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    applicant_id: Mapped[str] = mapped_column(ForeignKey(USER_FK), index=True)
    title: Mapped[str] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ApplicationStatus] = mapped_column(StrEnumText(ApplicationStatus), index=True)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_kind: Mapped[DecisionKind | None] = mapped_column(StrEnumText(DecisionKind))
    decision_reasons: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    consultations: Mapped[list[ConsultationRow]] = relationship(
        back_populates="application", order_by="ConsultationRow.consulted_at", lazy="selectin"
    )


class ConsultationRow(Base):
    """A chief officer's recorded view (AUTH-4)."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    outcome: Mapped[ConsultationOutcome] = mapped_column(StrEnumText(ConsultationOutcome))
    comments: Mapped[str] = mapped_column(Text)
    consulted_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    consulted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    application: Mapped[ApplicationRow] = relationship(back_populates="consultations")


class AuthorityRow(Base):
    """An approval frozen as a Written Authority Document (AUTH-5).

    `wad` is the canonical JSON exactly as hashed; the window columns copy it for queries
    (which authorities are in force) and are checked against it by `lfr audit check`.
    """

    __tablename__ = "authority"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), unique=True)
    wad: Mapped[bytes] = mapped_column(LargeBinary)
    wad_sha256: Mapped[str] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(Boolean)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[ApplicationRow] = relationship(lazy="joined", innerjoin=True)


class WatchlistRow(Base):
    """The one watchlist of one authority (WL-1), sealed at deployment start."""

    __tablename__ = "watchlist"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    authority_id: Mapped[str] = mapped_column(ForeignKey("authority.id"), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    biometrics_destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entries: Mapped[list[WatchlistEntryRow]] = relationship(
        back_populates="watchlist", order_by="WatchlistEntryRow.added_at", lazy="selectin"
    )
    blue_entries: Mapped[list[BlueListEntryRow]] = relationship(
        back_populates="watchlist", order_by="BlueListEntryRow.enrolled_at", lazy="selectin"
    )


class WatchlistEntryRow(Base):
    """One listed subject (WL-3). Its images are `WatchlistImageRow`s."""

    __tablename__ = "watchlist_entry"
    __table_args__ = (UniqueConstraint("watchlist_id", "subject_reference"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    watchlist_id: Mapped[str] = mapped_column(ForeignKey("watchlist.id"), index=True)
    subject_reference: Mapped[str] = mapped_column(String(64))
    category: Mapped[WatchlistCategory] = mapped_column(StrEnumText(WatchlistCategory))
    reason: Mapped[str] = mapped_column(Text)
    image_source: Mapped[str] = mapped_column(Text)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    under_18_justification: Mapped[str | None] = mapped_column(Text)
    attested_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    watchlist: Mapped[WatchlistRow] = relationship(back_populates="entries")
    images: Mapped[list[WatchlistImageRow]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="WatchlistImageRow.id"
    )


class WatchlistImageRow(Base):
    """An enrolled image and its template, encrypted at rest (DP-2); destroyed by WL-6."""

    __tablename__ = "watchlist_image"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(
        ForeignKey("watchlist_entry.id", ondelete="CASCADE"), index=True
    )
    image: Mapped[bytes] = mapped_column(EncryptedBytes("watchlist_image.image"))
    template: Mapped[bytes] = mapped_column(EncryptedBytes("watchlist_image.template"))
    model_id: Mapped[str] = mapped_column(String(80))
    quality_score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[WatchlistEntryRow] = relationship(back_populates="images")


class BlueListEntryRow(Base):
    """A consenting member of staff enrolled for live testing (REC-6).

    Image and template are nulled when the deployment's biometrics are destroyed (WL-6);
    the row stays so the review can still count the day's test alerts by person.
    """

    __tablename__ = "blue_list_entry"
    __table_args__ = (UniqueConstraint("watchlist_id", "staff_user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    watchlist_id: Mapped[str] = mapped_column(ForeignKey("watchlist.id"), index=True)
    staff_user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    consent_statement: Mapped[str] = mapped_column(Text)
    image_source: Mapped[str] = mapped_column(Text)
    enrolled_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    image: Mapped[bytes | None] = mapped_column(EncryptedBytes("blue_list_entry.image"))
    template: Mapped[bytes | None] = mapped_column(EncryptedBytes("blue_list_entry.template"))
    model_id: Mapped[str] = mapped_column(String(80))

    watchlist: Mapped[WatchlistRow] = relationship(back_populates="blue_entries")


class DeploymentRow(Base):
    """One deployment under one authority (WL-1: its watchlist is never reused)."""

    __tablename__ = "deployment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    authority_id: Mapped[str] = mapped_column(ForeignKey("authority.id"), unique=True)
    status: Mapped[DeploymentStatus] = mapped_column(StrEnumText(DeploymentStatus), index=True)
    places: Mapped[str] = mapped_column(Text)
    cameras: Mapped[str] = mapped_column(Text)
    alert_threshold: Mapped[float | None] = mapped_column(Float)
    """The authority's threshold condition (None: it set none); the threshold the
    deployment runs at is in `recognition`."""
    recognition: Mapped[str | None] = mapped_column(Text)
    """The resolved recognition configuration (`lfr.reports.recognition.RecognitionConfig`
    as JSON): stored when planned, final when started; every reader reads it."""
    calibration: Mapped[str | None] = mapped_column(Text)
    """The text of the calibration file `recognition` names (its SHA-256 there): each
    alert's false-match rate is read with it, whatever the settings say later."""
    created_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    halted_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    halted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    halt_reason: Mapped[str | None] = mapped_column(Text)
    finished_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    refused_alerts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Alerts refused because their frame was captured after the deployment stopped."""

    authority: Mapped[AuthorityRow] = relationship(lazy="joined", innerjoin=True)
    assignments: Mapped[list[AssignmentRow]] = relationship(
        back_populates="deployment", order_by="AssignmentRow.id", lazy="selectin"
    )


class AssignmentRow(Base):
    """A person assigned to a deployment in a role (DEP-1, TRN-1)."""

    __tablename__ = "deployment_assignment"
    __table_args__ = (UniqueConstraint("deployment_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    role: Mapped[Role] = mapped_column(StrEnumText(Role))
    assigned_by: Mapped[str] = mapped_column(ForeignKey(USER_FK))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)

    deployment: Mapped[DeploymentRow] = relationship(back_populates="assignments")


class AlertRow(Base):
    """An alert from a running deployment and the human decisions on it (ADJ-1..4).

    `state` and `claimed_by` change only through `lfr.services.alerts`, whose claim is a
    conditional UPDATE so two operators cannot both take one alert. `subject_id` keeps the
    matched entry's id as text: the entry's images may be destroyed (WL-6) before the
    alert's own retention ends (DP-1).
    """

    __tablename__ = "alert"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    camera: Mapped[str] = mapped_column(String(200))
    track_id: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    list_kind: Mapped[ListKind] = mapped_column(StrEnumText(ListKind))
    is_test: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    false_match_rate: Mapped[float | None] = mapped_column(Float)
    """The evaluated false-match rate of `score` ("a stranger scores this high about 1 in
    N"), read when the alert was stored with the deployment's calibration."""
    calibration_sha256: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the calibration that gave `false_match_rate` (None: none, or an alert
    stored before calibrations were recorded)."""
    observations: Mapped[int] = mapped_column(Integer)
    factors: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    emitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """Captured while the deployment ran, arrived after it stopped (a node's backlog)."""
    state: Mapped[AlertState] = mapped_column(StrEnumText(AlertState), index=True)
    claimed_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referred_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    outcome_identity: Mapped[Identity | None] = mapped_column(StrEnumText(Identity))
    outcome_actions: Mapped[str | None] = mapped_column(String(200))
    outcome_notes: Mapped[str | None] = mapped_column(Text)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_by: Mapped[str | None] = mapped_column(ForeignKey(USER_FK))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_review_on: Mapped[date | None] = mapped_column(Date)

    probe: Mapped[AlertProbeRow] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="select"
    )


class AlertProbeRow(Base):
    """The probe face crop of an alert, encrypted at rest (DP-2); deleted with the alert."""

    __tablename__ = "alert_probe"

    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True
    )
    jpeg: Mapped[bytes] = mapped_column(EncryptedBytes("alert_probe.jpeg"))
