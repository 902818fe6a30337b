"""Refusals stay on the form that caused them, in plain words, with what was typed kept
(training records, TRN-1; a role grant one administrator asked for and tried to approve,
AUTH-1), and the People page speaks of roles and accounts in words."""

from __future__ import annotations

import html
import re

import pytest

from lfr.db.session import SessionFactory, transaction
from lfr.domain.people import Role
from lfr.services import people
from tests.db_fixtures import Personas
from tests.web.conftest import ClientFor

pytestmark = pytest.mark.db


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_refused_training_record_stays_on_its_form_with_the_dates_chosen(
    personas: Personas, client_for: ClientFor
) -> None:
    """TRN-1: an expiry before completion is refused beside that account's training form,
    in words; the role and both dates are still chosen; the dates are date pickers."""
    admin = client_for(personas.administrator)
    page = admin.get("/people").text
    assert 'type="date" name="completed_on"' in page
    form = {"role": "engagement_officer", "completed_on": "2026-06-01", "expires_on": "2026-01-01"}
    refused = admin.post(f"/people/{personas.operator.user_id}/training", data=form)
    assert refused.status_code == 422
    assert "expiry must be after completion" in visible(refused.text)
    assert 'value="2026-06-01"' in refused.text
    assert 'value="2026-01-01"' in refused.text
    assert '<option value="engagement_officer" selected>Engagement officer</option>' in refused.text
    bad_day = {**form, "completed_on": "soon"}
    words = visible(admin.post(f"/people/{personas.operator.user_id}/training", data=bad_day).text)
    assert "completed on is not a date" in words.lower()
    assert "completed_on" not in words


def test_a_grant_its_asker_approves_is_refused_beside_that_grant_on_the_people_page(
    session_factory: SessionFactory, personas: Personas, client_for: ClientFor
) -> None:
    """Two-person grants: the administrator who asked for a reviewer role cannot approve
    it; the People page answers 422 with the reason in words beside that grant (its
    Approve and Refuse forms still there), and the role is not granted."""
    with transaction(session_factory) as session:
        people.set_roles(
            session,
            actor=personas.administrator,
            user_id=personas.operator.user_id,
            roles={*personas.operator.roles, Role.REVIEWER},
            reason="moves to review",
        )
        (grant,) = people.pending_grants(session)
        grant_id = grant.id
    admin = client_for(personas.administrator)
    refused = admin.post(f"/people/grants/{grant_id}/approve")
    assert refused.status_code == 422
    item = refused.text.partition(f'action="/people/grants/{grant_id}/approve"')[2]
    beside = visible(item.partition("</li>")[0])
    assert "Not done:" in beside
    assert "second administrator" in beside
    assert f'action="/people/grants/{grant_id}/refuse"' in item
    with transaction(session_factory) as session:
        assert [g.id for g in people.pending_grants(session)] == [grant_id]
        assert Role.REVIEWER not in people.get_user(session, personas.operator.user_id).roles


def test_a_refused_new_account_stays_on_its_form_with_what_was_typed(
    personas: Personas, client_for: ClientFor
) -> None:
    """A name already taken is refused beside the new-account form, in words, with the
    name, full name, rank and roles as typed; the first try shows its one-time password."""
    admin = client_for(personas.administrator)
    form = {
        "username": "new-engineer",
        "display_name": "New Engineer",
        "rank": "SERGEANT",
        "roles": ["engineer", "applicant"],
    }
    first = admin.post("/people", data=form)
    assert first.status_code == 200
    assert 'id="one-time-password"' in first.text
    again = admin.post("/people", data={**form, "display_name": "Another Engineer"})
    assert again.status_code == 422
    new_form = again.text.partition('<form method="post" action="/people" class="card">')[2]
    words = html.unescape(visible(new_form.partition("</form>")[0]))
    assert "username 'new-engineer' is taken" in words
    assert 'value="new-engineer"' in new_form
    assert 'value="Another Engineer"' in new_form
    assert '<option value="SERGEANT" selected>' in new_form
    assert 'value="engineer" checked' in new_form
    assert 'value="applicant" checked' in new_form
    assert 'value="operator" checked' not in new_form


def test_the_people_page_names_roles_in_words(personas: Personas, client_for: ClientFor) -> None:
    words = visible(client_for(personas.administrator).get("/people").text)
    assert "Authorising officer" in words
    assert "authorising_officer" not in words
    assert "engagement_officer" not in words


def test_the_forecast_counts_the_narrowed_window_and_says_what_size_it_assumes(
    personas: Personas, client_for: ClientFor
) -> None:
    """AUTH-2, EQ-1: an 8-hour window narrowed to 2 hours (typed in UK time) forecasts 2
    hours of faces; with no maximum watchlist size the assumed 100 is said to be assumed,
    and a typed maximum is used as it is."""
    decider = client_for(personas.authorising_officer)
    base = {"alert_threshold": "0.95", "expected_footfall": "1000", "deployment_hours": "8"}
    applied = visible(decider.get("/forecast/panel", params=base).text)
    assert "about 8,000 faces" in applied
    assert "the window applied for" in applied
    assert "(assumed: no maximum watchlist size is set" in applied
    narrowed = {
        **base,
        "condition_window_start": "2026-07-04T10:00",
        "condition_window_end": "2026-07-04T12:00",
        "max_watchlist_size": "40",
    }
    text = visible(decider.get("/forecast/panel", params=narrowed).text)
    assert "about 2,000 faces" in text
    assert "for 2.0 hours, the narrowed window" in text
    assert "watchlist of 40" in text
    assert "assumed" not in text


def test_window_fields_are_typed_in_uk_time() -> None:
    """The pages show UK time, so a typed 14:05 in July is 13:05 UTC, and a stored moment
    fills the field in UK time."""
    from datetime import UTC, datetime

    from lfr.web.labels import from_local_input, local_input

    assert from_local_input("2026-07-04T14:05") == datetime(2026, 7, 4, 13, 5, tzinfo=UTC)
    assert from_local_input("2026-12-04T14:05") == datetime(2026, 12, 4, 14, 5, tzinfo=UTC)
    assert local_input(datetime(2026, 7, 4, 13, 5, tzinfo=UTC)) == "2026-07-04T14:05"
