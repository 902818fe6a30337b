"""Applications, decisions, authorities and the WAD (AUTH-1..6)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from lfr.canonical import canonical_json
from lfr.domain.authorisation import (
    TEXT_FIELDS,
    Application,
    ApplicationStatus,
    Authority,
    Conditions,
    Consultation,
    ConsultationOutcome,
    Decision,
    DecisionKind,
    PlaceCategory,
    TimeWindow,
    authority_problems,
    check_edit,
    check_submit,
    check_withdraw,
    confirm_urgent,
    consult,
    decide,
    freeze_wad,
    in_force,
    missing_fields,
    outside_scope,
    read_wad,
    scope_of,
    urgent_lapse_time,
    verify_wad,
    wad_as_text,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusal
from tests.unit.domain.builders import (
    APPLICANT,
    AUDITOR,
    CHIEF,
    INSPECTOR,
    OUTSIDER,
    SUPERINTENDENT,
    T0,
    URGENT_VALIDITY,
    approved_authority,
    complete_application,
    fields_of,
    person,
    refusals,
    rules_of,
)

DECIDED = T0 - timedelta(days=2)


# --- AUTH-1 completeness ---


def test_complete_application_has_no_missing_fields() -> None:
    """AUTH-1: the builder's application answers every question."""
    assert missing_fields(complete_application()) == []


def test_empty_draft_names_every_missing_field() -> None:
    """AUTH-1: an empty draft is refused naming every one of its fields, not just the first."""
    named = {v.field for v in missing_fields(Application(applicant_id="applicant"))}
    expected = set(TEXT_FIELDS) | {
        "places",
        "cameras",
        "watchlist_categories",
        "place_category",
        "window",
    }
    assert named == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lawful_basis": "   "}, "lawful_basis"),
        ({"alternatives": ""}, "alternatives"),
        ({"equality_considerations": ""}, "equality_considerations"),
        ({"places": ()}, "places"),
        ({"places": ("Exit", " ")}, "places"),
        ({"cameras": ("cam", "cam")}, "cameras"),
        ({"watchlist_categories": frozenset()}, "watchlist_categories"),
        ({"place_category": None}, "place_category"),
        ({"window": None}, "window"),
    ],
)
def test_one_missing_field_is_named(change: dict[str, object], field: str) -> None:
    """AUTH-1: each field is required on its own, and the refusal names it."""
    problems = missing_fields(complete_application(**change))
    assert [(v.rule, v.field) for v in problems] == [("AUTH-1", field)]


def test_urgent_application_needs_its_reason() -> None:
    """AUTH-3: urgency is argued, not just ticked."""
    problems = missing_fields(complete_application(urgent=True))
    assert [(v.rule, v.field) for v in problems] == [("AUTH-3", "urgency_reason")]
    assert missing_fields(complete_application(urgent=True, urgency_reason="Imminent threat")) == []


@pytest.mark.parametrize("category", list(PlaceCategory))
def test_every_place_category_is_accepted_and_labelled(category: PlaceCategory) -> None:
    """AUTH-1: the three "where" categories (Bridges, 2020)."""
    assert missing_fields(complete_application(place_category=category)) == []
    assert category.label


def test_window_must_be_aware_and_ordered() -> None:
    """AUTH-1: a window ends after it starts and is in UTC."""
    with pytest.raises(Refusal, match="end after"):
        TimeWindow(T0, T0)
    with pytest.raises(Refusal, match="time zone"):
        TimeWindow(T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(hours=1))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00+05:00", "0001-01-01T10:00:00+05:00", "window.start"),
        ("9999-12-31T20:00:00+00:00", "9999-12-31T23:59:59-14:00", "window.end"),
    ],
)
def test_a_window_outside_the_calendar_is_refused_naming_its_end(
    start: str, end: str, field: str
) -> None:
    """Times that have no UTC instant (before year 1, after 9999) are refused, not a 500."""
    with pytest.raises(Refusal, match="outside the calendar") as refused:
        TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00+00:00", "0001-01-01T02:00:00+00:00", "window.start"),
        ("1969-12-31T22:00:00+00:00", "1970-01-01T02:00:00+00:00", "window.start"),
        ("2026-12-08T10:00:00+00:00", "9999-12-31T23:00:00+00:00", "window.end"),
    ],
)
def test_a_window_beyond_the_years_a_deployment_can_have_is_refused(
    start: str, end: str, field: str
) -> None:
    """AUTH-1: a window with a UTC instant but in year 1 (no instant in UK time: the public
    page showing it gave every visitor a 500) or at the end of year 9999 (the retention
    grace after it has no date) is refused, naming its end."""
    with pytest.raises(Refusal, match="between the years") as refused:
        TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    assert refused.value.field == field


