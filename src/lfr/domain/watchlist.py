"""Watchlists and the blue list (WL-1..6, REC-6), as pure rules.

A watchlist belongs to one authority and is never reused (WL-1). Each entry names the
subject, its category, the reason and the image's source, and carries the compiling
officer's two attestations (WL-3); a child needs a recorded justification (WL-3a). The
whole list stays within the authority's size and categories (WL-4), is compiled no more
than 24 hours before the deployment starts (WL-2), and is sealed at the start: after that
nothing is added or removed.

The blue list holds consenting staff for live testing (REC-6): enrolled apart from the
watchlist, their alerts are tests.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lfr.domain.authorisation import Scope, outside_scope
from lfr.domain.categories import WatchlistCategory
from lfr.domain.people import Actor, Role
from lfr.domain.refusal import Unmet
from lfr.domain.rules import blank, invisible, raise_if_any, required

CURRENCY_LIMIT = timedelta(hours=24)
"""The framework's limit (WL-2, [24]); a setting may shorten it, never lengthen it."""

SUBJECT_REFERENCE_MAX = 64
ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """What the compiling officer submits for one subject (WL-3)."""

    subject_reference: str
    category: WatchlistCategory | None
    reason: str
    image_source: str
    attests_image_is_subject: bool
    attests_still_of_interest: bool
    date_of_birth: date | None = None
    under_18_justification: str = ""


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """An entry already on a watchlist, as far as the list-level rules need it."""

    subject_reference: str
    category: WatchlistCategory
    added_at: datetime


