"""`benchmarks.cameras --resolutions` takes sizes written as its help says (WxH)."""

from __future__ import annotations

import argparse

import pytest
from benchmarks.cameras import resolution_name


@pytest.mark.parametrize("typed", ["1280x720", "1280X720", "1280×720", " 1280 x 720 "])
def test_a_size_is_read_with_either_multiplication_sign(typed: str) -> None:
    assert resolution_name(typed) == "1280×720"


@pytest.mark.parametrize("typed", ["1920x1080", "1280", "big"])
def test_a_size_without_a_clip_is_refused_naming_the_sizes_there_are(typed: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="640×360, 1280×720"):
        resolution_name(typed)
