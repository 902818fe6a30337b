"""The JSON API's contract: one pydantic schema per purpose (what a route takes, what it
answers), so that `/api/openapi.json` describes every route and an integrator can generate a
client from it. Routes build these from rows with the `*_out` functions next to each schema.

Refusals have one shape everywhere under `/api`: `{"detail": [{"rule", "field", "reason"}]}`
(`Problems`), whether a rule of the framework said no, the request did not validate, the
person is not signed in or not admitted, or the object does not exist.

One module per area (`base`: the schema and the refusal shape; then accounts,
applications, watchlists, deployments, alerts, dashboard, reviews, people, reports,
audit, public, fleet); everything is re-exported here, so routes write `schemas.X`.
"""

from __future__ import annotations

from lfr.web.schemas.accounts import (
    CodeStep,
    Me,
    NewPassword,
    PasswordStep,
    SignInState,
)
from lfr.web.schemas.alerts import (
    AlertOut,
    HoldIn,
    OutcomeIn,
    alert_out,
)
from lfr.web.schemas.applications import (
    ApplicationIn,
    ApplicationOut,
    ApplicationSummary,
    AuthorityOut,
    ConditionsIn,
    ConsultationIn,
    ConsultationOut,
    DecisionIn,
    Reason,
    WadOut,
    WindowCondition,
    WindowIn,
    authority_out,
    consultation_out,
)
from lfr.web.schemas.audit import (
    AuditEntryOut,
    AuditVerification,
    CheckpointFeed,
    SignedCheckpointOut,
)
from lfr.web.schemas.base import (
    BODY_ERRORS,
    CHANGE_ERRORS,
    PUBLIC_ERRORS,
    READ_ERRORS,
    SIGNED_IN_ERRORS,
    Problem,
    Problems,
    Schema,
    as_json_refusals,
    problems_of,
    problems_response,
)
from lfr.web.schemas.dashboard import (
    CameraHealthOut,
    DashboardOut,
    StateCountOut,
)
from lfr.web.schemas.deployments import (
    AssignmentIn,
    AssignmentOut,
    CameraIn,
    CameraOut,
    ChecklistOut,
    DeliveryOut,
    DeploymentOut,
    HaltDeliveryOut,
    NodeDeliveryOut,
    PlanIn,
    StatusOut,
    TestRate,
    UnassignIn,
    assignment_out,
    deployment_out,
)
from lfr.web.schemas.fleet import (
    FleetOut,
    NodeChange,
    NodeOut,
)
from lfr.web.schemas.people import (
    PersonOut,
    TrainingOut,
)
from lfr.web.schemas.public import (
    PlannedPublic,
    PublicDeployments,
)
from lfr.web.schemas.reports import (
    ForecastOut,
    GroupRate,
    MonitoringOut,
    PerceivedGroupOut,
)
from lfr.web.schemas.reviews import (
    AssessmentIn,
    ReviewOut,
    ReviewSummary,
)
from lfr.web.schemas.watchlists import (
    BlueListEntryOut,
    EntryOut,
    ImageCheckOut,
    WatchlistIn,
    WatchlistOut,
    blue_entry_out,
    entry_out,
    watchlist_out,
)

__all__ = [
    "BODY_ERRORS",
    "CHANGE_ERRORS",
    "PUBLIC_ERRORS",
    "READ_ERRORS",
    "SIGNED_IN_ERRORS",
    "AlertOut",
    "ApplicationIn",
    "ApplicationOut",
    "ApplicationSummary",
    "AssessmentIn",
    "AssignmentIn",
    "AssignmentOut",
    "AuditEntryOut",
    "AuditVerification",
    "AuthorityOut",
    "BlueListEntryOut",
    "CameraHealthOut",
    "CameraIn",
    "CameraOut",
    "ChecklistOut",
    "CheckpointFeed",
    "CodeStep",
    "ConditionsIn",
    "ConsultationIn",
    "ConsultationOut",
    "DashboardOut",
    "DecisionIn",
    "DeliveryOut",
    "DeploymentOut",
    "EntryOut",
    "FleetOut",
    "ForecastOut",
    "GroupRate",
    "HaltDeliveryOut",
    "HoldIn",
    "ImageCheckOut",
    "Me",
    "MonitoringOut",
    "NewPassword",
    "NodeChange",
    "NodeDeliveryOut",
    "NodeOut",
    "OutcomeIn",
    "PasswordStep",
    "PerceivedGroupOut",
    "PersonOut",
    "PlanIn",
    "PlannedPublic",
    "Problem",
    "Problems",
    "PublicDeployments",
    "Reason",
    "ReviewOut",
    "ReviewSummary",
    "Schema",
    "SignInState",
    "SignedCheckpointOut",
    "StateCountOut",
    "StatusOut",
    "TestRate",
    "TrainingOut",
    "UnassignIn",
    "WadOut",
    "WatchlistIn",
    "WatchlistOut",
    "WindowCondition",
    "WindowIn",
    "alert_out",
    "as_json_refusals",
    "assignment_out",
    "authority_out",
    "blue_entry_out",
    "consultation_out",
    "deployment_out",
    "entry_out",
    "problems_of",
    "problems_response",
    "watchlist_out",
]
