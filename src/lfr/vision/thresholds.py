"""The shipped default alert threshold (REC-2), measured on lfw-dev.

The authority sets the threshold for each deployment and it is always passed to the
engine as an input; this is only the value a deployment starts from.

How it was chosen — ``PYTHONPATH=src python benchmarks/choose_threshold.py`` (seed 0;
HOG upsample=1, 5-point alignment, dlib ResNet; cosine similarity of L2-normalised
descriptors): a gallery of the first image of 500 lfw-dev identities, 500 mated probes
(their second image), 1,000 non-mated probes (identities not in the gallery). Per probe
image, for the 500-subject gallery, FPIR is 1% at 0.946 (FNIR 33%) and 0.1% at 0.956
(FNIR 54%); at 0.95 it is 0.7% with FNIR 42% (0.1% / 43% for 100 subjects). The full
table is in docs/engine.md. In live use an alert further needs a fused score over several
observations of one track, which lowers false alerts below these single-image rates.
Checked on video: faces of people not in LFW (the Intel walking and head-pose clips)
scored at most 0.942 against 1,500 lfw-dev identities frame by frame, while a performer's
reference photograph scored 0.93–0.98 on his frames of the Hamilton clip.
"""

from __future__ import annotations

DEFAULT_ALERT_THRESHOLD: float = 0.95
"""Cosine similarity (L2-normalised dlib descriptors) at or above which a match alerts.

Raising it costs missed matches (at 0.956 nearly every second mated probe is missed with
500 subjects); lowering it costs false alerts (at 0.946 one stranger in 100 alerts
against 500 subjects, and the rate grows with the watchlist's size). Descriptors of
another model (another describer backend) need their own measured threshold."""
