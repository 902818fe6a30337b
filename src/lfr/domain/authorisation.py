"""Applications, decisions and authorities (AUTH-1..6), as pure rules.

The life of an application: a draft is edited by its applicant, submitted once complete
(AUTH-1), decided by an authorising officer of the right rank who is not the applicant
(AUTH-2, AUTH-3), and, when approved, frozen as a Written Authority Document whose SHA-256
the audit can check (AUTH-5). A chief officer is consulted and may veto (AUTH-4). An
urgent authority given by an Inspector lapses unless a Superintendent confirms it in time
(AUTH-3). Anything outside the authority's scope needs a new authority (AUTH-6).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from lfr.canonical import canonical_json
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusals, Unmet
from lfr.domain.rules import blank, raise_if_any, refuse, repeated, required


class PlaceCategory(StrEnum):
    """Where LFR may be used: the "where" the Court of Appeal found missing in Bridges."""

    CRIME_HOTSPOT = "crime_hotspot"
    PROTECTIVE_SECURITY = "protective_security"
    SOUGHT_PERSONS_LIKELY = "sought_persons_likely"

    @property
    def label(self) -> str:
        return _PLACE_LABELS[self]


_PLACE_LABELS = {
    PlaceCategory.CRIME_HOTSPOT: "a crime hotspot or its access routes",
    PlaceCategory.PROTECTIVE_SECURITY: (
        "a protective-security operation at an event or critical site"
    ),
    PlaceCategory.SOUGHT_PERSONS_LIKELY: (
        "a place where intelligence shows sought persons are likely to be"
    ),
}


EARLIEST_WINDOW_YEAR, LATEST_WINDOW_YEAR = 1970, 9000
"""The years a window may lie in: beyond them a moment may have no UK time (year 1) or no
date a retention period later (year 9999), which pages and the retention run compute."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open interval [start, end) of aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not (_is_aware(self.start) and _is_aware(self.end)):
            refuse("AUTH-1", "start and end must carry a time zone (UTC)", "window")
        for name, moment in (("start", self.start), ("end", self.end)):
            try:
                moment.astimezone(UTC)
            except OverflowError:
                refuse("AUTH-1", f"the {name} lies outside the calendar in UTC", f"window.{name}")
        for name, moment in (("start", self.start), ("end", self.end)):
            if not EARLIEST_WINDOW_YEAR <= moment.astimezone(UTC).year < LATEST_WINDOW_YEAR:
                refuse(
                    "AUTH-1",
                    f"the {name} must lie between the years {EARLIEST_WINDOW_YEAR} and "
                    f"{LATEST_WINDOW_YEAR}",
                    f"window.{name}",
                )
        if self.end <= self.start:
            refuse("AUTH-1", "the window must end after it starts", "window")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def covers(self, other: TimeWindow) -> bool:
        return self.start <= other.start and other.end <= self.end

    def to_json(self) -> dict[str, str]:
        return {"start": _time_text(self.start), "end": _time_text(self.end)}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> TimeWindow:
        return cls(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))


# --- the application (AUTH-1) ---

TEXT_FIELDS: dict[str, str] = {
    "title": "A short name for the deployment.",
    "lawful_basis": "The lawful basis (common-law policing powers, DPA 2018 Schedule 8 ground).",
    "legitimate_aim": "The legitimate aim pursued.",
    "intelligence_case": "The intelligence case for this place and time.",
    "necessity": "Why the intelligence case makes LFR necessary.",
    "proportionality": "Why the intrusion is proportionate to the likely benefit.",
    "alternatives": "Alternatives tried, failed or discounted, and why.",
    "scale_justification": "Why size, scale and duration are the minimum needed.",
    "watchlist_rationale": "Why these categories of person are sought here.",
    "safeguards": "Deployment-specific safeguards.",
    "equality_considerations": "Equality considerations (Public Sector Equality Duty).",
}
"""Every free-text field of an application, with the question it answers (AUTH-1)."""

LIST_FIELDS: dict[str, str] = {
    "places": "The location(s) of the deployment.",
    "cameras": "The cameras to be used.",
    "watchlist_categories": "The categories of person the watchlist may hold.",
}


