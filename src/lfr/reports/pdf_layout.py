"""A4 documents of labelled rows, drawn by fpdf2 (pure Python, pinned): the Written
Authority Document and the post-deployment review print with it. The fonts are the DejaVu
faces that matplotlib, already a dependency, ships, so any name or place in any script
prints as typed. A row that fits on a page is never split (it starts the next page), and a
heading never ends a page, so no page holds a label without its answer."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

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


class LabelledDocument(FPDF):
    """An A4 page flow of headings, paragraphs and label/answer rows, with a footer."""

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
