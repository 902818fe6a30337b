"""QR codes for the pages (second-factor enrolment): inline SVG drawn by segno (pure Python,
pinned), so the secret never leaves the page as an image file or reaches another service."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, label: str = "QR code") -> Markup:
    """`text` as an inline SVG QR code that scales to its container, with an accessible
    name. Error correction M: survives a scuffed screen, stays small."""
    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=4, border=4, title=label, svgclass="qr", omitsize=True)
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))