@dataclass(frozen=True, slots=True)
class Application:
    """A deployment application; a draft may be incomplete, a submitted one may not."""

    applicant_id: str
    title: str = ""
    lawful_basis: str = ""
    legitimate_aim: str = ""
    intelligence_case: str = ""
    necessity: str = ""
    proportionality: str = ""
    alternatives: str = ""
    places: tuple[str, ...] = ()
    place_category: PlaceCategory | None = None
    window: TimeWindow | None = None
    cameras: tuple[str, ...] = ()
    scale_justification: str = ""
    watchlist_rationale: str = ""
    watchlist_categories: frozenset[WatchlistCategory] = frozenset()
    safeguards: str = ""
    equality_considerations: str = ""
    urgent: bool = False
    urgency_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["places"] = list(self.places)
        data["cameras"] = list(self.cameras)
        data["watchlist_categories"] = sorted(c.value for c in self.watchlist_categories)
        data["place_category"] = self.place_category.value if self.place_category else None
        data["window"] = self.window.to_json() if self.window else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Application:
        values = dict(data)
        values["places"] = tuple(values.get("places", ()))
        values["cameras"] = tuple(values.get("cameras", ()))
        values["watchlist_categories"] = frozenset(
            WatchlistCategory(c) for c in values.get("watchlist_categories", ())
        )
        category = values.get("place_category")
        values["place_category"] = PlaceCategory(category) if category else None
        window = values.get("window")
        values["window"] = TimeWindow.from_json(window) if window else None
        return cls(**values)


def missing_fields(application: Application) -> list[Unmet]:
    """Every AUTH-1 field that is empty, each named; the urgency reason when urgent (AUTH-3)."""
    problems = [
        Unmet("AUTH-1", "required: " + question.lower(), name)
        for name, question in TEXT_FIELDS.items()
        if blank(getattr(application, name))
    ]
    problems += _list_problems("places", application.places)
    problems += _list_problems("cameras", application.cameras)
    if not application.watchlist_categories:
        problems.append(Unmet("AUTH-1", "name at least one category", "watchlist_categories"))
    if application.place_category is None:
        problems.append(Unmet("AUTH-1", "choose the place's category", "place_category"))
    if application.window is None:
        problems.append(Unmet("AUTH-1", "give the time window", "window"))
    if application.urgent and blank(application.urgency_reason):
        problems.append(Unmet("AUTH-3", "say why the matter is urgent", "urgency_reason"))
    return problems


def _list_problems(name: str, values: tuple[str, ...]) -> list[Unmet]:
    if not values:
        return [Unmet("AUTH-1", "name at least one", name)]
    if any(blank(value) for value in values):
        return [Unmet("AUTH-1", "an entry is blank", name)]
    if repeated(values):
        return [Unmet("AUTH-1", "an entry is listed twice", name)]
    return []


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REFUSED = "refused"
    VETOED = "vetoed"
    WITHDRAWN = "withdrawn"


def check_edit(application: Application, status: ApplicationStatus, actor: Actor) -> None:
    """Only the applicant edits, and only a draft: a submitted application is what is decided."""
    problems = _applicant_problems(application, actor)
    if status is not ApplicationStatus.DRAFT:
        problems.append(Unmet("AUTH-5", f"a {status.value} application is frozen", "status"))
    raise_if_any(problems)


def check_submit(application: Application, status: ApplicationStatus, actor: Actor) -> None:
    """Submission needs a complete application (AUTH-1), sent by its applicant."""
    problems = _applicant_problems(application, actor)
    if status is not ApplicationStatus.DRAFT:
        problems.append(Unmet("AUTH-1", f"already {status.value}", "status"))
    raise_if_any(problems + missing_fields(application))


def check_withdraw(application: Application, status: ApplicationStatus, actor: Actor) -> None:
    problems = _applicant_problems(application, actor)
    if status not in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED):
        problems.append(Unmet("AUTH-2", f"a {status.value} application stands", "status"))
    raise_if_any(problems)


def _applicant_problems(application: Application, actor: Actor) -> list[Unmet]:
    problems: list[Unmet] = []
    if not actor.has(Role.APPLICANT):
        problems.append(Unmet("AUTH-1", "needs the applicant role", "actor"))
    if actor.user_id != application.applicant_id:
        problems.append(Unmet("AUTH-1", "only the applicant may change it", "actor"))
    return problems


