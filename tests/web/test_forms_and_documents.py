"""The pages people decide and work from: refusals shown on the form in the form's words,
conditions on every page that works under an authority, and a Written Authority Document a
court can read and check (AUTH-1, AUTH-2, AUTH-5, AUTH-6, WL-3, EQ-1)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest

from lfr.db.session import transaction
from lfr.demo import authorise, rehearsal_application
from lfr.domain.authorisation import Conditions
from lfr.domain.categories import WatchlistCategory
from lfr.services import watchlists
from lfr.web.context import WebContext
from lfr.web.labels import field_label, local_time
from tests.db_fixtures import POLICY, Personas, persona_accounts

pytestmark = pytest.mark.db

HTMX = {"HX-Request": "true"}
PLACE_WITH_COMMA = "Stage Door, 12 High Street"


def visible(html: str) -> str:
    """The text a person reads (tags and attributes removed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def conditioned(web_context: WebContext, personas: Personas) -> tuple[str, str]:
    """An application for two categories at two places, approved with conditions: one
    category, ten subjects, threshold 0.96. Returns (application id, watchlist id)."""
    application = replace(
        rehearsal_application(personas.applicant),
        places=(PLACE_WITH_COMMA, "Market Square"),
        watchlist_categories=frozenset(
            {WatchlistCategory.WANTED_BY_COURTS, WatchlistCategory.MISSING_AT_RISK}
        ),
    )
    conditions = Conditions(
        max_watchlist_size=10,
        allowed_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS}),
        alert_threshold=0.96,
    )
    application_id, authority_id = authorise(
        web_context.db,
        persona_accounts(personas),
        application,
        conditions=conditions,
        consult=False,
        reasons="Necessary; narrowed to people wanted by the courts.",
    )
    with transaction(web_context.db) as session:
        watchlist = watchlists.create_watchlist(
            session, personas.applicant, authority_id, policy=POLICY
        )
        return application_id, watchlist.id


def test_field_labels_are_the_forms_words() -> None:
    assert field_label("lawful_basis") == "Lawful basis"
    assert field_label("images[0]") == "Image 1"
    assert field_label("row 3 category") == "Row 3: Category"
    assert field_label("photo.png") == "photo.png"


def test_a_refused_submit_lists_each_field_as_labelled_and_links_to_it(
    personas: Personas, client_for
) -> None:
    """AUTH-1: an incomplete draft is refused on the page, in plain words, nothing lost."""
    applicant = client_for(personas.applicant)
    created = applicant.post(
        "/applications", data={"title": "Half done"}, headers=HTMX, follow_redirects=False
    )
    assert created.status_code == 200
    target = created.headers["HX-Redirect"]
    refused = applicant.post(f"{target}/submit", headers=HTMX)
    assert refused.status_code == 422
    text = visible(refused.text)
    assert "Lawful basis" in text
    assert "Category of place" in text
    assert "lawful_basis" not in text
    assert "place_category" not in text
    assert f'href="{target}/edit#lawful_basis"' in refused.text
    assert "AUTH-1" in text


def test_a_refused_entry_names_the_field_and_a_category_outside_the_authority_is_not_offered(
    personas: Personas, client_for, conditioned: tuple[str, str], faces_dir
) -> None:
    """WL-3, AUTH-6: the watchlist form offers the allowed categories only, shows the
    conditions and how many of the allowed subjects are used."""
    _, watchlist_id = conditioned
    applicant = client_for(personas.applicant)
    page = applicant.get(f"/watchlists/{watchlist_id}")
    text = visible(page.text)
    assert "0 of 10 allowed" in text
    assert "What the authority allows" in text
    assert "0.96" in text
    assert 'value="wanted_by_courts"' in page.text
    assert 'value="missing_at_risk"' not in page.text
    image = (faces_dir / "face_recognition-examples" / "obama.jpg").read_bytes()
    refused = applicant.post(
        f"/watchlists/{watchlist_id}/entries",
        data={
            "subject_reference": "X-1",
            "category": "missing_at_risk",
            "reason": "r",
            "image_source": "s",
        },
        files={"images": ("obama.jpg", image, "image/jpeg")},
        headers=HTMX,
    )
    assert refused.status_code == 422
    assert "Category" in visible(refused.text)


def test_application_page_shows_conditions_and_places_one_per_line(
    personas: Personas, client_for, conditioned: tuple[str, str]
) -> None:
    application_id, watchlist_id = conditioned
    page = client_for(personas.applicant).get(f"/applications/{application_id}")
    assert "What the authority allows" in page.text
    assert f"<li>{PLACE_WITH_COMMA}</li>" in page.text
    assert f"/watchlists/{watchlist_id}" in page.text