# --- drafting and submitting ---


@pytest.mark.parametrize(
    ("actor", "status", "expected"),
    [
        (APPLICANT, ApplicationStatus.DRAFT, set()),
        (SUPERINTENDENT, ApplicationStatus.DRAFT, {("AUTH-1", "actor")}),
        (APPLICANT, ApplicationStatus.SUBMITTED, {("AUTH-1", "status")}),
    ],
)
def test_submit(actor: Actor, status: ApplicationStatus, expected: set[tuple[str, str]]) -> None:
    """AUTH-1: only the applicant submits, once, a complete application."""
    assert refusals(lambda: check_submit(complete_application(), status, actor)) == expected


def test_incomplete_submission_names_missing_fields() -> None:
    """AUTH-1: submission of an incomplete draft lists what is missing."""
    with pytest.raises(Refusal) as error:
        check_submit(
            complete_application(necessity="", cameras=()), ApplicationStatus.DRAFT, APPLICANT
        )
    assert fields_of(error) == {("AUTH-1", "necessity"), ("AUTH-1", "cameras")}


@pytest.mark.parametrize(
    "status", [s for s in ApplicationStatus if s is not ApplicationStatus.DRAFT]
)
def test_only_drafts_are_edited(status: ApplicationStatus) -> None:
    """AUTH-5: once submitted, what is decided is what was submitted."""
    with pytest.raises(Refusal) as error:
        check_edit(complete_application(), status, APPLICANT)
    assert fields_of(error) == {("AUTH-5", "status")}


def test_withdraw_only_before_decision() -> None:
    """AUTH-2: a decided application stands; the applicant may withdraw before."""
    check_withdraw(complete_application(), ApplicationStatus.SUBMITTED, APPLICANT)
    with pytest.raises(Refusal, match="approved"):
        check_withdraw(complete_application(), ApplicationStatus.APPROVED, APPLICANT)


# --- AUTH-3 who decides ---

CHIEF_SUPER = person("chief-super", Rank.CHIEF_SUPERINTENDENT, Role.AUTHORISING_OFFICER)
CHIEF_INSPECTOR = person("chief-inspector", Rank.CHIEF_INSPECTOR, Role.AUTHORISING_OFFICER)
SERGEANT = person("sergeant", Rank.SERGEANT, Role.AUTHORISING_OFFICER)
SUPER_WITHOUT_ROLE = person("super-2", Rank.SUPERINTENDENT)
SELF_AUTHORISER = person("applicant", Rank.SUPERINTENDENT, Role.APPLICANT, Role.AUTHORISING_OFFICER)


@pytest.mark.parametrize(
    ("actor", "urgent", "expected"),
    [
        (SUPERINTENDENT, False, set()),
        (CHIEF_SUPER, False, set()),
        (SUPERINTENDENT, True, set()),
        (INSPECTOR, True, set()),
        (CHIEF_INSPECTOR, True, set()),
        (INSPECTOR, False, {("AUTH-3", "rank")}),
        (CHIEF_INSPECTOR, False, {("AUTH-3", "rank")}),
        (SERGEANT, True, {("AUTH-3", "rank")}),
        (SUPER_WITHOUT_ROLE, False, {("AUTH-3", "actor")}),
        (SELF_AUTHORISER, False, {("AUTH-3", "actor")}),
    ],
)
def test_who_may_decide(actor: Actor, urgent: bool, expected: set[tuple[str, str]]) -> None:
    """AUTH-3 ([19]): Superintendent+, an Inspector only when urgent, never one's own."""
    application = complete_application(urgent=urgent, urgency_reason="Imminent" if urgent else "")

    def run() -> object:
        return decide(
            application,
            ApplicationStatus.SUBMITTED,
            actor,
            DecisionKind.APPROVE,
            "Necessary",
            DECIDED,
        )

    if not expected:
        decision = run()
        assert decision.decided_by == actor.user_id  # type: ignore[attr-defined]
        return
    with pytest.raises(Refusal) as error:
        run()
    assert fields_of(error) == expected


