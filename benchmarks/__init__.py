"""Benchmarks: scripts that print tables of speed and accuracy (never timed tests).

Run ``python -m benchmarks --help`` from the project root (with ``PYTHONPATH=src`` when
lfr is not installed). Data comes from ``../shared/data`` beside the project, or from
``LFR_TEST_DATA`` when set; generated clips and caches go to ``.lfr-cache/`` (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = PROJECT_ROOT / ".lfr-cache"


def shared_data_dir() -> Path:
    """Where the test and benchmark data lie (same rule as the tests' fixtures)."""
    override = os.environ.get("LFR_TEST_DATA")
    path = Path(override) if override else PROJECT_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise FileNotFoundError(f"benchmark data not found at {path} (set LFR_TEST_DATA)")
    return path
