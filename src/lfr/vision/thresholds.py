"""The shipped default alert threshold (REC-2), measured on lfw-dev.

The authority sets the threshold for each deployment; this is only the default a
deployment starts from, and it is always passed to the engine as an input.

PROVISIONAL: to be replaced by the measured value (benchmarks/choose_threshold.py).
"""

from __future__ import annotations

DEFAULT_ALERT_THRESHOLD: float = 0.93
"""Cosine similarity between L2-normalised dlib descriptors at or above which a match
alerts. Raising it costs missed matches (more watchlist subjects walk past unalerted);
lowering it costs false alerts (more innocent passers-by stopped)."""