def test_inspector_decision_is_urgent_and_superintendent_is_not() -> None:
    """AUTH-3: only a decision that needed urgency to be lawful is time-limited."""
    application = complete_application(urgent=True, urgency_reason="Imminent")
    by_inspector = decide(
        application, ApplicationStatus.SUBMITTED, INSPECTOR, DecisionKind.APPROVE, "ok", DECIDED
    )
    by_super = decide(
        application,
        ApplicationStatus.SUBMITTED,
        SUPERINTENDENT,
        DecisionKind.APPROVE,
        "ok",
        DECIDED,
    )
    assert by_inspector.urgent
    assert not by_super.urgent


# --- AUTH-2 decisions ---


@pytest.mark.parametrize(
    ("kind", "reasons", "conditions", "status", "expected"),
    [
        (DecisionKind.APPROVE, "Necessary", None, ApplicationStatus.SUBMITTED, set()),
        (DecisionKind.REFUSE, "Not necessary", None, ApplicationStatus.SUBMITTED, set()),
        (
            DecisionKind.APPROVE_WITH_CONDITIONS,
            "ok",
            Conditions(max_watchlist_size=50),
            ApplicationStatus.SUBMITTED,
            set(),
        ),
        (DecisionKind.APPROVE, " ", None, ApplicationStatus.SUBMITTED, {("AUTH-2", "reasons")}),
        (DecisionKind.REFUSE, "", None, ApplicationStatus.SUBMITTED, {("AUTH-2", "reasons")}),
        (DecisionKind.APPROVE, "ok", None, ApplicationStatus.DRAFT, {("AUTH-2", "status")}),
        (DecisionKind.APPROVE, "ok", None, ApplicationStatus.APPROVED, {("AUTH-2", "status")}),
        (
            DecisionKind.APPROVE_WITH_CONDITIONS,
            "ok",
            Conditions(),
            ApplicationStatus.SUBMITTED,
            {("AUTH-2", "conditions")},
        ),
        (
            DecisionKind.REFUSE,
            "no",
            Conditions(max_watchlist_size=5),
            ApplicationStatus.SUBMITTED,
            {("AUTH-2", "conditions")},
        ),
    ],
)
def test_decision_kinds_and_reasons(
    kind: DecisionKind,
    reasons: str,
    conditions: Conditions | None,
    status: ApplicationStatus,
    expected: set[tuple[str, str]],
) -> None:
    """AUTH-2: approve, approve with conditions or refuse, always with reasons."""

    def run() -> object:
        return decide(
            complete_application(), status, SUPERINTENDENT, kind, reasons, DECIDED, conditions
        )

    if not expected:
        assert run().kind is kind  # type: ignore[attr-defined]
        return
    with pytest.raises(Refusal) as error:
        run()
    assert fields_of(error) == expected


WANTED = WatchlistCategory.WANTED_BY_COURTS


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (Conditions(allowed_categories=frozenset({WANTED})), set()),
        (Conditions(places=("Station exit north",)), set()),
        (Conditions(cameras=("cam-north",)), set()),
        (Conditions(window=TimeWindow(T0, T0 + timedelta(hours=2))), set()),
        (Conditions(alert_threshold=0.6), set()),
        (Conditions(max_watchlist_size=0), {("AUTH-2", "max_watchlist_size")}),
        (Conditions(alert_threshold=1.5), {("AUTH-2", "alert_threshold")}),
        (Conditions(alert_threshold=0.0), {("AUTH-2", "alert_threshold")}),
        (
            Conditions(allowed_categories=frozenset({WatchlistCategory.VICTIM})),
            {("AUTH-6", "allowed_categories")},
        ),
        (Conditions(places=("Elsewhere",)), {("AUTH-6", "places")}),
        (Conditions(cameras=("cam-west",)), {("AUTH-6", "cameras")}),
        (Conditions(window=TimeWindow(T0, T0 + timedelta(hours=5))), {("AUTH-6", "window")}),
        (Conditions(cameras=()), {("AUTH-2", "cameras")}),
    ],
)
def test_conditions_only_narrow(conditions: Conditions, expected: set[tuple[str, str]]) -> None:
    """AUTH-2/AUTH-6: conditions narrow the application; widening would be a new purpose."""

    def run() -> object:
        return decide(
            complete_application(),
            ApplicationStatus.SUBMITTED,
            SUPERINTENDENT,
            DecisionKind.APPROVE_WITH_CONDITIONS,
            "ok",
            DECIDED,
            conditions,
        )

    assert refusals(run) == expected


