"""Watchlist entries, composition, currency, sealing and the blue list (WL-1..4, REC-6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from lfr.domain.authorisation import ApplicationStatus, Conditions, DecisionKind, decide
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Rank, Role
from lfr.domain.refusal import Refusal
from lfr.domain.watchlist import (
    BlueListDraft,
    EntryDraft,
    ListedEntry,
    age_on,
    check_add_entry,
    check_blue_list_entry,
    check_remove_entry,
    compiled_at,
    composition_problems,
    currency_problems,
    entry_problems,
    is_under_18,
    new_watchlist_problems,
    seal_problems,
)
from tests.unit.domain.builders import (
    APPLICANT,
    ENGINEER,
    OPERATOR,
    SUPERINTENDENT,
    T0,
    approved_authority,
    complete_application,
    person,
    refusals,
)

WANTED = WatchlistCategory.WANTED_BY_COURTS
SUSPECT = WatchlistCategory.SUSPECTED_OF_OFFENCE
DAY = T0.date()


def draft(**changes: object) -> EntryDraft:
    values: dict[str, object] = {
        "subject_reference": "PNC 20/123456A",
        "category": WANTED,
        "reason": "Failed to appear, robbery trial",
        "image_source": "Custody image 2025-11-03",
        "attests_image_is_subject": True,
        "attests_still_of_interest": True,
    }
    values.update(changes)
    return EntryDraft(**values)  # type: ignore[arg-type]


def scope_with(**conditions: object):  # type: ignore[no-untyped-def]
    app = complete_application()
    kind = DecisionKind.APPROVE_WITH_CONDITIONS if conditions else DecisionKind.APPROVE
    decision = decide(
        app,
        ApplicationStatus.SUBMITTED,
        SUPERINTENDENT,
        kind,
        "ok",
        T0 - timedelta(days=2),
        Conditions(**conditions),
    )  # type: ignore[arg-type]
    return replace(approved_authority(), decision=decision).scope


def listed(
    reference: str, category: WatchlistCategory = WANTED, hours_before: float = 2
) -> ListedEntry:
    return ListedEntry(reference, category, T0 - timedelta(hours=hours_before))


# --- WL-3 and WL-3a entries ---


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, set()),
        ({"subject_reference": " "}, {("WL-3", "subject_reference")}),
        ({"subject_reference": "X" * 65}, {("WL-3", "subject_reference")}),
        # invisible characters: a reference that reads as nothing, or as another one
        ({"subject_reference": "\u200b"}, {("WL-3", "subject_reference")}),
        ({"subject_reference": "PNC 20/\u200b123456A"}, {("WL-3", "subject_reference")}),
        ({"reason": "\u202e\u200b"}, {("WL-3", "reason")}),
        ({"image_source": "\ufeff "}, {("WL-3", "image_source")}),
        ({"category": None}, {("WL-3", "category")}),
        ({"reason": ""}, {("WL-3", "reason")}),
        ({"image_source": ""}, {("WL-3", "image_source")}),
        ({"attests_image_is_subject": False}, {("WL-3", "attests_image_is_subject")}),
        ({"attests_still_of_interest": False}, {("WL-3", "attests_still_of_interest")}),
        ({"date_of_birth": date(1990, 5, 1)}, set()),
        ({"date_of_birth": date(2010, 5, 1)}, {("WL-3a", "under_18_justification")}),
        ({"date_of_birth": date(2010, 5, 1), "under_18_justification": "Missing, at risk"}, set()),
        ({"date_of_birth": date(2030, 1, 1)}, {("WL-3", "date_of_birth")}),
    ],
)
def test_entry_validation(change: dict[str, object], expected: set[tuple[str, str]]) -> None:
    """WL-3: reference, category, reason, image source, two attestations; WL-3a: children."""
    assert {(v.rule, v.field) for v in entry_problems(draft(**change), DAY)} == expected


def test_empty_entry_names_every_field() -> None:
    """WL-3: every missing part is named at once."""
    empty = EntryDraft("", None, "", "", False, False)
    assert {v.field for v in entry_problems(empty, DAY)} == {
        "subject_reference",
        "category",
        "reason",
        "image_source",
        "attests_image_is_subject",
        "attests_still_of_interest",
    }


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2008, 3, 2), date(2026, 3, 2), 18),
        (date(2008, 3, 3), date(2026, 3, 2), 17),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_on_the_deployment_day(born: date, on: date, age: int) -> None:
    """WL-3a: a person is under 18 until their eighteenth birthday."""
    assert age_on(born, on) == age
    assert is_under_18(born, on) is (age < 18)
    assert not is_under_18(None, on)


# --- WL-4 composition ---


@pytest.mark.parametrize(
    ("entries", "conditions", "expected"),
    [
        ([listed("A"), listed("B", SUSPECT)], {}, set()),
        ([listed("A"), listed("B")], {"max_watchlist_size": 2}, set()),
        ([listed("A"), listed("B"), listed("C")], {"max_watchlist_size": 2}, {"size"}),
        ([listed("A", SUSPECT)], {"allowed_categories": frozenset({WANTED})}, {"category"}),
        ([listed("A", WatchlistCategory.VICTIM)], {}, {"category"}),
        ([listed("A"), listed("A")], {}, {"subject_reference"}),
        # one record however its letters are written: case, full-width forms
        ([listed("pnc 20/1a"), listed("PNC 20/1A")], {}, {"subject_reference"}),
        ([listed("\uff30NC 20/1A"), listed("PNC 20/1A")], {}, {"subject_reference"}),
    ],
)
def test_composition(
    entries: list[ListedEntry], conditions: dict[str, object], expected: set[str]
) -> None:
    """WL-4: size and categories within the authority's conditions, one entry per subject."""
    problems = composition_problems(entries, scope_with(**conditions))
    assert {v.field for v in problems} == expected
    assert all(v.rule == "WL-4" for v in problems)


