"""The one registry of camera source types (REC-1): what a spec is, the kind a force
allows or refuses, and what is wrong with how it is written."""

from __future__ import annotations

import pytest

from lfr.vision.source_types import (
    SourceType,
    form_problem,
    node_of,
    parse_source,
    runs_on_node,
    source_kind,
)


@pytest.mark.parametrize(
    ("spec", "kind", "source_type"),
    [
        ("node:van-3", "node", SourceType.NODE),
        ("device:0", "device", SourceType.DEVICE),
        ("RTSP://cam/a", "rtsp", SourceType.STREAM),
        ("https://cam/a", "https", SourceType.STREAM),
        ("/srv/clips/rehearsal.mp4", "file", SourceType.FILE),
        # A URL no stream uses is its scheme: a force's list never admits it as a file.
        ("ftp://host/clip.mp4", "ftp", SourceType.FILE),
        ("  node:van-3  ", "node", SourceType.NODE),
    ],
)
def test_each_spec_has_one_type_and_kind(spec: str, kind: str, source_type: SourceType) -> None:
    assert source_kind(spec) == kind
    assert parse_source(spec).type is source_type


def test_only_a_node_source_names_a_node_and_is_not_opened_here() -> None:
    assert node_of("node:van-3") == "van-3"
    assert runs_on_node("node:van-3")
    assert not SourceType.NODE.opened_here
    for spec in ("device:0", "rtsp://cam/a", "clip.mp4"):
        assert node_of(spec) is None
        assert not runs_on_node(spec)
    assert SourceType.DEVICE.live
    assert SourceType.STREAM.live
    assert not SourceType.FILE.live


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "give the camera's address or file"),
        ("node:", "node:<node name>, the name 1-64 letters"),
        ("node:van 3", "node:<node name>, the name 1-64 letters"),
        ("device:front", "a local device is written device:N"),
    ],
)
def test_a_badly_written_spec_says_how_to_write_it(spec: str, problem: str) -> None:
    found = form_problem(spec)
    assert found is not None
    assert found.startswith(problem)


def test_well_written_specs_have_no_problem() -> None:
    for spec in ("node:van-3", "device:12", "rtsp://u:p@cam/a", "clip.mp4"):
        assert form_problem(spec) is None
