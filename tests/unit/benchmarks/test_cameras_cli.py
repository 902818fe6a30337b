"""`benchmarks.cameras`: `--resolutions` takes sizes written as its help says (WxH), and
the deciding frame's clock."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from benchmarks.cameras import ProcessingClock, resolution_name

from lfr.vision.sources import open_source
from lfr.vision.types import CameraStatus


@pytest.mark.parametrize("typed", ["1280x720", "1280X720", "1280×720", " 1280 x 720 "])
def test_a_size_is_read_with_either_multiplication_sign(typed: str) -> None:
    assert resolution_name(typed) == "1280×720"


@pytest.mark.parametrize("typed", ["1920x1080", "1280", "big"])
def test_a_size_without_a_clip_is_refused_naming_the_sizes_there_are(typed: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="640×360, 1280×720"):
        resolution_name(typed)


def test_the_processing_clock_notes_the_capture_time_of_the_frame_handed_out(
    data_dir: Path,
) -> None:
    """The deciding frame → alert latency reads the capture time of the frame the worker
    is processing: the last one read, never an earlier one."""
    source = ProcessingClock(open_source(str(data_dir / "video" / "short_hamilton_clip.mp4"), "c"))
    try:
        assert source.processing is None
        seen = []
        for _ in range(3):
            frame = source.read(5.0)
            assert frame is not None
            seen.append(frame.captured_at)
            assert source.processing == frame.captured_at
        assert seen == sorted(seen)
        assert len(set(seen)) == 3
        assert source.status is CameraStatus.UP
    finally:
        source.close()
