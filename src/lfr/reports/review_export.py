"""The review's charts (PNG) and its PDF export (REV-1, EQ-3).

The PDF is laid out like the Written Authority Document (`lfr.reports.pdf_layout`, fpdf2):
the figures and the assessment as labelled rows in a proportional font, then one page per
chart.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from lfr.reports import charts
from lfr.reports.pdf_layout import FONT, LabelledDocument
from lfr.reports.recognition import threshold_words


def review_charts(figures: Mapping[str, Any]) -> dict[str, bytes]:
    """Alerts by what they turned out to be, and faces seen per camera."""
    outcomes = {
        "true": float(figures["true_alerts"]),
        "false": float(figures["false_alerts"]),
        "unconfirmed": float(figures["unconfirmed_alerts"]),
        "blue-list tests": float(figures["test_alerts"]),
        "engagements": float(figures["engagements"]),
        "arrests": float(figures["arrests"]),
    }
    cameras = {c["camera"]: float(c["faces_seen"]) for c in figures["cameras"]}
    return {
        "alerts": charts.bar_chart(outcomes, "Alerts and what followed", "count"),
        "faces": charts.bar_chart(cameras or {"no camera reported": 0.0}, "Faces seen", "faces"),
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not run"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def _when(iso: str | None) -> str | None:
    return f"{iso[:10]} {iso[11:16]} UTC" if iso else None


def _threshold(figures: Mapping[str, Any]) -> str:
    """The threshold the deployment ran at, as a number with its meaning; a review frozen
    before the threshold was recorded as one says so."""
    threshold = figures["alert_threshold"]
    if threshold is None:
        return "not recorded (the engine's configured threshold at the time)"
    return threshold_words(threshold, figures.get("alert_threshold_false_match_rate"))


def summary_lines(figures: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The figures as (label, value) rows: the review page and the PDF print the same."""
    faces = figures["faces_seen"]
    tpr = figures["measured_true_positive_rate"]
    expectation = figures.get("expectation")
    rows = [
        ("Places", ", ".join(figures["places"])),
        ("Started", _when(figures["started_at"]) or "never"),
        ("Stopped", _when(figures["stopped_at"]) or "—"),
        ("Time running", _duration(figures["time_running_seconds"])),
        ("Alert threshold", _threshold(figures)),
        ("Watchlist size", str(figures["watchlist"]["size"])),
        (
            "Watchlist categories",
            ", ".join(
                f"{k.replace('_', ' ')}: {v}" for k, v in figures["watchlist"]["categories"].items()
            )
            or "—",
        ),
        ("Faces seen", "not reported" if faces is None else str(faces)),
        ("Camera downtime", f"{figures['camera_downtime_seconds']:.0f} s"),
        ("Alerts", str(figures["alerts"])),
        ("True alerts", str(figures["true_alerts"])),
        (
            "False alerts",
            f"{figures['false_alerts']} ({figures['false_alerts_dismissed_by_operator']} "
            "dismissed by the operator)",
        ),
        ("Unconfirmed alerts", str(figures["unconfirmed_alerts"])),
        (
            "Not adjudicated",
            f"{figures.get('not_adjudicated_alerts', 0)} (still undecided when the deployment "
            "ended, closed then)",
        ),
        ("Engagements", str(figures["engagements"])),
        ("Arrests", str(figures["arrests"])),
        (
            "Outcomes",
            ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in figures["outcomes"].items()) or "—",
        ),
        (
            "Halts",
            "; ".join(f"{h['at'][:16]} ({h['reason']})" for h in figures["halts"]) or "none",
        ),
        (
            "Blue-list tests (REC-6)",
            f"{figures['test_alerts']} test alerts; measured true-positive rate "
            + ("—" if tpr is None else f"{tpr:.0%}"),
        ),
    ]
    if expectation:
        expected = expectation["expected_false_alerts"]
        rows.append(
            (
                "Forecast (evaluation)",
                f"{expectation['false_alerts_per_10k_faces']:.1f} false alerts per 10,000 faces"
                + ("" if expected is None else f", {expected:.1f} expected here")
                + f"; true identification rate {expectation['true_identification_rate']:.0%}",
            )
        )
    return rows


ASSESSMENT_HEADINGS = {
    "performance_assessment": "Performance against expectations",
    "safeguards_assessment": "Effectiveness of the safeguards",
    "lessons": "Lessons",
}


def review_pdf(
    figures: Mapping[str, Any], assessment: Mapping[str, str | None], signed: str
) -> bytes:
    """The review as a PDF: the title and its status, the figures as labelled rows, the
    assessment under its three headings, then the charts, one to a page's width."""
    pdf = LabelledDocument(f"Post-deployment review · {figures['title']}")
    pdf.add_page()
    pdf.set_font(FONT, "", 8)
    pdf.cell(0, 5, "Post-deployment review (REV-1)")
    pdf.ln(6)
    pdf.heading(str(figures["title"]), 16)
    pdf.paragraph(signed)
    pdf.heading("Figures from the record")
    for label, value in summary_lines(figures):
        pdf.row(label, value)
    pdf.heading("Assessment")
    for name, text in assessment.items():
        pdf.row(ASSESSMENT_HEADINGS.get(name, name), text or "(not written)")
    for title, png in review_charts(figures).items():
        pdf.add_page()
        pdf.heading("Alerts and what followed" if title == "alerts" else "Faces seen per camera")
        pdf.image(io.BytesIO(png), w=pdf.epw)
    return bytes(pdf.output())
