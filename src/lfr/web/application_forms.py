"""Reading the application and decision forms: every problem is named by its field, so
the form is shown again with each one beside the input that caused it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from lfr.domain.authorisation import (
    TEXT_FIELDS,
    Application,
    Conditions,
    PlaceCategory,
    TimeWindow,
)
from lfr.domain.categories import WatchlistCategory
from lfr.domain.refusal import Refusal, Refusals, Unmet
from lfr.web.labels import from_local_input


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _list(form: FormData, name: str) -> tuple[str, ...]:
    """One item per line: a place's address may hold commas, so commas never split."""
    return tuple(line.strip() for line in form_text(form, name).splitlines() if line.strip())


def _cameras(form: FormData) -> tuple[str, ...]:
    """The configured cameras ticked, then any other names typed one per line (a camera
    not configured yet), each once, in that order."""
    names = _chosen(form, "camera_choices") + _list(form, "cameras")
    return tuple(dict.fromkeys(names))


def _chosen(form: FormData, name: str) -> tuple[str, ...]:
    """The ticked boxes of a checkbox group, in the form's order."""
    return tuple(v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip())


def form_choice(kind: Any, value: str, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise Refusal(
            "AUTH-1", f"choose one of: {', '.join(k.value for k in kind)}", field
        ) from None


def _moment(form: FormData, name: str, problems: list[Unmet]) -> datetime | None:
    text = form_text(form, name)
    if not text:
        return None
    try:
        return from_local_input(text)  # typed in UK time, as the pages show it
    except ValueError:
        problems.append(Unmet("AUTH-1", f"not a date and time: {text!r}", name))
        return None


def _window(form: FormData, prefix: str, problems: list[Unmet]) -> TimeWindow | None:
    start = _moment(form, f"{prefix}start", problems)
    end = _moment(form, f"{prefix}end", problems)
    if start is None or end is None:
        return None
    try:
        return TimeWindow(start, end)
    except Refusal as refusal:
        problems.extend(refusal.unmet)
        return None


def _categories(form: FormData, name: str) -> frozenset[WatchlistCategory]:
    return frozenset(form_choice(WatchlistCategory, v, name) for v in _chosen(form, name))


def application_from_form(form: FormData, applicant_id: str) -> Application:
    problems: list[Unmet] = []
    category = form_text(form, "place_category")
    window = _window(form, "window_", problems)
    if problems:
        raise Refusals(problems)
    return Application(
        applicant_id=applicant_id,
        **{name: form_text(form, name) for name in TEXT_FIELDS},
        places=_list(form, "places"),
        cameras=_cameras(form),
        watchlist_categories=_categories(form, "watchlist_categories"),
        place_category=form_choice(PlaceCategory, category, "place_category") if category else None,
        window=window,
        urgent=form.get("urgent") == "on",
        urgency_reason=form_text(form, "urgency_reason"),
    )


def conditions_from_form(form: FormData) -> Conditions:
    problems: list[Unmet] = []
    size_text = form_text(form, "max_watchlist_size")
    threshold_text = form_text(form, "alert_threshold")
    size = _number(int, size_text, "max_watchlist_size", problems)
    threshold = _number(float, threshold_text, "alert_threshold", problems)
    window = _window(form, "condition_window_", problems)
    if problems:
        raise Refusals(problems)
    categories = _categories(form, "allowed_categories")
    return Conditions(
        max_watchlist_size=size,
        allowed_categories=categories or None,
        places=_chosen(form, "condition_places") or None,
        cameras=_chosen(form, "condition_cameras") or None,
        window=window,
        alert_threshold=threshold,
    )


def _number(kind: Any, text: str, field: str, problems: list[Unmet]) -> Any:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        problems.append(Unmet("AUTH-2", f"not a number: {text!r}", field))
        return None
