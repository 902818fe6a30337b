"""The shipped default alert threshold (REC-2), measured on video and on lfw-dev.

The authority sets the threshold for each deployment and it is always passed to the
engine as an input; this is only the value a deployment starts from.

How it was chosen — the walk-by video benchmark (``python -m benchmarks.walkby``: 620
lfw-dev passers, 310 of them among 1,100 enrolled, through the camera worker; figures in
docs/evaluation.md). With every face that passes the live gate described
(`TrackerConfig.min_describe_quality` 0), 0.955 found 54.5% of the watchlisted passers
and alerted on 3 of the 310 others, where the previous default — 0.946, the FPIR 1% point
of a 500-subject lfw-dev watchlist of stills, with faces under quality 0.3 never
described — found 47.7% and alerted on 10: more people found and fewer strangers stopped.
On stills (``PYTHONPATH=src python benchmarks/choose_threshold.py``, seed 0: 500
enrolled, 1,000 non-mated probes) 0.955 is near the FPIR 0.1% point (0.956, FNIR 54%;
0.946 was FPIR 1%, FNIR 33%): a single photograph is weaker evidence than a followed
face, which must reach the threshold on two descriptions (`min_confirmations`). It lies
above the equitable floor of the shipped equitability figures (0.943). The full stills
table is in docs/engine.md.
"""

from __future__ import annotations

from lfr.vision.describers.dlib_resnet import DLIB_CARD

assert DLIB_CARD.default_threshold is not None
DEFAULT_ALERT_THRESHOLD: float = DLIB_CARD.default_threshold
"""The shipped describer's evaluated default (its `ModelCard`, 0.955): the calibrated
score (the cosine similarity of L2-normalised dlib descriptors) at or above which a
match alerts.

Raising it costs missed matches (at 0.956, FPIR 0.1%, more than half of the mated probes
are missed with 500 subjects); lowering it costs false alerts (FPIR doubles by about
0.938 for 500 subjects), and at any fixed threshold the false-alert rate grows with the
watchlist's size, so a larger list calls for a higher threshold. Descriptors of another
model (another describer backend) need their own measured threshold."""
