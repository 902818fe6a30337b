"""The words a form uses for each field, in one place: the templates label their fields with
them (the Jinja filter ``field_label``) and refusals name the field with them
(`lfr.web.forms`), so a message never shows a code such as ``lawful_basis`` or
``images[0]``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

FIELD_LABELS: Mapping[str, str] = {
    "images": "Image",
    "image": "Image",
    "window": "Window",
    "window_start": "Window start",
    "window_end": "Window end",
    "place_category": "Category of place",
    "watchlist_categories": "Categories the watchlist may hold",
    "urgency_reason": "Why urgent",
    "kind": "Decision",
    "reasons": "Reasons",
    "max_watchlist_size": "Maximum watchlist size",
    "allowed_categories": "Allowed categories",
    "condition_places": "Places (condition)",
    "condition_cameras": "Cameras (condition)",
    "alert_threshold": "Alert threshold",
    "threshold_justification": "Justification for a threshold below the equitable threshold",
    "expected_footfall": "Expected footfall",
    "outcome": "Your view",
    "comments": "Comments",
    "subject_reference": "Subject reference",
    "category": "Category",
    "reason": "Reason",
    "image_source": "Image source",
    "date_of_birth": "Date of birth",
    "under_18_justification": "If under 18: the justification",
    "attests_image_is_subject": "Image is of this person (attestation)",
    "attests_still_of_interest": "Person remains of interest (attestation)",
    "table": "CSV",
    "publish_from": "Publish from",
    "status": "Status",
    "actor": "Your account",
    "halt_confirmed": "I mean to halt",
    "end_confirmed": "I mean to end",
    "rank": "Your rank",
    "performance_assessment": "Performance against expectations",
    "safeguards_assessment": "Effectiveness of the safeguards",
    "lessons": "Lessons",
    "alerts": "Alerts",
}
"""Fields whose label on the form is not simply their name in words."""

INDEXED = re.compile(r"^(?P<name>\w+)\[(?P<index>\d+)\]$")
_ROW = re.compile(r"^row (?P<number>\d+)(?: (?P<field>.+))?$")


def field_label(field: str | None) -> str:
    """The words the form uses for `field`: ``lawful_basis`` → "Lawful basis",
    ``images[0]`` → "Image 1", ``row 3 category`` → "Row 3: Category"; a file name is
    kept as it is."""
    if not field:
        return ""
    if indexed := INDEXED.match(field):
        return f"{field_label(indexed['name'])} {int(indexed['index']) + 1}"
    if row := _ROW.match(field):
        inner = field_label(row["field"])
        return f"Row {row['number']}" + (f": {inner}" if inner else "")
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    if "." in field or " " in field:
        return field  # a file name, or words already
    return field.replace("_", " ").capitalize()


ROLE_NAMES: Mapping[str, str] = {
    "gold": "Gold commander",
    "silver": "Silver commander",
    "bronze": "Bronze commander",
    "engineer": "System engineer",
}
"""Roles whose name in words is not simply their value in words."""


def role_name(role: str) -> str:
    """A role as people say it: ``authorising_officer`` → "Authorising officer"."""
    value = str(getattr(role, "value", role))
    return ROLE_NAMES.get(value) or value.replace("_", " ").capitalize()


LOCAL_ZONE = "Europe/London"
"""The forces this framework serves keep UK time: pages show times in it, with the zone's
abbreviation (GMT or BST), so nobody converts from UTC in their head."""


def local_time(moment: datetime | None) -> str:
    """``Fri 4 Dec 2026, 14:05 GMT``: to the minute, never microseconds; a naive time is
    taken as UTC (how the record stores it)."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(LOCAL_ZONE))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def local_input(moment: datetime | None) -> str:
    """A moment as a form's date-and-time field shows it: UK time, to the minute (the
    pages show UK time, so the fields are typed in it too)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(ZoneInfo(LOCAL_ZONE)):%Y-%m-%dT%H:%M}"


def from_local_input(text: str) -> datetime:
    """What a date-and-time field holds (UK time, as typed) as a UTC moment; a value that
    names its own offset keeps it. Raises ValueError for what is not a date and time."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(LOCAL_ZONE))
    return moment.astimezone(UTC)


RESULT_LABELS: Mapping[str, str] = {
    "deployment_id": "Reference",
    "title": "Deployment",
    "started_at": "Started",
    "ended_at": "Ended",
    "faces_seen": "Faces seen (none kept)",
    "reviewed_on": "Reviewed on",
}
"""Short headings for the open-data columns on the public result page (the column names
stay as published; their full meanings are shown beside them)."""


def result_label(column: str) -> str:
    return RESULT_LABELS.get(column) or field_label(column)