def test_conditions_narrow_the_scope() -> None:
    """AUTH-2: the scope an authority allows is the application narrowed by its conditions."""
    conditions = Conditions(
        max_watchlist_size=10,
        allowed_categories=frozenset({WANTED}),
        cameras=("cam-north",),
        window=TimeWindow(T0, T0 + timedelta(hours=1)),
        alert_threshold=0.7,
    )
    scope = scope_of(complete_application(), conditions)
    assert scope.cameras == ("cam-north",)
    assert scope.places == complete_application().places
    assert scope.categories == {WANTED}
    assert scope.window.end == T0 + timedelta(hours=1)
    assert (scope.max_watchlist_size, scope.alert_threshold) == (10, 0.7)


# --- AUTH-4 consultation ---

NOT_NPCC = person("chief-super-co", Rank.CHIEF_SUPERINTENDENT, Role.CHIEF_OFFICER)


@pytest.mark.parametrize(
    ("actor", "outcome", "comments", "status", "expected"),
    [
        (CHIEF, ConsultationOutcome.NO_OBJECTION, "", ApplicationStatus.SUBMITTED, set()),
        (
            CHIEF,
            ConsultationOutcome.VETO,
            "Clashes with a march",
            ApplicationStatus.APPROVED,
            set(),
        ),
        (
            CHIEF,
            ConsultationOutcome.MITIGATION_REQUIRED,
            "Add signage",
            ApplicationStatus.SUBMITTED,
            set(),
        ),
        (
            CHIEF,
            ConsultationOutcome.VETO,
            "",
            ApplicationStatus.SUBMITTED,
            {("AUTH-4", "comments")},
        ),
        (
            NOT_NPCC,
            ConsultationOutcome.NO_OBJECTION,
            "",
            ApplicationStatus.SUBMITTED,
            {("AUTH-4", "actor")},
        ),
        (
            SUPERINTENDENT,
            ConsultationOutcome.NO_OBJECTION,
            "",
            ApplicationStatus.SUBMITTED,
            {("AUTH-4", "actor")},
        ),
        (
            CHIEF,
            ConsultationOutcome.NO_OBJECTION,
            "",
            ApplicationStatus.DRAFT,
            {("AUTH-4", "status")},
        ),
    ],
)
def test_consultation(
    actor: Actor,
    outcome: ConsultationOutcome,
    comments: str,
    status: ApplicationStatus,
    expected: set[tuple[str, str]],
) -> None:
    """AUTH-4 ([24]): an NPCC-rank chief officer is consulted; a veto or mitigation says why."""

    def run() -> Consultation:
        return consult(complete_application(), status, actor, outcome, comments, DECIDED)

    if not expected:
        assert run().outcome is outcome
        return
    with pytest.raises(Refusal) as error:
        run()
    assert fields_of(error) == expected


def test_the_chief_officer_consulted_and_the_decider_are_two_people() -> None:
    """AUTH-3/AUTH-4: one officer holding both roles at an NPCC rank can be the chief
    officer consulted or the authorising officer who decides an application, never both,
    in either order: the consultation is a second person's view (nobody alone)."""
    both = person("both", Rank.COMMANDER, Role.CHIEF_OFFICER, Role.AUTHORISING_OFFICER)
    application = complete_application()
    submitted, approved = ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED
    no_objection = ConsultationOutcome.NO_OBJECTION
    with pytest.raises(Refusal, match="two people") as consulted_first:
        decide(
            application, submitted, both, DecisionKind.APPROVE, "Necessary", T0,
            consulted_by=frozenset({both.user_id}),
        )  # fmt: skip
    assert fields_of(consulted_first) == {("AUTH-3", "actor")}
    with pytest.raises(Refusal, match="two people") as decided_first:
        consult(application, approved, both, no_objection, "", DECIDED, decided_by=both.user_id)
    assert fields_of(decided_first) == {("AUTH-4", "actor")}
    other_chief = consult(application, approved, CHIEF, no_objection, "", DECIDED, both.user_id)
    assert other_chief.consulted_by == CHIEF.user_id
    decision = decide(
        application, submitted, both, DecisionKind.APPROVE, "Necessary", T0,
        consulted_by=frozenset({CHIEF.user_id}),
    )  # fmt: skip
    assert decision.decided_by == both.user_id


