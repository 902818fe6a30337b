"""Download headers: a file name that can never break the header (RFC 6266, RFC 5987).

Every ``Content-Disposition`` goes through `attachment`: an ASCII fallback
(``filename="..."``, with quotes, backslashes, control characters and non-ASCII replaced)
and the exact name percent-encoded as UTF-8 (``filename*=UTF-8''...``), which browsers
prefer. A name with a quote, a NUL or Cyrillic letters no longer injects a parameter,
drops the connection or fails with 500.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME = 150
"""Longest name sent; longer ones are cut (the extension kept)."""


def _plain(name: str) -> str:
    """Printable characters only, no path separators, at most `MAX_NAME`."""
    cleaned = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "/\\"
    ).strip(" .")
    if len(cleaned) > MAX_NAME:
        stem, dot, extension = cleaned.rpartition(".")
        keep = extension[:10] if dot else ""
        cleaned = (stem if dot else cleaned)[: MAX_NAME - len(keep) - 1] + (
            f".{keep}" if keep else ""
        )
    return cleaned or "download"


def safe_filename(name: str) -> str:
    """A stored document's name: printable, no path, no control character."""
    return _plain(name)


def attachment(filename: str) -> str:
    """The ``Content-Disposition`` value for downloading ``filename``."""
    exact = _plain(filename)
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in exact)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(exact, safe='')}"
