"""The shipped default alert threshold (REC-2), measured on lfw-dev.

The authority sets the threshold for each deployment and it is always passed to the
engine as an input; this is only the value a deployment starts from.

How it was chosen — ``PYTHONPATH=src python benchmarks/choose_threshold.py`` (seed 0;
HOG upsample=1, 5-point alignment, dlib ResNet; cosine similarity of L2-normalised
descriptors): a gallery of the first image of 500 lfw-dev identities, 500 mated probes
(their second image), 1,000 non-mated probes (identities not in the gallery). The default
is the point where the false-positive identification rate (FPIR) per probe image is 1%
for a 500-subject watchlist: 0.9463, shipped as 0.946 (measured there: FPIR 1.1%, FNIR
33%; 0.3% / 31% for 100 subjects). FPIR 0.1% would need 0.956, at FNIR 54%. The full
table is in docs/engine.md. In live use an alert further needs several described
observations of one track at or above the threshold, which lowers false alerts below the
single-image rate. Checked on video, frame by frame: faces of people not in LFW (the
Intel walking and head-pose clips) scored at most 0.942 against 1,500 lfw-dev
identities, while a performer's reference photograph scored 0.93–0.98 on his frames of
the Hamilton clip (14 of 25 at or above 0.946).
"""

from __future__ import annotations

from lfr.vision.describers.dlib_resnet import DLIB_CARD

assert DLIB_CARD.default_threshold is not None
DEFAULT_ALERT_THRESHOLD: float = DLIB_CARD.default_threshold
"""The shipped describer's evaluated default (its `ModelCard`, 0.946): the cosine
similarity (L2-normalised dlib descriptors) at or above which a match alerts.

Raising it costs missed matches (at 0.956, FPIR 0.1%, more than half of the mated probes
are missed with 500 subjects); lowering it costs false alerts (FPIR doubles by about
0.938 for 500 subjects), and at any fixed threshold the false-alert rate grows with the
watchlist's size, so a larger list calls for a higher threshold. Descriptors of another
model (another describer backend) need their own measured threshold."""