def test_veto_stops_the_authority() -> None:
    """AUTH-4: a veto takes the authority out of force."""
    authority = approved_authority()
    veto = consult(
        authority.application,
        ApplicationStatus.APPROVED,
        CHIEF,
        ConsultationOutcome.VETO,
        "Clashes with a march",
        DECIDED,
    )
    vetoed = replace(authority, consultations=(*authority.consultations, veto))
    assert in_force(authority, T0, URGENT_VALIDITY)
    assert {v.rule for v in authority_problems(vetoed, T0, URGENT_VALIDITY)} == {"AUTH-4"}


# --- authority in force and urgent lapse (AUTH-3) ---


def urgent_authority() -> Authority:
    application = complete_application(urgent=True, urgency_reason="Imminent threat")
    return approved_authority(application, decider=INSPECTOR)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=0), set()),
        (URGENT_VALIDITY - timedelta(seconds=1), set()),
        (URGENT_VALIDITY, {"AUTH-3"}),
        (URGENT_VALIDITY + timedelta(days=1), {"AUTH-3"}),
    ],
)
def test_urgent_authority_lapses_unless_confirmed(offset: timedelta, expected: set[str]) -> None:
    """AUTH-3: an Inspector's urgent authority lapses after the set time."""
    authority = urgent_authority()
    at = authority.decision.decided_at + offset
    # The window is long past the lapse so that only the lapse can take it out of force.
    long_window = TimeWindow(T0 - timedelta(days=3), T0 + timedelta(days=10))
    authority = replace(authority, application=replace(authority.application, window=long_window))
    assert {v.rule for v in authority_problems(authority, at, URGENT_VALIDITY)} == expected


def test_superintendent_confirmation_stops_the_lapse() -> None:
    """AUTH-3: confirmed by a Superintendent in time, the urgent authority no longer lapses."""
    authority = urgent_authority()
    confirmed = confirm_urgent(
        authority, SUPERINTENDENT, DECIDED + timedelta(hours=1), URGENT_VALIDITY
    )
    assert urgent_lapse_time(authority, URGENT_VALIDITY) == DECIDED + URGENT_VALIDITY
    assert urgent_lapse_time(confirmed, URGENT_VALIDITY) is None
    assert confirmed.confirmed_by == SUPERINTENDENT.user_id


@pytest.mark.parametrize(
    ("authority_kind", "actor", "offset", "fragment"),
    [
        ("urgent", INSPECTOR, timedelta(hours=1), "Superintendent"),
        ("urgent", SUPERINTENDENT, URGENT_VALIDITY, "lapsed"),
        ("normal", SUPERINTENDENT, timedelta(hours=1), "not an urgent"),
    ],
)
def test_confirmation_refused(
    authority_kind: str, actor: Actor, offset: timedelta, fragment: str
) -> None:
    """AUTH-3: only a Superintendent confirms, only an urgent authority, only before it lapses."""
    authority = urgent_authority() if authority_kind == "urgent" else approved_authority()
    with pytest.raises(Refusal, match=fragment) as error:
        confirm_urgent(authority, actor, DECIDED + offset, URGENT_VALIDITY)
    assert rules_of(error) == {"AUTH-3"}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (DECIDED, set()),
        (T0 + timedelta(hours=3), set()),
        (T0 + timedelta(hours=4), {"AUTH-1"}),
        (DECIDED - timedelta(seconds=1), {"AUTH-2"}),
    ],
)
def test_authority_in_force_from_decision_to_window_end(at: datetime, expected: set[str]) -> None:
    """AUTH-2: an authority is in force from its approval to the end of its window."""
    problems = authority_problems(approved_authority(), at, URGENT_VALIDITY)
    assert {v.rule for v in problems} == expected


def refused_decision(app: Application) -> Decision:
    """A Superintendent's refusal of `app` (AUTH-2)."""
    return decide(
        app,
        ApplicationStatus.SUBMITTED,
        SUPERINTENDENT,
        DecisionKind.REFUSE,
        "Not necessary",
        DECIDED,
    )


