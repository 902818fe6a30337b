"""The Written Authority Document as a PDF (AUTH-5): the same content as the printable page
(decision, conditions, the application as authorised, signatures, the SHA-256 and how to
verify it), for a file, an email or a court bundle.

`lfr.reports.pdf_layout` lays it out (fpdf2, DejaVu fonts, rows kept whole across pages).
The PDF is made from the verified record each time it is asked for and never stored."""

from __future__ import annotations

from lfr.domain.authorisation import TEXT_FIELDS
from lfr.reports.pdf_layout import FONT, LabelledDocument
from lfr.web.authority_view import AuthorityTerms
from lfr.web.labels import field_label, local_time


def wad_pdf(terms: AuthorityTerms, application_id: str) -> bytes:
    application, decision, scope = terms.application, terms.decision, terms.scope
    pdf = LabelledDocument(f"Written Authority Document · SHA-256 {terms.sha256[:16]}…")
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


def _signatures(pdf: LabelledDocument, officer: str) -> None:
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


def _integrity(pdf: LabelledDocument, sha256: str, application_id: str) -> None:
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
