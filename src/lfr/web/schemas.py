"""The JSON API's contract: one pydantic schema per purpose (what a route takes, what it
answers), so that `/api/openapi.json` describes every route and an integrator can generate a
client from it. Routes build these from rows with the `*_out` functions next to each schema.

Refusals have one shape everywhere under `/api`: `{"detail": [{"rule", "field", "reason"}]}`
(`Problems`), whether a rule of the framework said no, the request did not validate, the
person is not signed in or not admitted, or the object does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lfr.db.governance import (
    AlertRow,
    AssignmentRow,
    AuthorityRow,
    BlueListEntryRow,
    ConsultationRow,
    DeploymentRow,
    WatchlistEntryRow,
    WatchlistRow,
)
from lfr.domain.alerts import Action, AlertState, Identity
from lfr.domain.authorisation import (
    ApplicationStatus,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.deployment import DeploymentStatus
from lfr.domain.people import Role
from lfr.domain.refusal import Unmet
from lfr.reports.recognition import RecognitionConfig, stored_recognition
from lfr.services.alerts import outcome_of
from lfr.vision.types import ListKind


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- refusals -------------------------------------------------------------------------------


class Problem(Schema):
    """One unmet condition: the SPEC rule (or `request`, `sign-in`, `access`, `not-found`),
    the field it concerns and why, in plain words."""

    rule: str
    field: str | None = None
    reason: str


class Problems(Schema):
    """Every reason a request was refused; nothing was changed."""

    detail: list[Problem]


def problems_of(unmet: tuple[Unmet, ...] | list[Unmet]) -> list[dict[str, str | None]]:
    return [{"rule": u.rule, "field": u.field, "reason": u.reason} for u in unmet]


def problems_response(
    status: int, problems: list[dict[str, str | None]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The API's one refusal shape: `{"detail": [{"rule", "field", "reason"}]}`."""
    return JSONResponse({"detail": problems}, status_code=status, headers=headers)


def _refusal(description: str) -> dict[str, Any]:
    return {"model": Problems, "description": description}


PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    422: _refusal("The request did not validate (`rule`: request; `field` names the part)."),
}
SIGNED_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    **PUBLIC_ERRORS,
    401: _refusal("Not signed in (`rule`: sign-in)."),
    403: _refusal(
        "Signed in, but this route is not for your roles, or the CSRF token is missing or not "
        "this session's (`rule`: access)."
    ),
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN_ERRORS,
    404: _refusal("No such object, or not one you may read (`rule`: not-found)."),
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    422: _refusal(
        "A rule of the framework, or the request's own validation, refused it: every unmet "
        "condition is listed with its SPEC rule and field, and nothing was changed."
    ),
}