def test_refused_application_is_never_in_force() -> None:
    """AUTH-2: a refusal authorises nothing."""
    app = complete_application()
    refusal = refused_decision(app)
    assert not in_force(Authority(app, refusal), T0, URGENT_VALIDITY)


# --- AUTH-5 the WAD ---


def test_wad_is_canonical_and_round_trips() -> None:
    """AUTH-5: the WAD is canonical JSON; reading it back gives what was approved."""
    authority = approved_authority()
    wad = freeze_wad(authority.application, authority.decision)
    assert wad.document == canonical_json(json.loads(wad.document)).encode("utf-8")
    application, decision = read_wad(wad.document)
    assert application == authority.application
    assert decision == authority.decision
    verify_wad(wad.document, wad.sha256)


def test_canonical_json_ignores_key_order() -> None:
    """AUTH-5: equal content gives equal bytes whatever order its keys were built in."""
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )
    assert canonical_json({"a": 1, "b": "x"}) == '{"a":1,"b":"x"}'


def test_wad_same_content_same_hash_whatever_time_zone() -> None:
    """AUTH-5: the same instant written in another zone freezes to the same bytes."""
    authority = approved_authority()
    shifted = replace(
        authority.decision,
        decided_at=authority.decision.decided_at.astimezone(timezone(timedelta(hours=1))),
    )
    assert freeze_wad(authority.application, shifted) == freeze_wad(
        authority.application, authority.decision
    )


@pytest.mark.parametrize("position", [0, 10, 100, -2])
def test_any_change_to_the_wad_is_detected(position: int) -> None:
    """AUTH-5: the audit verifies the WAD was not changed: any altered byte fails."""
    authority = approved_authority()
    wad = freeze_wad(authority.application, authority.decision)
    tampered = bytearray(wad.document)
    tampered[position] ^= 0x01
    with pytest.raises(Refusal) as error:
        verify_wad(bytes(tampered), wad.sha256)
    assert fields_of(error) == {("AUTH-5", "wad")}


def test_refusal_has_no_wad() -> None:
    """AUTH-5: only an approval is frozen."""
    app = complete_application()
    refusal = refused_decision(app)
    with pytest.raises(Refusal, match="AUTH-5"):
        freeze_wad(app, refusal)


# --- AUTH-6 a new purpose needs a new authority ---


@pytest.mark.parametrize(
    ("asked", "expected_fields"),
    [
        ({"categories": [WANTED]}, set()),
        ({"places": ["Station exit north"], "cameras": ["cam-south"]}, set()),
        ({"window": TimeWindow(T0, T0 + timedelta(hours=4))}, set()),
        ({"categories": [WatchlistCategory.WITNESS]}, {"category"}),
        ({"places": ["High Street"]}, {"place"}),
        ({"cameras": ["cam-west"]}, {"camera"}),
        ({"window": TimeWindow(T0, T0 + timedelta(hours=5))}, {"window"}),
        (
            {"categories": [WatchlistCategory.VICTIM], "places": ["Park"], "cameras": ["x"]},
            {"category", "place", "camera"},
        ),
    ],
)
def test_new_purpose_needs_new_authority(
    asked: dict[str, object], expected_fields: set[str]
) -> None:
    """AUTH-6 ([28]): a new category, place or time is outside the authority."""
    problems = outside_scope(approved_authority().scope, **asked)  # type: ignore[arg-type]
    assert {v.field for v in problems} == expected_fields
    assert all(v.rule == "AUTH-6" for v in problems)


def test_auditor_cannot_decide() -> None:
    """AUTH-3: a role outside the authorising officer's cannot decide, whatever the rank."""
    with pytest.raises(Refusal) as error:
        decide(
            complete_application(),
            ApplicationStatus.SUBMITTED,
            AUDITOR,
            DecisionKind.APPROVE,
            "ok",
            DECIDED,
        )
    assert ("AUTH-3", "actor") in fields_of(error)