OTHER_APPLICANT = person("other-applicant", Rank.INSPECTOR, Role.APPLICANT)


@pytest.mark.parametrize(
    ("actor", "entry", "existing", "sealed", "conditions", "expected"),
    [
        (APPLICANT, draft(), [], False, {}, set()),
        (OPERATOR, draft(), [], False, {}, {("WL-3", "actor")}),
        (APPLICANT, draft(), [], True, {}, {("WL-1", "watchlist")}),
        (
            APPLICANT,
            draft(category=WatchlistCategory.WITNESS),
            [],
            False,
            {},
            {("AUTH-6", "category")},
        ),
        (APPLICANT, draft(), [listed("X")], False, {"max_watchlist_size": 1}, {("WL-4", "size")}),
        (
            APPLICANT,
            draft(),
            [listed("PNC 20/123456A")],
            False,
            {},
            {("WL-4", "subject_reference")},
        ),
        (APPLICANT, draft(reason=""), [], False, {}, {("WL-3", "reason")}),
        # another applicant: not the officer compiling this watchlist
        (OTHER_APPLICANT, draft(), [], False, {}, {("WL-3", "actor")}),
    ],
)
def test_add_entry(
    actor: Actor,
    entry: EntryDraft,
    existing: list[ListedEntry],
    sealed: bool,
    conditions: dict[str, object],
    expected: set[tuple[str, str]],
) -> None:
    """WL-3/WL-4/AUTH-6: an entry that breaks a rule is refused naming rule and field."""

    scope = scope_with(**conditions)
    compiler = APPLICANT.user_id
    found = refusals(lambda: check_add_entry(actor, compiler, entry, existing, scope, sealed, T0))
    assert found == expected