def test_wad_is_a_document_with_its_hash_a_pdf_and_the_exact_record(
    personas: Personas, client_for, conditioned: tuple[str, str]
) -> None:
    """AUTH-5: readable decision, conditions, signatures; the downloadable record hashes to
    the printed SHA-256; the PDF is a PDF carrying the same hash."""
    application_id, _ = conditioned
    reader = client_for(personas.gold)
    page = reader.get(f"/applications/{application_id}/wad")
    text = visible(page.text)
    for words in ("Approve with conditions", "Signatures", "How to verify", "Market Square"):
        assert words in text
    assert "SUPERINTENDENT" not in text
    assert '"decided_by_rank"' not in page.text
    record = reader.get(f"/applications/{application_id}/wad.json")
    digest = hashlib.sha256(record.content).hexdigest()
    assert digest in page.text
    pdf = reader.get(f"/applications/{application_id}/wad.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert len(pdf.content) > 5000


def test_forecast_panel_speaks_of_this_deployment(personas: Personas, client_for) -> None:
    """AUTH-2, EQ-1: with footfall and hours the panel counts alerts for the deployment,
    or says in plain words why it cannot; a typo is named, not a 500."""
    decider = client_for(personas.authorising_officer)
    panel = decider.get(
        "/forecast/panel",
        params={"alert_threshold": "0.95", "expected_footfall": "1200", "deployment_hours": "8"},
    )
    assert panel.status_code == 200
    text = visible(panel.text)
    assert "for this deployment" in text.lower() or "not been measured" in text
    assert "lfr evaluate" not in text
    typo = decider.get("/forecast/panel", params={"expected_footfall": "lots"})
    assert "Expected footfall" in visible(typo.text)


@pytest.mark.parametrize(
    ("field", "typed", "said"),
    [
        ("alert_threshold", "nan", "finite number"),
        ("alert_threshold", "inf", "finite number"),
        ("alert_threshold", "5", "less than or equal to 1"),
        ("alert_threshold", "0", "greater than 0"),
        ("deployment_hours", "inf", "finite number"),
        ("deployment_hours", "-3", "greater than or equal to 0"),
        ("expected_footfall", "-100", "greater than or equal to 0"),
        ("expected_footfall", "99999999999999999999", "less than or equal to"),
        ("max_watchlist_size", "0", "greater than or equal to 1"),
    ],
)
def test_a_number_the_forecast_cannot_use_is_named_in_the_panel(
    personas: Personas, client_for, field: str, typed: str, said: str
) -> None:
    """EQ-1: 'nan' as the threshold was a 500 (and 'inf' reset the connection); a number out
    of range gave a forecast of nonsense. Each is now said beside its field."""
    decider = client_for(personas.authorising_officer)
    panel = decider.get("/forecast/panel", params={field: typed})
    assert panel.status_code == 200
    assert said in visible(panel.text)


def test_times_are_local_and_to_the_minute() -> None:
    from datetime import UTC, datetime

    assert local_time(datetime(2026, 7, 4, 13, 5, 6, 7, tzinfo=UTC)) == "Sat 4 Jul 2026, 14:05 BST"


def test_public_pages_link_only_to_pages_that_exist_and_show_shipped_documents(
    app_client, conditioned: tuple[str, str]
) -> None:
    """PUB-1, PUB-3: every link of the Atom feed opens a page; the Documents page is never
    empty (the shipped templates, marked as not adopted, until the force publishes)."""
    from urllib.parse import urlsplit

    feed = app_client.get("/public/feed.atom").text
    links = set(re.findall(r'href="([^"]+)"', feed))
    assert links
    for link in links:
        assert app_client.get(urlsplit(link).path).status_code == 200, link
    documents = app_client.get("/public/documents")
    assert "not yet adopted" in documents.text
    template = app_client.get("/public/documents/templates/legal_mandate")
    assert template.status_code == 200
    assert b"Legal basis" in template.content
    public = visible(app_client.get("/public").text)
    assert re.search(r"\d{2}:\d{2} (GMT|BST)", public)


def test_an_htmx_post_about_an_unreadable_object_is_not_found_not_a_form_problem(
    personas: Personas, client_for
) -> None:
    """No IDOR through the inline refusals: a guessed id answers 404 as on any page."""
    applicant = client_for(personas.applicant)
    missing = "00000000-0000-0000-0000-000000000000"
    response = applicant.post(f"/applications/{missing}/submit", headers=HTMX)
    assert response.status_code == 404