def as_json_refusals(errors: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same refusals for a route whose success is not JSON (FastAPI would document
    them in the route's own media type): named as JSON explicitly."""
    ref = {"$ref": "#/components/schemas/Problems"}
    return {
        status: {
            "description": answer["description"],
            "content": {"application/json": {"schema": ref}},
        }
        for status, answer in errors.items()
    }


# --- account and sign-in -----------------------------------------------------------------------


class Me(Schema):
    user_id: str
    name: str
    rank: str
    roles: list[str]


class PasswordStep(Schema):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class CodeStep(Schema):
    code: str = Field(min_length=1, max_length=20, description="The current TOTP code.")


class NewPassword(Schema):
    new_password: str = Field(min_length=1, max_length=1000)
    repeat: str = Field(min_length=1, max_length=1000)


class SignInState(Schema):
    """Where the JSON sign-in stands: `stage` is anonymous, second_factor, password_change or
    signed_in. Send `csrf_token` as the `X-CSRF-Token` header with every later request."""

    stage: str
    csrf_token: str
    enrolment_uri: str | None = Field(
        None, description="otpauth:// URI, only while a second factor is still to be enrolled."
    )


# --- applications and authorities -------------------------------------------------------------


class WindowIn(Schema):
    start: datetime
    end: datetime


class ApplicationIn(Schema):
    """An application's answers (AUTH-1); a draft may leave any of them empty."""

    title: str = Field("", max_length=200)
    lawful_basis: str = Field("", max_length=20000)
    legitimate_aim: str = Field("", max_length=20000)
    intelligence_case: str = Field("", max_length=20000)
    necessity: str = Field("", max_length=20000)
    proportionality: str = Field("", max_length=20000)
    alternatives: str = Field("", max_length=20000)
    places: list[str] = Field(default_factory=list, max_length=100)
    place_category: PlaceCategory | None = None
    window: WindowIn | None = None
    cameras: list[str] = Field(default_factory=list, max_length=100)
    scale_justification: str = Field("", max_length=20000)
    watchlist_rationale: str = Field("", max_length=20000)
    watchlist_categories: list[WatchlistCategory] = Field(default_factory=list)
    safeguards: str = Field("", max_length=20000)
    equality_considerations: str = Field("", max_length=20000)
    urgent: bool = False
    urgency_reason: str = Field("", max_length=20000)


class ConsultationOut(Schema):
    id: int
    outcome: ConsultationOutcome
    comments: str
    consulted_by: str
    consulted_at: datetime


class AuthorityOut(Schema):
    """The authority a decision granted; `confirmed_at` is set once a Superintendent confirms
    an urgent one (AUTH-3), and `lapses_at` says when an unconfirmed urgent one stops."""

    id: str
    application_id: str
    wad_sha256: str
    urgent: bool
    window_start: datetime
    window_end: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    lapses_at: datetime | None


class ApplicationSummary(Schema):
    id: str
    title: str
    status: ApplicationStatus
    urgent: bool


class ApplicationOut(Schema):
    id: str
    status: ApplicationStatus
    applicant_id: str
    application: dict[str, Any] = Field(description="The answers, as `ApplicationIn`.")
    decision_kind: DecisionKind | None
    decision_reasons: str | None
    decided_at: datetime | None
    consultations: list[ConsultationOut]
    authority: AuthorityOut | None


class WindowCondition(Schema):
    start: datetime
    end: datetime


class ConditionsIn(Schema):
    """What an approval with conditions narrows (AUTH-2); leave out what stays as applied."""

    max_watchlist_size: int | None = Field(None, ge=1)
    allowed_categories: list[WatchlistCategory] | None = None
    places: list[str] | None = None
    cameras: list[str] | None = None
    window: WindowCondition | None = None
    alert_threshold: float | None = Field(None, gt=0, le=1)


class DecisionIn(Schema):
    kind: DecisionKind
    reasons: str = Field(max_length=20000)
    conditions: ConditionsIn | None = None
    threshold_justification: str | None = Field(None, max_length=20000)


class ConsultationIn(Schema):
    outcome: ConsultationOutcome
    comments: str = Field(max_length=20000)


class Reason(Schema):
    """Why, for the audit log."""

    reason: str = Field(max_length=4000)


class WadOut(Schema):
    """The Written Authority Document as frozen (AUTH-5), checked against its hash."""

    authority_id: str
    sha256: str
    wad: dict[str, Any]


def consultation_out(row: ConsultationRow) -> ConsultationOut:
    return ConsultationOut(
        id=row.id,
        outcome=row.outcome,
        comments=row.comments,
        consulted_by=row.consulted_by,
        consulted_at=row.consulted_at,
    )


def authority_out(row: AuthorityRow, lapses_at: datetime | None) -> AuthorityOut:
    return AuthorityOut(
        id=row.id,
        application_id=row.application_id,
        wad_sha256=row.wad_sha256,
        urgent=row.urgent,
        window_start=row.window_start,
        window_end=row.window_end,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
        lapses_at=lapses_at,
    )


# --- watchlists and the blue list --------------------------------------------------------------


class EntryOut(Schema):
    id: str
    subject_reference: str
    category: WatchlistCategory
    reason: str
    image_source: str
    date_of_birth: date | None
    images: int
    image_qualities: list[float] = Field(
        description="the enrolment gate's quality of each image (0 to 1), in the order added"
    )
    added_at: datetime


class ImageCheckOut(Schema):
    """Whether the enrolment gate would accept one image (WL-5)."""

    name: str = Field(description="the uploaded file's name")
    usable: bool
    quality: float | None = Field(description="0 to 1; null when the image is refused")
    reasons: list[str] = Field(description="why it is refused; empty when usable")


class BlueListEntryOut(Schema):
    id: str
    staff_user_id: str
    consent_statement: str
    image_source: str
    enrolled_at: datetime
    enrolled_by: str


class WatchlistOut(Schema):
    id: str
    authority_id: str
    created_at: datetime
    sealed_at: datetime | None
    biometrics_destroyed_at: datetime | None
    entries: list[EntryOut]
    blue_list: list[BlueListEntryOut]


class WatchlistIn(Schema):
    authority_id: str = Field(max_length=64)


def entry_out(row: WatchlistEntryRow) -> EntryOut:
    return EntryOut(
        id=row.id,
        subject_reference=row.subject_reference,
        category=row.category,
        reason=row.reason,
        image_source=row.image_source,
        date_of_birth=row.date_of_birth,
        images=len(row.images),
        image_qualities=[round(image.quality_score, 3) for image in row.images],
        added_at=row.added_at,
    )


def blue_entry_out(row: BlueListEntryRow) -> BlueListEntryOut:
    return BlueListEntryOut(
        id=row.id,
        staff_user_id=row.staff_user_id,
        consent_statement=row.consent_statement,
        image_source=row.image_source,
        enrolled_at=row.enrolled_at,
        enrolled_by=row.enrolled_by,
    )


def watchlist_out(row: WatchlistRow) -> WatchlistOut:
    return WatchlistOut(
        id=row.id,
        authority_id=row.authority_id,
        created_at=row.created_at,
        sealed_at=row.sealed_at,
        biometrics_destroyed_at=row.biometrics_destroyed_at,
        entries=[entry_out(e) for e in row.entries],
        blue_list=[blue_entry_out(b) for b in row.blue_entries],
    )


# --- cameras, deployments, staffing ------------------------------------------------------------


class CameraIn(Schema):
    name: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=2000)


class CameraOut(Schema):
    """A camera's name and where its frames come from (credentials never shown)."""

    name: str
    source: str


class PlanIn(Schema):
    authority_id: str = Field(max_length=64)
    places: list[str] = Field(max_length=100)
    cameras: list[str] = Field(max_length=100)


class AssignmentIn(Schema):
    username: str = Field(max_length=80, description="The account's sign-in name.")
    role: Role


class UnassignIn(Schema):
    user_id: str = Field(max_length=64)
    role: Role
    reason: str = Field(max_length=4000)


class AssignmentOut(Schema):
    user_id: str
    role: Role
    assigned_by: str
    assigned_at: datetime


class TestRate(Schema):
    """REC-6: of the consenting staff enrolled on the blue list, how many alerted (each
    walks past the cameras once): the day's measured true-positive rate."""

    enrolled: int
    alerted: int
    rate: float | None


class DeploymentOut(Schema):
    id: str
    authority_id: str
    title: str
    status: DeploymentStatus
    places: list[str]
    cameras: list[str]
    alert_threshold: float | None = Field(
        description="The authority's threshold condition (None: it set none); the threshold "
        "the deployment runs at is `recognition.threshold`."
    )
    recognition: RecognitionConfig | None = Field(
        description="How the deployment recognises, resolved once from the authority, the "
        "settings and the model's calibration: stored when planned, final when started "
        "(REC-2)."
    )
    window_start: datetime
    window_end: datetime
    started_at: datetime | None
    halted_at: datetime | None
    halt_reason: str | None
    finished_at: datetime | None
    cancel_reason: str | None
    assignments: list[AssignmentOut]
    blue_list_test: TestRate


class ChecklistOut(Schema):
    """DEP-1 as it stands: `ready` when nothing is unmet."""

    status: DeploymentStatus
    ready: bool
    unmet: list[Problem]
    warnings: list[Problem] = Field(
        default_factory=list,
        description=(
            "What does not stop the start but should be known first (REC-5): a camera "
            "whose source cannot be read now, or one this machine is expected to process "
            "below the frame rate recognition assumes."
        ),
    )


class NodeDeliveryOut(Schema):
    node: str
    acknowledged_at: datetime | None
    last_seen: datetime | None


class HaltDeliveryOut(Schema):
    """How far the deployment's last halt has reached: published, and which nodes have
    acknowledged it (DEP-2)."""

    reason: str
    recorded_at: datetime
    published_at: datetime | None
    last_error: str | None
    complete: bool
    nodes: list[NodeDeliveryOut]


class StatusOut(Schema):
    """The deployment's status after a start, halt or end; after a halt, how far it has
    reached (`delivery`; poll `GET /api/deployments/{id}/halt`)."""

    status: DeploymentStatus
    delivery: HaltDeliveryOut | None = None


class DeliveryOut(Schema):
    delivery: HaltDeliveryOut | None


def assignment_out(row: AssignmentRow) -> AssignmentOut:
    return AssignmentOut(
        user_id=row.user_id, role=row.role, assigned_by=row.assigned_by, assigned_at=row.assigned_at
    )


def deployment_out(row: DeploymentRow, test_rate: TestRate) -> DeploymentOut:
    return DeploymentOut(
        id=row.id,
        authority_id=row.authority_id,
        title=row.authority.application.title,
        status=row.status,
        places=json.loads(row.places),
        cameras=json.loads(row.cameras),
        alert_threshold=row.alert_threshold,
        recognition=stored_recognition(row.recognition),
        window_start=row.authority.window_start,
        window_end=row.authority.window_end,
        started_at=row.started_at,
        halted_at=row.halted_at,
        halt_reason=row.halt_reason,
        finished_at=row.finished_at,
        cancel_reason=row.cancel_reason,
        assignments=[assignment_out(a) for a in row.assignments],
        blue_list_test=test_rate,
    )


# --- alerts --------------------------------------------------------------------------------------


class AlertOut(Schema):
    """An alert without any image (fetch the probe separately, by role: DP-2)."""

    id: str
    deployment_id: str
    camera: str
    state: AlertState
    list_kind: ListKind
    is_test: bool
    score: float = Field(description="calibrated similarity (the same scale whichever rule ran)")
    threshold: float
    score_false_match_rate: float | None = Field(
        description=(
            "how rarely a stranger's face scores this high against one subject: the "
            "evaluated false-match rate of `score`, read when the alert was stored with the "
            "deployment's calibration (None: no calibration recorded)"
        )
    )
    calibration_sha256: str | None = Field(
        description="SHA-256 of the calibration file that gave `score_false_match_rate`."
    )
    observations: int
    captured_at: datetime
    created_at: datetime
    subject_id: str
    factors: dict[str, Any]
    claimed_by: str | None
    referred_by: str | None
    decided_by: str | None
    decision_reason: str | None
    outcome_identity: Identity | None
    outcome_actions: list[Action]
    outcome_notes: str | None
    hold_review_on: date | None
    hold_reason: str | None


class OutcomeIn(Schema):
    identity: Identity
    actions: list[Action] = Field(default_factory=list)
    notes: str = Field("", max_length=4000)


class HoldIn(Schema):
    reason: str = Field(max_length=4000)
    review_on: date = Field(description="When the hold is reviewed (DP-3).")


def alert_out(row: AlertRow) -> AlertOut:
    outcome = outcome_of(row)
    return AlertOut(
        id=row.id,
        deployment_id=row.deployment_id,
        camera=row.camera,
        state=row.state,
        list_kind=row.list_kind,
        is_test=row.is_test,
        score=row.score,
        threshold=row.threshold,
        score_false_match_rate=row.false_match_rate,
        calibration_sha256=row.calibration_sha256,
        observations=row.observations,
        captured_at=row.captured_at,
        created_at=row.created_at,
        subject_id=row.subject_id,
        factors=json.loads(row.factors),
        claimed_by=row.claimed_by,
        referred_by=row.referred_by,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        outcome_identity=outcome.identity if outcome else None,
        outcome_actions=sorted(outcome.actions) if outcome else [],
        outcome_notes=outcome.notes or None if outcome else None,
        hold_review_on=row.hold_review_on,
        hold_reason=row.hold_reason,
    )


# --- the commanders' dashboard -----------------------------------------------------------------


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


# --- reviews and people --------------------------------------------------------------------------


class ReviewOut(Schema):
    """A deployment's review (REV-1): figures frozen once signed off."""

    id: str
    status: str
    figures_sha256: str | None
    figures: dict[str, Any]


class ReviewSummary(Schema):
    id: str
    deployment_id: str
    status: str


class AssessmentIn(Schema):
    performance: str = Field(max_length=20000)
    safeguards: str = Field(max_length=20000)
    lessons: str = Field(max_length=20000)


class TrainingOut(Schema):
    role: Role
    expires_at: datetime


class PersonOut(Schema):
    """An account as administrators see it (never a password or second-factor secret)."""

    id: str
    username: str
    display_name: str
    rank: str
    roles: list[Role]
    active: bool
    training: list[TrainingOut]


# --- reports, audit, public -------------------------------------------------------------------


class ForecastOut(Schema):
    """What the model's evaluation forecasts at a threshold and watchlist size (EQ-1)."""

    threshold: float | None
    watchlist_size: int
    model_version: str | None
    evaluation_id: str | None
    """The stored evaluation behind the floor (None: the shipped figures, or none)."""
    equitable_threshold: float | None
    equitable_threshold_source: str | None = None
    """"stored evaluation" (the force's own), "shipped figures" (measured on a public face
    set, shipped with the model) or None (no figures: nothing is enforced)."""
    below_equitable_threshold: bool
    rates_threshold: float | None
    false_match_rate: float | None
    """The evaluated false-match rate of a score at the threshold (calibrated units)."""
    false_match_one_in: str | None
    """The same, as people read it: "1 in 17,000"."""
    rates_source: str | None
    """Where the rates come from: "evaluation" (the force's stored evaluation), "shipped
    calibration" or "force's calibration" (the engine's calibration file)."""
    groups: dict[str, Any] | None = None
    """Each group's rates at `groups_threshold` (EQ-1): the stored evaluation's, else the
    shipped figures'."""
    groups_threshold: float | None = None
    false_alerts_per_10k_faces: float | None
    true_identification_rate: float | None


class GroupRate(Schema):
    false: int
    concluded: int
    low: float
    high: float


class MonitoringOut(Schema):
    """Outcomes and benefit of every reviewed deployment, and the EQ-2 test."""

    deployments: list[dict[str, Any]]
    totals: dict[str, int]
    perceived_groups: dict[str, GroupRate]
    adjusted_p: dict[str, float]
    differential_flagged: bool


class PerceivedGroupOut(Schema):
    alert_id: str
    perceived_group: str


class AuditEntryOut(Schema):
    sequence: int
    time: datetime
    actor: str
    actor_rank: str | None
    actor_roles: str | None
    action: str
    object_type: str
    object_id: str | None
    summary: str
    reason: str | None
    request_id: str | None
    hash: str


class AuditVerification(Schema):
    """The hash chain checked from the first entry (AUD-1)."""

    ok: bool
    entries_checked: int
    last_sequence: int | None
    head_hash: str | None
    problems: list[str]


class PlannedPublic(Schema):
    """A planned or running deployment as the public page lists it (PUB-1)."""

    title: str
    window: str
    area: str
    purpose: str
    status: str


class PublicDeployments(Schema):
    """Deployments announced and not yet reviewed; results are at /api/public/results."""

    planned: list[PlannedPublic]


# --- the fleet ---------------------------------------------------------------------------------


class NodeOut(Schema):
    """A node enrolled or heard from: enrolment, revocation, link, last report."""

    name: str
    enrolled: bool
    enrolled_at: datetime | None
    revoked_at: datetime | None
    awaiting_approval: bool
    """Enrolled by one administrator, not yet approved by a second: trusted with nothing."""
    link_up: bool
    last_seen_s: float | None
    state: str | None
    version: str | None
    deployment_id: str | None
    cameras: list[str]
    outbox_depth: int | None


class FleetOut(Schema):
    nodes: list[NodeOut]


class NodeChange(Schema):
    """A node after its enrolment, approval or revocation."""

    name: str
    enrolled_at: datetime | None = None
    approved_at: datetime | None = None
    """None until a second administrator approves the enrolment (the console's: at once)."""
    revoked_at: datetime | None = None


# --- the audit log's public anchors (AUD-1) -----------------------------------------------------


class SignedCheckpointOut(Schema):
    """A signed checkpoint (or the signed head): sequence and head hash at a time, with the
    service's Ed25519 signature over them."""

    format: str
    sequence: int
    head_hash: str
    time: str
    public_key: str
    signature: str


class CheckpointFeed(Schema):
    format: str
    public_key: str
    checkpoints: list[SignedCheckpointOut]
