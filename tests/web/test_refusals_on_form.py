"""Refusals stay on the form that caused them, in plain words, with what was typed kept
(training records, TRN-1), and the People page speaks of roles and accounts in words."""

from __future__ import annotations

import re

import pytest

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


def test_the_people_page_names_roles_in_words(personas: Personas, client_for: ClientFor) -> None:
    words = visible(client_for(personas.administrator).get("/people").text)
    assert "Authorising officer" in words
    assert "authorising_officer" not in words
    assert "engagement_officer" not in words
