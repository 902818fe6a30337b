"""The Written Authority Document as a PDF (AUTH-5): the same content as the printable page
(decision, conditions, the application as authorised, signatures, the SHA-256 and how to
verify it), for a file, an email or a court bundle.

fpdf2 (pure Python, pinned) draws it; the fonts are the DejaVu faces that matplotlib, already a
dependency, ships, so any name or place in any script prints as typed. The PDF is made
from the verified record each time it is asked for and never stored."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from lfr.domain.authorisation import TEXT_FIELDS
from lfr.web.authority_view import AuthorityTerms
from lfr.web.labels import field_label, local_time

FONT = "DejaVu"
BODY_PT = 10
LABEL_WIDTH_MM = 52
LINE_MM = 5
ROW_GAP_MM = 1.5
HEADING_KEEP_MM = 22
"""Room a heading needs below it (its own line and the first row's first lines): a heading
never ends a page alone."""


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Document(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self._footer_text = footer_text
        self.add_font(FONT, "", str(_font_dir() / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(_font_dir() / "DejaVuSans-Bold.ttf"))
        self.add_font(f"{FONT}Mono", "", str(_font_dir() / "DejaVuSansMono.ttf"))
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7)
        self.set_text_color(90)
        self.cell(0, 5, f"{self._footer_text} · page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)

    def room_left(self) -> float:
        return self.page_break_trigger - self.get_y()

    def keep(self, height: float) -> None:
        """A new page first unless `height` fits on this one (and would fit on a new one)."""
        usable = self.page_break_trigger - self.t_margin
        if height > self.room_left() and height <= usable:
            self.add_page()

    def heading(self, text: str, size: int = 13) -> None:
        self.keep(HEADING_KEEP_MM)
        self.ln(3)
        self.set_font(FONT, "B", size)
        self.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", BODY_PT)

    def paragraph(self, text: str) -> None:
        self.set_font(FONT, "", BODY_PT)
        self.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")

    def _height(self, width: float, text: str, style: str) -> float:
        self.set_font(FONT, style, BODY_PT)
        height = self.multi_cell(width, LINE_MM, text, align="L", dry_run=True, output="HEIGHT")
        assert isinstance(height, float | int)
        return float(height)

    def row(self, label: str, value: str) -> None:
        """A label and its answer side by side; a long answer wraps in its column, and
        a list keeps one item per line. A row that fits on a page is never split: it
        starts a new page instead, so a label is never left without its answer. A row
        longer than a page starts with its label and the answer's first lines together."""
        value = value or "—"
        value_width = self.epw - LABEL_WIDTH_MM
        label_height = self._height(LABEL_WIDTH_MM, label, "B")
        first_lines = max(label_height, min(self._height(value_width, value, ""), 3 * LINE_MM))
        self.keep(max(label_height, self._height(value_width, value, "")))
        self.keep(first_lines)  # a row longer than a page: at least its head together
        top, page = self.get_y(), self.page
        self.set_font(FONT, "B", BODY_PT)
        self.multi_cell(LABEL_WIDTH_MM, LINE_MM, label, align="L", new_x="RIGHT", new_y="TOP")
        label_bottom = top + label_height
        self.set_font(FONT, "", BODY_PT)
        self.set_xy(self.l_margin + LABEL_WIDTH_MM, top)
        self.multi_cell(value_width, LINE_MM, value, align="L", new_x="LMARGIN", new_y="NEXT")
        bottom = self.get_y() if self.page != page else max(self.get_y(), label_bottom)
        self.set_y(bottom + ROW_GAP_MM)


def wad_pdf(terms: AuthorityTerms, application_id: str) -> bytes:
    application, decision, scope = terms.application, terms.decision, terms.scope
    pdf = _Document(f"Written Authority Document · SHA-256 {terms.sha256[:16]}…")
    pdf.add_page()
    pdf.set_font(FONT, "", 8)
    pdf.cell(0, 5, f"Written Authority Document (AUTH-5) · authority {terms.authority_id}")
    pdf.ln(6)
    pdf.heading(application.title, 16)

    pdf.heading("Decision")
    pdf.row("Decision", terms.decision_words + (" (urgent)" if decision.urgent else ""))
    pdf.row("Decided by", f"{decision.decided_by_name}, {terms.rank}")
    pdf.row("Decided on", local_time(decision.decided_at))
    pdf.row("Reasons", decision.reasons)

    pdf.heading("What the authority allows")
    narrowed = ", ".join(field_label(n) for n in terms.narrowed)
    pdf.paragraph(f"Narrowed by conditions: {narrowed}." if narrowed else "As applied for.")
    pdf.row("Places", "\n".join(scope.places))
    pdf.row("Category of place", scope.place_category.label)
    pdf.row("Cameras", "\n".join(scope.cameras))
    pdf.row("Window", f"{local_time(scope.window.start)} – {local_time(scope.window.end)}")
    pdf.row("Watchlist categories", "\n".join(c.label for c in terms.categories))
    pdf.row("Maximum watchlist size", str(scope.max_watchlist_size or "not limited"))
    pdf.row("Alert threshold", f"{terms.threshold.summary}\n({terms.threshold.origin})")

    pdf.heading("The application as authorised")
    for name in TEXT_FIELDS:
        if name != "title":
            pdf.row(field_label(name), str(getattr(application, name)))
    pdf.row("Places", "\n".join(application.places))
    category = application.place_category
    pdf.row("Category of place", category.label if category else "")
    pdf.row("Cameras", "\n".join(application.cameras))
    window = application.window
    pdf.row("Window", f"{local_time(window.start)} – {local_time(window.end)}" if window else "")
    categories = sorted(c.label for c in application.watchlist_categories)
    pdf.row("Categories the watchlist may hold", "\n".join(categories))
    if application.urgent:
        pdf.row("Why urgent", application.urgency_reason)

    _signatures(pdf, f"{decision.decided_by_name}, {terms.rank}")
    _integrity(pdf, terms.sha256, application_id)
    return bytes(pdf.output())


def _signatures(pdf: _Document, officer: str) -> None:
    pdf.heading("Signatures")
    for role, name in (
        ("Authorising officer", officer),
        ("Received by the deployment's Gold commander", ""),
    ):
        pdf.keep(32)  # the role, its lines and their captions stay together
        pdf.row(role, name)
        pdf.ln(10)
        y = pdf.get_y()
        pdf.line(pdf.l_margin, y, pdf.l_margin + 80, y)
        pdf.line(pdf.l_margin + 95, y, pdf.l_margin + 150, y)
        pdf.set_font(FONT, "", 8)
        pdf.cell(95, 4, "Signature")
        pdf.cell(0, 4, "Date", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def _integrity(pdf: _Document, sha256: str, application_id: str) -> None:
    pdf.heading("Integrity")
    pdf.paragraph("SHA-256 of the signed record:")
    pdf.set_font(f"{FONT}Mono", "", 9)
    pdf.multi_cell(0, 5, sha256, new_x="LMARGIN", new_y="NEXT")
    pdf.paragraph(
        f"How to verify: download the signed record from /applications/{application_id}/wad.json "
        "and compute its SHA-256 (sha256sum wad.json on Linux, shasum -a 256 wad.json on "
        "macOS, Get-FileHash wad.json on Windows). The result must equal the value above, "
        "character for character. The same value is in the tamper-evident audit log; the "
        "service checked it when it produced this PDF."
    )