def test_remove_entry_refused_after_seal() -> None:
    """WL-1: a sealed watchlist is what the deployment used: nothing comes off it."""
    check_remove_entry(APPLICANT, APPLICANT.user_id, sealed=False)
    with pytest.raises(Refusal, match="sealed"):
        check_remove_entry(APPLICANT, APPLICANT.user_id, sealed=True)
    with pytest.raises(Refusal, match="only the officer compiling"):
        check_remove_entry(OTHER_APPLICANT, APPLICANT.user_id, sealed=False)


# --- WL-2 currency ---


@pytest.mark.parametrize(
    ("hours_before", "limit_hours", "current"),
    [
        (0, 24, True),
        (23.99, 24, True),
        (24, 24, True),
        (24.01, 24, False),
        (30, 24, False),
        (13, 12, False),
        (11, 12, True),
        (25, 48, False),  # a setting cannot lengthen the framework's 24 h
    ],
)
def test_currency(hours_before: float, limit_hours: float, current: bool) -> None:
    """WL-2 ([24]): compiled not more than 24 hours before the deployment starts."""
    compiled = T0 - timedelta(hours=hours_before)
    problems = currency_problems(compiled, T0, timedelta(hours=limit_hours))
    assert (problems == []) is current
    assert all(v.rule == "WL-2" for v in problems)


def test_watchlist_is_as_old_as_its_oldest_entry() -> None:
    """WL-2: one stale entry makes the watchlist stale."""
    entries = [listed("A", hours_before=2), listed("B", hours_before=30)]
    assert compiled_at(entries) == T0 - timedelta(hours=30)
    assert compiled_at([]) is None
    assert [v.rule for v in currency_problems(None, T0)] == ["WL-2"]


# --- WL-1 one per authority; sealing ---


def test_one_watchlist_per_authority() -> None:
    """WL-1: a watchlist belongs to one authority and is never reused."""
    assert new_watchlist_problems(0) == []
    assert [(v.rule, v.field) for v in new_watchlist_problems(1)] == [("WL-1", "authority")]


def test_seal_lists_every_problem() -> None:
    """WL-1/WL-2/WL-4: sealing checks sealing, composition and currency together."""
    entries = [listed("A", hours_before=30), listed("A", WatchlistCategory.VICTIM)]
    problems = seal_problems(entries, scope_with(), T0, sealed=True)
    assert {(v.rule, v.field) for v in problems} == {
        ("WL-1", "watchlist"),
        ("WL-4", "category"),
        ("WL-4", "subject_reference"),
        ("WL-2", "watchlist"),
    }
    assert seal_problems([listed("A")], scope_with(), T0, sealed=False) == []


# --- REC-6 the blue list ---


def blue(**changes: object) -> BlueListDraft:
    values: dict[str, object] = {
        "staff_user_id": "volunteer-1",
        "consent_statement": "I consent to being enrolled for today's live test",
        "consented": True,
        "image_source": "Taken on the day by the engineer",
    }
    values.update(changes)
    return BlueListDraft(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actor", "entry", "enrolled", "sealed", "expected"),
    [
        (ENGINEER, blue(), [], False, set()),
        (APPLICANT, blue(), [], False, {"actor"}),
        (ENGINEER, blue(consented=False), [], False, {"consent"}),
        (ENGINEER, blue(consent_statement=""), [], False, {"consent"}),
        (ENGINEER, blue(), ["volunteer-1"], False, {"staff_user_id"}),
        (ENGINEER, blue(staff_user_id=""), [], False, {"staff_user_id"}),
        (ENGINEER, blue(image_source=""), [], False, {"image_source"}),
        (ENGINEER, blue(), [], True, {"blue_list"}),
    ],
)
def test_blue_list_entry(
    actor: Actor, entry: BlueListDraft, enrolled: list[str], sealed: bool, expected: set[str]
) -> None:
    """REC-6: consenting staff, enrolled by an engineer, once each, before the start."""

    found = refusals(lambda: check_blue_list_entry(actor, entry, enrolled, sealed))
    assert {field for _, field in found} == expected
    assert {rule for rule, _ in found} == ({"REC-6"} if expected else set())