# --- deciding (AUTH-2, AUTH-3) ---


class DecisionKind(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    REFUSE = "refuse"

    @property
    def approves(self) -> bool:
        return self is not DecisionKind.REFUSE


@dataclass(frozen=True, slots=True)
class Conditions:
    """What an approval may narrow (AUTH-2). `None` means "as applied for"."""

    max_watchlist_size: int | None = None
    allowed_categories: frozenset[WatchlistCategory] | None = None
    places: tuple[str, ...] | None = None
    cameras: tuple[str, ...] | None = None
    window: TimeWindow | None = None
    alert_threshold: float | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_json(self) -> dict[str, Any]:
        categories = self.allowed_categories
        return {
            "max_watchlist_size": self.max_watchlist_size,
            "allowed_categories": sorted(c.value for c in categories) if categories else None,
            "places": list(self.places) if self.places is not None else None,
            "cameras": list(self.cameras) if self.cameras is not None else None,
            "window": self.window.to_json() if self.window else None,
            "alert_threshold": self.alert_threshold,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conditions:
        categories = data.get("allowed_categories")
        places, cameras, window = data.get("places"), data.get("cameras"), data.get("window")
        return cls(
            max_watchlist_size=data.get("max_watchlist_size"),
            allowed_categories=(
                frozenset(WatchlistCategory(c) for c in categories)
                if categories is not None
                else None
            ),
            places=tuple(places) if places is not None else None,
            cameras=tuple(cameras) if cameras is not None else None,
            window=TimeWindow.from_json(window) if window else None,
            alert_threshold=data.get("alert_threshold"),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorising officer's decision, with reasons; `urgent` when the officer's rank was
    enough only because the application was urgent (an Inspector's decision, AUTH-3)."""

    kind: DecisionKind
    reasons: str
    decided_by: str
    decided_by_name: str
    decided_by_rank: Rank
    decided_at: datetime
    conditions: Conditions = field(default_factory=Conditions)
    urgent: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "reasons": self.reasons,
            "decided_by": self.decided_by,
            "decided_by_name": self.decided_by_name,
            "decided_by_rank": self.decided_by_rank.name,
            "decided_at": _time_text(self.decided_at),
            "conditions": self.conditions.to_json(),
            "urgent": self.urgent,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            kind=DecisionKind(data["kind"]),
            reasons=data["reasons"],
            decided_by=data["decided_by"],
            decided_by_name=data["decided_by_name"],
            decided_by_rank=Rank[data["decided_by_rank"]],
            decided_at=datetime.fromisoformat(data["decided_at"]),
            conditions=Conditions.from_json(data["conditions"]),
            urgent=data["urgent"],
        )


def decider_problems(application: Application, actor: Actor) -> list[Unmet]:
    """AUTH-3 ([19]): Superintendent or above; an Inspector only when urgent; never one's own."""
    problems: list[Unmet] = []
    if not actor.has(Role.AUTHORISING_OFFICER):
        problems.append(Unmet("AUTH-3", "needs the authorising officer role", "actor"))
    if actor.user_id == application.applicant_id:
        problems.append(Unmet("AUTH-3", "no one decides their own application", "actor"))
    if actor.rank < Rank.INSPECTOR:
        problems.append(Unmet("AUTH-3", "Inspector or above, and only when urgent", "rank"))
    elif actor.rank < Rank.SUPERINTENDENT and not application.urgent:
        problems.append(
            Unmet("AUTH-3", "Superintendent or above (an Inspector only if urgent)", "rank")
        )
    return problems


SAME_PERSON_CONSULTED_AND_DECIDED = (
    "the chief officer consulted and the officer who decides must be two people: ask another"
)


def decide(
    application: Application,
    status: ApplicationStatus,
    actor: Actor,
    kind: DecisionKind,
    reasons: str,
    at: datetime,
    conditions: Conditions | None = None,
    consulted_by: frozenset[str] = frozenset(),
) -> Decision:
    """Decide a submitted application (AUTH-2); raise with every problem found.
    `consulted_by`: the chief officers already consulted on it (AUTH-4), none of whom
    may decide it: the consultation is a second person's view."""
    given = conditions or Conditions()
    problems = decider_problems(application, actor)
    if actor.user_id in consulted_by:
        problems.append(Unmet("AUTH-3", SAME_PERSON_CONSULTED_AND_DECIDED, "actor"))
    if status is not ApplicationStatus.SUBMITTED:
        problems.append(Unmet("AUTH-2", f"a {status.value} application", "status"))
    problems += required(reasons, Unmet("AUTH-2", "a decision must give its reasons", "reasons"))
    problems += _conditions_problems(application, kind, given)
    raise_if_any(problems)
    return Decision(
        kind=kind,
        reasons=reasons.strip(),
        decided_by=actor.user_id,
        decided_by_name=actor.name,
        decided_by_rank=actor.rank,
        decided_at=at,
        conditions=given,
        urgent=actor.rank < Rank.SUPERINTENDENT,
    )


def _conditions_problems(
    application: Application, kind: DecisionKind, conditions: Conditions
) -> list[Unmet]:
    if kind is DecisionKind.APPROVE_WITH_CONDITIONS and conditions.is_empty:
        return [Unmet("AUTH-2", "approval with conditions names at least one", "conditions")]
    if kind is not DecisionKind.APPROVE_WITH_CONDITIONS and not conditions.is_empty:
        return [Unmet("AUTH-2", f"'{kind.value}' carries no conditions", "conditions")]
    return narrowing_problems(application, conditions)


def narrowing_problems(application: Application, conditions: Conditions) -> list[Unmet]:
    """Conditions can only narrow what was applied for; widening is a new purpose (AUTH-6)."""
    problems: list[Unmet] = []
    size = conditions.max_watchlist_size
    if size is not None and size < 1:
        problems.append(Unmet("AUTH-2", "must be at least 1", "max_watchlist_size"))
    threshold = conditions.alert_threshold
    if threshold is not None and not 0.0 < threshold <= 1.0:
        problems.append(Unmet("AUTH-2", "must lie in (0, 1]", "alert_threshold"))
    allowed = conditions.allowed_categories
    if allowed is not None and not allowed <= application.watchlist_categories:
        problems.append(Unmet("AUTH-6", "not applied for", "allowed_categories"))
    if conditions.places is not None and not set(conditions.places) <= set(application.places):
        problems.append(Unmet("AUTH-6", "not applied for", "places"))
    if conditions.cameras is not None and not set(conditions.cameras) <= set(application.cameras):
        problems.append(Unmet("AUTH-6", "not applied for", "cameras"))
    window = conditions.window
    if window is not None and (application.window is None or not application.window.covers(window)):
        problems.append(Unmet("AUTH-6", "outside the window applied for", "window"))
    for name in ("allowed_categories", "places", "cameras"):
        value = getattr(conditions, name)
        if value is not None and not value:
            problems.append(Unmet("AUTH-2", "an empty condition allows nothing", name))
    return problems


# --- consultation (AUTH-4) and urgent confirmation (AUTH-3) ---


class ConsultationOutcome(StrEnum):
    NO_OBJECTION = "no_objection"
    MITIGATION_REQUIRED = "mitigation_required"
    VETO = "veto"


@dataclass(frozen=True, slots=True)
class Consultation:
    outcome: ConsultationOutcome
    comments: str
    consulted_by: str
    consulted_at: datetime


def consult(
    application: Application,
    status: ApplicationStatus,
    actor: Actor,
    outcome: ConsultationOutcome,
    comments: str,
    at: datetime,
    decided_by: str | None = None,
) -> Consultation:
    """Record a chief officer's view (AUTH-4, [24]): NPCC rank, chief officer role; never
    the applicant's, nor that of `decided_by`, the officer who decided the application."""
    problems: list[Unmet] = []
    if not (actor.has(Role.CHIEF_OFFICER) and actor.rank.is_chief_officer):
        problems.append(Unmet("AUTH-4", "needs a chief officer (NPCC rank)", "actor"))
    if actor.user_id == application.applicant_id:
        problems.append(Unmet("AUTH-4", "the applicant cannot be consulted", "actor"))
    if actor.user_id == decided_by:
        problems.append(Unmet("AUTH-4", SAME_PERSON_CONSULTED_AND_DECIDED, "actor"))
    if status not in (ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED):
        problems.append(Unmet("AUTH-4", f"a {status.value} application", "status"))
    if outcome is not ConsultationOutcome.NO_OBJECTION and blank(comments):
        problems.append(Unmet("AUTH-4", "a veto or mitigation needs reasons", "comments"))
    raise_if_any(problems)
    return Consultation(outcome, comments.strip(), actor.user_id, at)


@dataclass(frozen=True, slots=True)
class Authority:
    """An approved application with its decision, consultations and urgent confirmation."""

    application: Application
    decision: Decision
    consultations: tuple[Consultation, ...] = ()
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None

    @property
    def vetoed(self) -> bool:
        return any(c.outcome is ConsultationOutcome.VETO for c in self.consultations)

    @property
    def consulted(self) -> bool:
        return bool(self.consultations)

    @property
    def scope(self) -> Scope:
        return scope_of(self.application, self.decision.conditions)


def urgent_lapse_time(authority: Authority, validity: timedelta) -> datetime | None:
    """When an unconfirmed urgent authority lapses; None when it cannot lapse (AUTH-3)."""
    if not authority.decision.urgent or authority.confirmed_at is not None:
        return None
    return authority.decision.decided_at + validity


def confirm_urgent(
    authority: Authority, actor: Actor, at: datetime, validity: timedelta
) -> Authority:
    """A Superintendent confirms an Inspector's urgent authority before it lapses (AUTH-3)."""
    problems: list[Unmet] = []
    lapse = urgent_lapse_time(authority, validity)
    if not authority.decision.urgent:
        problems.append(Unmet("AUTH-3", "not an urgent authority", "authority"))
    elif lapse is None:
        problems.append(Unmet("AUTH-3", "already confirmed", "authority"))
    elif at >= lapse:
        problems.append(Unmet("AUTH-3", "lapsed; apply again", "authority"))
    if actor.rank < Rank.SUPERINTENDENT or not actor.has(Role.AUTHORISING_OFFICER):
        problems.append(Unmet("AUTH-3", "needs a Superintendent authorising officer", "actor"))
    if actor.user_id == authority.application.applicant_id:
        problems.append(Unmet("AUTH-3", "no one confirms their own application", "actor"))
    raise_if_any(problems)
    return replace(authority, confirmed_by=actor.user_id, confirmed_at=at)


def authority_problems(
    authority: Authority, at: datetime, urgent_validity: timedelta
) -> list[Unmet]:
    """Why the authority is not in force at `at` (empty when it is)."""
    problems: list[Unmet] = []
    if not authority.decision.kind.approves:
        problems.append(Unmet("AUTH-2", "the application was refused", "authority"))
    if authority.vetoed:
        problems.append(Unmet("AUTH-4", "vetoed by a chief officer", "authority"))
    lapse = urgent_lapse_time(authority, urgent_validity)
    if lapse is not None and at >= lapse:
        problems.append(
            Unmet("AUTH-3", "urgent authority lapsed without confirmation", "authority")
        )
    if at < authority.decision.decided_at:
        problems.append(Unmet("AUTH-2", "not yet decided at that time", "authority"))
    if at >= authority.scope.window.end:
        problems.append(Unmet("AUTH-1", "the authorised window has ended", "window"))
    return problems


def in_force(authority: Authority, at: datetime, urgent_validity: timedelta) -> bool:
    return not authority_problems(authority, at, urgent_validity)


# --- scope (AUTH-6) ---


@dataclass(frozen=True, slots=True)
class Scope:
    """What an authority allows once its conditions have narrowed the application."""

    places: tuple[str, ...]
    place_category: PlaceCategory
    cameras: tuple[str, ...]
    window: TimeWindow
    categories: frozenset[WatchlistCategory]
    max_watchlist_size: int | None
    alert_threshold: float | None


def scope_of(application: Application, conditions: Conditions) -> Scope:
    if application.window is None or application.place_category is None:
        raise Refusals(missing_fields(application))
    return Scope(
        places=conditions.places if conditions.places is not None else application.places,
        place_category=application.place_category,
        cameras=conditions.cameras if conditions.cameras is not None else application.cameras,
        window=conditions.window or application.window,
        categories=(
            conditions.allowed_categories
            if conditions.allowed_categories is not None
            else application.watchlist_categories
        ),
        max_watchlist_size=conditions.max_watchlist_size,
        alert_threshold=conditions.alert_threshold,
    )


def outside_scope(
    scope: Scope,
    *,
    categories: Iterable[WatchlistCategory] = (),
    places: Iterable[str] = (),
    cameras: Iterable[str] = (),
    window: TimeWindow | None = None,
) -> list[Unmet]:
    """Every asked-for purpose the authority does not cover: each needs a new one (AUTH-6)."""
    new = "not covered by the authority: a new purpose needs a new authority"
    problems = [
        Unmet("AUTH-6", f"{c.value} {new}", "category")
        for c in sorted(set(categories) - scope.categories)
    ]
    problems += [Unmet("AUTH-6", f"{p} {new}", "place") for p in _extra(places, scope.places)]
    problems += [Unmet("AUTH-6", f"{c} {new}", "camera") for c in _extra(cameras, scope.cameras)]
    if window is not None and not scope.window.covers(window):
        problems.append(Unmet("AUTH-6", f"the time {new}", "window"))
    return problems


def _extra(asked: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    return sorted(set(asked) - set(allowed))


# --- the Written Authority Document (AUTH-5) ---

WAD_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class WrittenAuthority:
    """The frozen record of what was authorised: canonical JSON bytes and their SHA-256."""

    document: bytes
    sha256: str


def freeze_wad(application: Application, decision: Decision) -> WrittenAuthority:
    """Freeze an approval as the WAD; a refusal authorises nothing and has none (AUTH-5)."""
    if not decision.kind.approves:
        refuse("AUTH-5", "only an approval is frozen as a Written Authority Document", "decision")
    document = canonical_json(
        {
            "schema": WAD_SCHEMA,
            "application": application.to_json(),
            "decision": decision.to_json(),
        }
    ).encode("utf-8")
    return WrittenAuthority(document, hashlib.sha256(document).hexdigest())


def verify_wad(document: bytes, expected_sha256: str) -> None:
    """AUTH-5: the stored document still hashes to the hash recorded when it was frozen."""
    if hashlib.sha256(document).hexdigest() != expected_sha256:
        refuse("AUTH-5", "the Written Authority Document was changed after approval", "wad")


def read_wad(document: bytes) -> tuple[Application, Decision]:
    """The application and decision a WAD froze: services read the scope from here."""
    data = json.loads(document)
    if data.get("schema") != WAD_SCHEMA:
        refuse("AUTH-5", f"unknown document schema {data.get('schema')!r}", "wad")
    return Application.from_json(data["application"]), Decision.from_json(data["decision"])


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _time_text(moment: datetime) -> str:
    """ISO 8601 in UTC, so that equal instants give equal bytes in the WAD."""
    return moment.astimezone(UTC).isoformat()


def wad_as_text(document: bytes, sha256: str) -> str:
    """The WAD as plain text (AUTH-5; `…/wad.txt`, while the page and the PDF show the same
    terms from `lfr.web.authority_view`): every answer of the application, the decision
    with its reasons and conditions, and the hash that lets a reader check a printed copy
    against the stored one."""
    verify_wad(document, sha256)
    application, decision = read_wad(document)
    lines = [f"WRITTEN AUTHORITY DOCUMENT: {application.title}", f"SHA-256 {sha256}", ""]
    answers = application.to_json()
    for name in (*TEXT_FIELDS, *LIST_FIELDS, "place_category", "window", "urgent"):
        value = answers[name]
        if name == "place_category" and application.place_category is not None:
            value = application.place_category.label
        elif name == "window" and application.window is not None:
            value = f"{value['start']} to {value['end']}"
        elif isinstance(value, list):
            value = "; ".join(value)
        lines.append(f"{name.replace('_', ' ').capitalize()}: {value}")
    if application.urgent:
        lines.append(f"Urgency: {application.urgency_reason}")
    rank = decision.decided_by_rank.name.replace("_", " ").title()
    lines += [
        "",
        f"Decision: {decision.kind.value.replace('_', ' ')}",
        f"By: {decision.decided_by_name} ({rank})",
        f"At: {_time_text(decision.decided_at)}",
        f"Reasons: {decision.reasons}",
    ]
    conditions = {k: v for k, v in decision.conditions.to_json().items() if v is not None}
    lines += [f"Condition, {k.replace('_', ' ')}: {v}" for k, v in sorted(conditions.items())]
    return "\n".join(lines) + "\n"
