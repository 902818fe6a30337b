"""The text of a PDF that lfr draws with fpdf2 (the WAD), read without another dependency.

fpdf2 embeds each TrueType font as a subset with two-byte glyph codes and a ToUnicode map;
this reads the content streams (Flate-compressed), follows each `Tf` to its font's map and
decodes the `Tj` strings. Enough for asserting what a document says, not a general parser.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM_START = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length (\d+)")
_FONT_ENTRY = re.compile(rb"/(F\d+) (\d+) 0 R")
_TOKENS = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(data: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in _OBJECT.finditer(data)}


def _stream(body: bytes) -> bytes:
    """The stream's bytes, cut by its `/Length`: compressed data may itself end in a byte
    that looks like the line break before `endstream` (1 stream in 256 ends in `\\r`)."""
    start, length = _STREAM_START.search(body), _LENGTH.search(body)
    if start is None or length is None:
        return b""
    raw = body[start.end() : start.end() + int(length.group(1))]
    return zlib.decompress(raw) if b"/FlateDecode" in body else raw


def _to_unicode(cmap: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, start in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            first = int(start, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


def _unescape(literal: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(literal):
        byte = literal[i : i + 1]
        if byte != b"\\":
            out += byte
            i += 1
            continue
        following = literal[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8))
            i += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(following, following)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text of every page, in drawing order, one `Tj` string a line."""
    objects = _objects(data)
    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        for name, number in _FONT_ENTRY.findall(body):
            font = objects.get(int(number), b"")
            unicode_ref = re.search(rb"/ToUnicode (\d+) 0 R", font)
            if unicode_ref:
                fonts[name] = _to_unicode(_stream(objects[int(unicode_ref.group(1))]))
    lines: list[str] = []
    for body in objects.values():
        if b"stream" not in body or b"/Type /XObject" in body:
            continue
        try:
            content = _stream(body)
        except zlib.error:
            continue
        current: dict[int, str] = {}
        for match in _TOKENS.finditer(content):
            if match.group(1):
                current = fonts.get(match.group(1), {})
                continue
            raw = _unescape(match.group(2))
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
            lines.append("".join(current.get(code, "") for code in codes))
    return "\n".join(lines)
