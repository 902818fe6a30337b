"""The types of camera source (REC-1): the one place that says what a source spec is.

A spec is written one of four ways:

- ``node:NAME``: a camera read by the enrolled `lfr node` NAME (a van, a camera site);
  nothing here opens it, the node's alerts and health arrive over the bus.
- ``device:N``: a local camera device, N its number.
- ``SCHEME://…`` with a stream scheme (`STREAM_SCHEMES`): a network stream.
- anything else: a video file on the machine that runs the camera (a rehearsal).

Every part asks here: the camera form, the JSON route and `lfr cameras set` (`form_problem`,
`WRITTEN`), the cameras service (the force's allowed kinds, ``web.camera_source_kinds``:
`source_kind`; whether a node runs it: `node_of`), the runtime (which cameras it starts
itself: `runs_on_node`), the engine (`lfr.vision.sources.open_source` opens by type) and
`lfr watch` (how a camera is named). A new type of source is a branch in `source_type`
here and how `lfr.vision.sources` opens it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

NODE_PREFIX = "node:"
DEVICE_PREFIX = "device:"
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""A node's name: one bus subject token (`lfr.bus.subjects.TOKEN_PATTERN`)."""
DEVICE_NUMBER = re.compile(r"^[0-9]{1,4}$")
"""A local device's number: ASCII digits (`str.isdigit` takes '²', which `int` refuses) and
few enough that OpenCV can take it."""

WRITTEN = "rtsp://…, http://…, a video file, device:N or node:NAME"
"""How a source is written, for help texts and forms."""


class SourceType(StrEnum):
    FILE = "file"
    DEVICE = "device"
    STREAM = "stream"
    NODE = "node"

    @property
    def live(self) -> bool:
        """A camera that films now (never ends), as against a recorded file."""
        return self is not SourceType.FILE

    @property
    def opened_here(self) -> bool:
        """Whether the machine that holds the camera's record opens it (not a node's)."""
        return self is not SourceType.NODE


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """A spec read: its type, and the node, device number or stream scheme it names."""

    type: SourceType
    spec: str
    detail: str
    """The node's name, the device's number, the stream's scheme, or the file's path."""


def parse_source(spec: str) -> ParsedSource:
    """What `spec` is (surrounding blanks ignored); never refuses (see `form_problem`)."""
    spec = spec.strip()
    if spec.startswith(NODE_PREFIX):
        return ParsedSource(SourceType.NODE, spec, spec[len(NODE_PREFIX) :])
    if spec.startswith(DEVICE_PREFIX):
        return ParsedSource(SourceType.DEVICE, spec, spec[len(DEVICE_PREFIX) :])
    scheme, separator, _ = spec.partition("://")
    if separator and scheme.lower() in STREAM_SCHEMES:
        return ParsedSource(SourceType.STREAM, spec, scheme.lower())
    return ParsedSource(SourceType.FILE, spec, spec)


def source_type(spec: str) -> SourceType:
    return parse_source(spec).type


def source_kind(spec: str) -> str:
    """The name a force allows or refuses (``web.camera_source_kinds``): ``node``,
    ``device``, ``file``, or a stream's scheme (``rtsp``, ``http``, ...). A URL of a scheme
    no stream uses is its scheme too, so a force's list can never admit it by accident."""
    parsed = parse_source(spec)
    if parsed.type is SourceType.STREAM:
        return parsed.detail
    scheme, separator, _ = parsed.spec.partition("://")
    if parsed.type is SourceType.FILE and separator:
        return scheme.lower()
    return parsed.type.value


def form_problem(spec: str) -> str | None:
    """What is wrong with how `spec` is written, in words for the form; None when it reads."""
    parsed = parse_source(spec)
    if not parsed.spec:
        return "give the camera's address or file"
    if parsed.type is SourceType.NODE and not NODE_NAME.match(parsed.detail):
        return "node:<node name>, the name 1-64 letters, digits, '_' or '-'"
    if parsed.type is SourceType.DEVICE and not DEVICE_NUMBER.match(parsed.detail):
        return "a local device is written device:N with N a number (device:0)"
    return None


def node_of(spec: str) -> str | None:
    """The node that runs a camera of this source; None: the service runs it itself."""
    parsed = parse_source(spec)
    return parsed.detail if parsed.type is SourceType.NODE else None


def runs_on_node(spec: str) -> bool:
    """Whether an `lfr node` runs the camera (no worker in the service)."""
    return source_type(spec) is SourceType.NODE


def is_stream(spec: str) -> bool:
    return source_type(spec) is SourceType.STREAM
