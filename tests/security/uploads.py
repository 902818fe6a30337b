"""Crafted upload bodies shared by the upload regression tests and the fuzzer."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

OTHER_FORMATS = (
    "TIFF", "BMP", "GIF", "WEBP", "PCX", "TGA", "PPM", "SGI", "DDS", "JPEG2000", "QOI", "ICO",
    "XBM",
)  # fmt: skip
"""Formats Pillow decodes that an upload must never reach (issue 13 found most accepted
when declared as JPEG)."""

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid PNG whose header claims ``width`` × ``height`` (a decompression bomb
    when large: its pixels would be decoded from a few kilobytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * min(width * 3 + 1, 1 << 16) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def encoded(kind: str, size: tuple[int, int] = (48, 40), colour: int = 120) -> bytes:
    """A small picture encoded as ``kind``."""
    picture = Image.new("RGB", size, (colour, 80, 200))
    if kind == "XBM":
        picture = picture.convert("1")
    buffer = io.BytesIO()
    picture.save(buffer, format=kind)
    return buffer.getvalue()
