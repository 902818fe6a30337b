"""Personas and builders for the pure-rule tests (no database, no fixtures needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from lfr.domain.authorisation import (
    Application,
    ApplicationStatus,
    Authority,
    Consultation,
    ConsultationOutcome,
    DecisionKind,
    PlaceCategory,
    TimeWindow,
    decide,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The deployment window opens here; every test time is relative to it."""

URGENT_VALIDITY = timedelta(hours=72)


def person(user_id: str, rank: Rank, *roles: Role) -> Actor:
    return Actor(
        user_id=user_id, name=user_id.replace("-", " ").title(), rank=rank, roles=frozenset(roles)
    )


APPLICANT = person("applicant", Rank.INSPECTOR, Role.APPLICANT)
SUPERINTENDENT = person("superintendent", Rank.SUPERINTENDENT, Role.AUTHORISING_OFFICER)
INSPECTOR = person("inspector", Rank.INSPECTOR, Role.AUTHORISING_OFFICER)
CHIEF = person("chief", Rank.COMMANDER, Role.CHIEF_OFFICER)
GOLD = person("gold", Rank.CHIEF_SUPERINTENDENT, Role.GOLD)
SILVER = person("silver", Rank.SUPERINTENDENT, Role.SILVER)
BRONZE = person("bronze", Rank.INSPECTOR, Role.BRONZE)
OPERATOR = person("operator", Rank.STAFF, Role.OPERATOR)
OPERATOR_2 = person("operator-2", Rank.STAFF, Role.OPERATOR)
ENGAGER = person("engager", Rank.CONSTABLE, Role.ENGAGEMENT_OFFICER)
ENGAGER_2 = person("engager-2", Rank.CONSTABLE, Role.ENGAGEMENT_OFFICER)
ENGINEER = person("engineer", Rank.STAFF, Role.ENGINEER)
AUDITOR = person("auditor", Rank.STAFF, Role.REVIEWER)
OUTSIDER = person("outsider", Rank.CONSTABLE)


def complete_application(**changes: object) -> Application:
    values: dict[str, object] = {
        "applicant_id": APPLICANT.user_id,
        "title": "Town centre, Saturday",
        "lawful_basis": "Common-law policing powers; DPA 2018 s35, Schedule 8 para 1",
        "legitimate_aim": "Prevention and detection of crime",
        "intelligence_case": "Robberies clustered around the station exits",
        "necessity": "Suspects evade patrols; LFR finds them in the crowd",
        "proportionality": "Four hours, two cameras, a small watchlist",
        "alternatives": "Patrols and CCTV review tried; insufficient",
        "places": ("Station exit north", "Station exit south"),
        "place_category": PlaceCategory.CRIME_HOTSPOT,
        "window": TimeWindow(T0, T0 + timedelta(hours=4)),
        "cameras": ("cam-north", "cam-south"),
        "scale_justification": "Two exits cover the routes; four hours cover the peak",
        "watchlist_rationale": "Wanted robbery suspects",
        "watchlist_categories": frozenset(
            {WatchlistCategory.WANTED_BY_COURTS, WatchlistCategory.SUSPECTED_OF_OFFENCE}
        ),
        "safeguards": "Signage, leaflets, immediate deletion of non-matches",
        "equality_considerations": "Threshold chosen from the published evaluation",
    }
    values.update(changes)
    return Application(**values)  # type: ignore[arg-type]


def approved_authority(
    application: Application | None = None,
    decider: Actor = SUPERINTENDENT,
    consulted: bool = True,
) -> Authority:
    app = application or complete_application()
    decision = decide(
        app,
        ApplicationStatus.SUBMITTED,
        decider,
        DecisionKind.APPROVE,
        "Necessary and proportionate",
        T0 - timedelta(days=2),
    )
    consultations = (
        (Consultation(ConsultationOutcome.NO_OBJECTION, "", CHIEF.user_id, T0 - timedelta(days=1)),)
        if consulted
        else ()
    )
    return Authority(app, decision, consultations)


def refusals(action: Callable[[], object]) -> set[tuple[str, str | None]]:
    """The (rule, field) pairs `action` is refused with; empty when it is allowed, so one
    table row can say "allowed" (an empty set) or name exactly what is refused."""
    try:
        action()
    except Refusal as refusal:
        return {(unmet.rule, unmet.field) for unmet in refusal.unmet}
    return set()


def fields_of(error: pytest.ExceptionInfo[Refusal]) -> set[tuple[str, str | None]]:
    """The (rule, field) pairs a refusal names."""
    return {(unmet.rule, unmet.field) for unmet in error.value.unmet}


def rules_of(error: pytest.ExceptionInfo[Refusal]) -> set[str]:
    return {unmet.rule for unmet in error.value.unmet}


def field_names(error: pytest.ExceptionInfo[Refusal]) -> set[str | None]:
    return {unmet.field for unmet in error.value.unmet}