def age_on(date_of_birth: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - int(before_birthday)


def is_under_18(date_of_birth: date | None, day: date) -> bool:
    return date_of_birth is not None and age_on(date_of_birth, day) < ADULT_AGE


def entry_problems(entry: EntryDraft, day: date) -> list[Unmet]:
    """WL-3 and WL-3a for one entry; `day` is the first day of the authorised window."""
    problems: list[Unmet] = []
    reference = entry.subject_reference
    if blank(reference):
        problems.append(Unmet("WL-3", "give the PNC or system ID", "subject_reference"))
    elif any(invisible(c) and not c.isspace() for c in reference):
        problems.append(
            Unmet(
                "WL-3",
                "the PNC or system ID holds an invisible character (such as U+200B): type it again",
                "subject_reference",
            )
        )
    elif len(reference.strip()) > SUBJECT_REFERENCE_MAX:
        problems.append(
            Unmet("WL-3", f"at most {SUBJECT_REFERENCE_MAX} characters", "subject_reference")
        )
    if entry.category is None:
        problems.append(Unmet("WL-3", "choose the subject's category", "category"))
    problems += required(entry.reason, Unmet("WL-3", "say why the subject is sought", "reason"))
    problems += required(
        entry.image_source, Unmet("WL-3", "say where the image comes from", "image_source")
    )
    if not entry.attests_image_is_subject:
        problems.append(
            Unmet("WL-3", "attest the image is of the person", "attests_image_is_subject")
        )
    if not entry.attests_still_of_interest:
        problems.append(
            Unmet("WL-3", "attest the person remains of interest", "attests_still_of_interest")
        )
    if entry.date_of_birth is not None and entry.date_of_birth > day:
        problems.append(Unmet("WL-3", "lies in the future", "date_of_birth"))
    elif is_under_18(entry.date_of_birth, day) and blank(entry.under_18_justification):
        problems.append(
            Unmet("WL-3a", "a person under 18 needs a justification", "under_18_justification")
        )
    return problems


def composition_problems(entries: Sequence[ListedEntry], scope: Scope) -> list[Unmet]:
    """WL-4: size and categories within the authority; one entry per subject."""
    problems: list[Unmet] = []
    limit = scope.max_watchlist_size
    if limit is not None and len(entries) > limit:
        problems.append(
            Unmet("WL-4", f"{len(entries)} entries; the authority allows {limit}", "size")
        )
    problems += [
        Unmet(
            "WL-4",
            f"{entry.subject_reference}: {entry.category.value} is not an authorised category",
            "category",
        )
        for entry in entries
        if entry.category not in scope.categories
    ]
    first_spelling: dict[str, str] = {}
    repeated: set[str] = set()
    for entry in entries:
        key = same_subject(entry.subject_reference)
        if key in first_spelling:
            repeated.add(first_spelling[key])
        first_spelling.setdefault(key, entry.subject_reference)
    problems += [
        Unmet("WL-4", f"{reference} is listed more than once", "subject_reference")
        for reference in sorted(repeated)
    ]
    return problems


def same_subject(reference: str) -> str:
    """What two references to one subject share: `pnc 20/1A`, `PNC 20/1A` and the same in
    full-width letters name one record (Unicode NFKC, case folded)."""
    return unicodedata.normalize("NFKC", reference.strip()).casefold()


def compiler_problems(actor: Actor, compiled_by: str) -> list[Unmet]:
    """WL-3: the applicant who compiles a watchlist, and nobody else, changes its entries."""
    if not actor.has(Role.APPLICANT):
        return [Unmet("WL-3", "the applicant compiles the watchlist", "actor")]
    if actor.user_id != compiled_by:
        return [Unmet("WL-3", "only the officer compiling this watchlist changes it", "actor")]
    return []


def check_add_entry(
    actor: Actor,
    compiled_by: str,
    entry: EntryDraft,
    existing: Sequence[ListedEntry],
    scope: Scope,
    sealed: bool,
    at: datetime,
) -> None:
    """Refuse an entry that breaks WL-3/WL-3a, would break WL-4, or widens the purpose (AUTH-6)."""
    problems = compiler_problems(actor, compiled_by)
    if sealed:
        problems.append(Unmet("WL-1", "sealed at deployment start", "watchlist"))
    problems += entry_problems(entry, scope.window.start.date())
    if entry.category is not None:
        problems += outside_scope(scope, categories=[entry.category])
        after = [*existing, ListedEntry(entry.subject_reference.strip(), entry.category, at)]
        problems += [p for p in composition_problems(after, scope) if p.field != "category"]
    raise_if_any(problems)


def check_remove_entry(actor: Actor, compiled_by: str, sealed: bool) -> None:
    problems = compiler_problems(actor, compiled_by)
    if sealed:
        problems.append(Unmet("WL-1", "sealed at deployment start", "watchlist"))
    raise_if_any(problems)


def compiled_at(entries: Sequence[ListedEntry]) -> datetime | None:
    """A watchlist is as old as its oldest entry: each entry's attestations were made then."""
    return min((entry.added_at for entry in entries), default=None)


def currency_problems(
    compiled: datetime | None, start: datetime, limit: timedelta = CURRENCY_LIMIT
) -> list[Unmet]:
    """WL-2: compiled not more than `limit` (at most 24 h) before the deployment starts."""
    if compiled is None:
        return [Unmet("WL-2", "the watchlist is empty", "watchlist")]
    age = start - compiled
    bound = min(limit, CURRENCY_LIMIT)
    if age > bound:
        hours = age.total_seconds() / 3600
        return [
            Unmet(
                "WL-2",
                f"compiled {hours:.1f} h before the start; the limit is "
                f"{bound.total_seconds() / 3600:g} h: compile it again",
                "watchlist",
            )
        ]
    return []


def new_watchlist_problems(existing_for_authority: int) -> list[Unmet]:
    """WL-1: one watchlist per authority, never reused for another."""
    if existing_for_authority:
        return [Unmet("WL-1", "this authority already has its watchlist", "authority")]
    return []


def seal_problems(
    entries: Sequence[ListedEntry],
    scope: Scope,
    start: datetime,
    sealed: bool,
    limit: timedelta = CURRENCY_LIMIT,
) -> list[Unmet]:
    """What stops the watchlist from being sealed at `start` (WL-1, WL-2, WL-4)."""
    problems = [Unmet("WL-1", "already sealed", "watchlist")] if sealed else []
    return (
        problems
        + composition_problems(entries, scope)
        + currency_problems(compiled_at(entries), start, limit)
    )


# --- the blue list (REC-6) ---


@dataclass(frozen=True, slots=True)
class BlueListDraft:
    """A consenting member of staff enrolled for live testing."""

    staff_user_id: str
    consent_statement: str
    consented: bool
    image_source: str


def check_blue_list_entry(
    actor: Actor, draft: BlueListDraft, enrolled: Sequence[str], sealed: bool
) -> None:
    """REC-6: an engineer enrols a member of staff who has consented, once per deployment."""
    problems: list[Unmet] = []
    if not actor.has(Role.ENGINEER):
        problems.append(Unmet("REC-6", "a system engineer enrols the blue list", "actor"))
    if blank(draft.staff_user_id):
        problems.append(Unmet("REC-6", "name the member of staff", "staff_user_id"))
    elif draft.staff_user_id in enrolled:
        problems.append(Unmet("REC-6", "already on the blue list", "staff_user_id"))
    if not draft.consented or blank(draft.consent_statement):
        problems.append(Unmet("REC-6", "record the person's consent", "consent"))
    problems += required(
        draft.image_source, Unmet("REC-6", "say where the image comes from", "image_source")
    )
    if sealed:
        problems.append(Unmet("REC-6", "sealed at deployment start", "blue_list"))
    raise_if_any(problems)