def test_wad_as_text_shows_every_answer_and_the_hash() -> None:
    """AUTH-5: the printable WAD carries every AUTH-1 answer, the decision, the conditions
    and the hash; a changed document is not printed."""
    app = complete_application()
    decision = decide(
        app,
        ApplicationStatus.SUBMITTED,
        SUPERINTENDENT,
        DecisionKind.APPROVE_WITH_CONDITIONS,
        "Necessary",
        DECIDED,
        Conditions(max_watchlist_size=25),
    )
    wad = freeze_wad(app, decision)
    text = wad_as_text(wad.document, wad.sha256)
    assert wad.sha256 in text
    for answer in (
        app.lawful_basis,
        app.alternatives,
        app.equality_considerations,
        "cam-north; cam-south",
        PlaceCategory.CRIME_HOTSPOT.label,
    ):
        assert answer in text
    assert "Condition, max watchlist size: 25" in text
    assert "Superintendent" in text
    with pytest.raises(Refusal, match="AUTH-5"):
        wad_as_text(wad.document + b" ", wad.sha256)


# --- the application lifecycle as a whole (AUTH-1..4) ---

DRAFT, SUBMITTED, APPROVED, REFUSED, VETOED, WITHDRAWN = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.APPROVED,
    ApplicationStatus.REFUSED,
    ApplicationStatus.VETOED,
    ApplicationStatus.WITHDRAWN,
)
APPLICATION_LIFECYCLE: dict[
    str, tuple[frozenset[ApplicationStatus], Actor, ApplicationStatus | None]
] = {
    "edit": (frozenset({DRAFT}), APPLICANT, None),
    "submit": (frozenset({DRAFT}), APPLICANT, SUBMITTED),
    "withdraw": (frozenset({DRAFT, SUBMITTED}), APPLICANT, WITHDRAWN),
    "approve": (frozenset({SUBMITTED}), SUPERINTENDENT, APPROVED),
    "refuse": (frozenset({SUBMITTED}), SUPERINTENDENT, REFUSED),
    "no objection": (frozenset({SUBMITTED, APPROVED}), CHIEF, None),
    "veto": (frozenset({SUBMITTED, APPROVED}), CHIEF, VETOED),
}
"""Each action: the statuses it may be taken from, the one actor (among those tried)
whom the rules let take it on a complete, non-urgent application, and the status it leads
to (None: unchanged)."""
ENDS = frozenset({REFUSED, VETOED, WITHDRAWN})


def application_allows(action: str, actor: Actor, status: ApplicationStatus) -> bool:
    app = complete_application()
    run = {
        "edit": lambda: check_edit(app, status, actor),
        "submit": lambda: check_submit(app, status, actor),
        "withdraw": lambda: check_withdraw(app, status, actor),
        "approve": lambda: decide(app, status, actor, DecisionKind.APPROVE, "Necessary", T0),
        "refuse": lambda: decide(app, status, actor, DecisionKind.REFUSE, "Not necessary", T0),
        "no objection": lambda: consult(
            app, status, actor, ConsultationOutcome.NO_OBJECTION, "", T0
        ),
        "veto": lambda: consult(app, status, actor, ConsultationOutcome.VETO, "Too wide", T0),
    }[action]
    return not refusals(run)


ACTORS_TRIED = (APPLICANT, SUPERINTENDENT, INSPECTOR, CHIEF, AUDITOR, OUTSIDER)


@pytest.mark.parametrize("status", list(ApplicationStatus))
def test_every_action_is_allowed_exactly_from_its_statuses_to_its_actor(
    status: ApplicationStatus,
) -> None:
    """AUTH-1..4, every status × action × actor: an action is allowed exactly when the
    application is in one of its source statuses and the actor is the one the rules name
    (the applicant edits, submits and withdraws; a Superintendent decides a non-urgent
    application, an Inspector never does; a chief officer is consulted)."""
    for action, (sources, entitled, _) in APPLICATION_LIFECYCLE.items():
        for actor in ACTORS_TRIED:
            expected = actor is entitled and status in sources
            assert application_allows(action, actor, status) is expected, (action, actor.user_id)


def test_the_lifecycle_reaches_every_status_and_only_moves_forward() -> None:
    """AUTH-2/4: from a draft the allowed actions reach every status; a refused, vetoed or
    withdrawn application never moves again, and none returns to an earlier status."""
    order = [DRAFT, SUBMITTED, APPROVED, REFUSED, VETOED, WITHDRAWN]
    reached, frontier = {DRAFT}, [DRAFT]
    while frontier:
        status = frontier.pop()
        for action, (_, entitled, target) in APPLICATION_LIFECYCLE.items():
            if target is None or not application_allows(action, entitled, status):
                continue
            assert status not in ENDS
            assert order.index(target) > order.index(status)
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(ApplicationStatus)
