"""The WAD as a PDF keeps each label with its answer across page breaks and carries what the
HTML WAD shows (AUTH-5). Checked on the PDF itself: poppler's pdftotext reads each page's
layout, pdftoppm renders the pages for the eye (test-artifacts/screenshots/)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from lfr.db.governance import AuthorityRow
from lfr.db.session import transaction
from lfr.demo import authorise, rehearsal_application
from lfr.domain.authorisation import Conditions
from lfr.domain.categories import WatchlistCategory
from lfr.web.authority_view import AuthorityTerms, authority_terms
from lfr.web.context import WebContext
from lfr.web.labels import local_time
from lfr.web.wad_pdf import wad_pdf
from tests.conftest import missing
from tests.db_fixtures import Personas, persona_accounts, sqlite_url

pytestmark = pytest.mark.db


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The PDF's layout does not depend on the database engine: SQLite only
    (`tests.db_fixtures.sqlite_url`)."""
    return sqlite_url(tmp_path)


SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

ROW_LABELS = (
    "Decision",
    "Decided by",
    "Decided on",
    "Reasons",
    "Places",
    "Category of place",
    "Cameras",
    "Window",
    "Watchlist categories",
    "Maximum watchlist size",
    "Alert threshold",
    "Lawful basis",
    "Legitimate aim",
    "Intelligence case",
    "Necessity",
    "Proportionality",
    "Categories the watchlist may hold",
    "Authorising officer",
    "Received by the deployment's Gold commander",
)
"""Labels of rows in the PDF (each printed in the left column, its answer beside it)."""

A4_HEIGHT_PT = 297 * 72 / 25.4

SENTENCE = "The deployment is needed because the people sought are expected at this place. "


def poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        missing("poppler-utils not installed (apt-get install poppler-utils)")


@pytest.fixture
def terms(web_context: WebContext, personas: Personas) -> AuthorityTerms:
    """A real authority approved with conditions (threshold 0.96, one category)."""
    application = replace(
        rehearsal_application(personas.applicant),
        places=("Stage Door, 12 High Street", "Market Square", "Bus station, stand C"),
        watchlist_categories=frozenset(
            {WatchlistCategory.WANTED_BY_COURTS, WatchlistCategory.MISSING_AT_RISK}
        ),
    )
    conditions = Conditions(
        allowed_categories=frozenset({WatchlistCategory.WANTED_BY_COURTS}), alert_threshold=0.96
    )
    _, authority_id = authorise(
        web_context.db, persona_accounts(personas), application, conditions=conditions
    )
    with transaction(web_context.db) as session:
        row = session.get(AuthorityRow, authority_id)
        assert row is not None
        return authority_terms(session, row, web_context.recognition_settings)


VALUE_COLUMN_PT = (18 + 52) * 72 / 25.4
"""Where the answers' column starts (the page margin and the label column, in points)."""

BODY_HEIGHT_PT = 13.0
"""Words taller than this are headings (13 pt and more), not row labels."""

WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>'
)


@dataclass(frozen=True)
class Word:
    x: float
    y: float
    height: float
    text: str


def pages_of(pdf: bytes, folder: Path) -> list[list[Word]]:
    """Each page's words with their positions, as poppler reads them."""
    path = folder / "wad.pdf"
    path.write_bytes(pdf)
    xhtml = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [
        [
            Word(float(x), float(y), float(bottom) - float(y), html.unescape(text))
            for x, y, bottom, text in WORD.findall(page)
        ]
        for page in xhtml.split("<page ")[1:]
    ]


def lonely_labels(pages: list[list[Word]]) -> list[tuple[int, str]]:
    """(page, label) for every row label with no answer beside its first line."""
    lonely = []
    for number, words in enumerate(pages, start=1):
        lines: dict[float, list[Word]] = {}
        for word in words:
            if word.x < VALUE_COLUMN_PT - 2 and word.height < BODY_HEIGHT_PT:
                lines.setdefault(round(word.y, 0), []).append(word)
        for y, line in lines.items():
            text = " ".join(w.text for w in sorted(line, key=lambda w: w.x))
            label = next((lb for lb in ROW_LABELS if lb == text or lb.startswith(text + " ")), None)
            answered = any(
                w.x >= VALUE_COLUMN_PT - 2 and abs(round(w.y, 0) - y) <= 2 for w in words
            )
            if label is not None and not answered:
                lonely.append((number, label))
    return lonely


def text_of(pages: list[list[Word]]) -> str:
    return " ".join(w.text for words in pages for w in words)


def filled(words: list[Word]) -> float:
    """How far down the page its text reaches, in points."""
    return max((w.y for w in words), default=0.0)


def padded(terms: AuthorityTerms, sentences: int) -> AuthorityTerms:
    """The same authority with longer reasons and case: rows meet the page ends elsewhere."""
    application = replace(
        terms.application,
        intelligence_case=SENTENCE * sentences,
        necessity=SENTENCE * (sentences // 2 + 1),
    )
    decision = replace(terms.decision, reasons=SENTENCE * (sentences % 5 + 1))
    return replace(terms, application=application, decision=decision)


def test_no_page_holds_a_label_without_its_answer(terms: AuthorityTerms, tmp_path: Path) -> None:
    """AUTH-5: for 24 lengths of text (so that every kind of row meets a page end), no label
    is printed without its answer beside it, no page but the last is nearly empty, and a
    row never leaves a gap of blank pages."""
    poppler()
    for sentences in range(0, 48, 2):
        pages = pages_of(wad_pdf(padded(terms, sentences), "app-1"), tmp_path)
        assert lonely_labels(pages) == [], sentences
        for number, words in enumerate(pages[:-1], start=1):
            assert filled(words) > A4_HEIGHT_PT / 2, (sentences, number)  # not nearly blank


def test_the_pdf_carries_the_window_categories_and_threshold_the_html_shows(
    terms: AuthorityTerms, tmp_path: Path
) -> None:
    """AUTH-5: what the authority allows and the application as authorised, as on the HTML
    WAD: the window (UK time), the categories asked for and those allowed, the threshold.
    The pages are rendered to PNG for the eye."""
    poppler()
    pdf = wad_pdf(terms, "app-1")
    text = text_of(pages_of(pdf, tmp_path))
    window = terms.application.window
    assert window is not None
    assert text.count(local_time(window.start)) >= 2  # the authority's and the application's
    for category in ("wanted by the courts", "missing person at increased risk"):
        assert re.search(re.escape(category), text, re.IGNORECASE), category
    assert "Categories the" in text
    assert "0.96" in text
    assert "Category of place" in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "wad.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(tmp_path / "wad.pdf"), str(SCREENSHOTS / "wad-pdf")],
        check=True,
    )
    assert list(SCREENSHOTS.glob("wad-pdf-*.png"))
