"""The tests' PDF reader reads every page (AUTH-5 tests read the WAD's PDF with it)."""

from __future__ import annotations

import zlib

from tests.pdf_text import _stream


def _compressed_ending_in_carriage_return() -> tuple[bytes, bytes]:
    for number in range(100_000):
        content = f"BT ({number}) Tj ET".encode()
        packed = zlib.compress(content)
        if packed.endswith(b"\r"):
            return content, packed
    raise AssertionError("no compressed stream ends in a carriage return")


def test_a_stream_whose_compressed_bytes_end_in_a_carriage_return_is_read_whole() -> None:
    """One compressed stream in 256 ends in the byte `\\r`; cut by its line break before
    `endstream` it lost that byte and the whole page's text with it."""
    content, packed = _compressed_ending_in_carriage_return()
    body = (
        f" << /Filter /FlateDecode /Length {len(packed)} >>\nstream\n".encode()
        + packed
        + b"\nendstream\n"
    )
    assert _stream(body) == content
