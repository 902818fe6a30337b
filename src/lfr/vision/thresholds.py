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

from typing import Any

from lfr.vision.describers import (
    DESCRIBER_CONFIG_ADAPTER,
    DescriberConfig,
    describer_model_id,
    model_card,
)
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


def evaluated_default_threshold(describer: DescriberConfig | None) -> float | None:
    """The evaluated default alert threshold of `describer`'s model (its `ModelCard`): each
    model has its own scale, so its default belongs to it (dlib's 0.955 on dlib's, the
    dlib + faceres fusion's on the fused score's). None for a model without one (a
    force's own ONNX model, a fusion of other weights): its threshold is the force's to
    measure (`lfr evaluate identification`) and set."""
    card = model_card(describer_model_id(describer))
    return card.default_threshold if card is not None else None


assert DLIB_CARD.default_margin is not None
DEFAULT_MARGIN: float = DLIB_CARD.default_margin
"""The shipped describer's evaluated default `alert_margin` (its `ModelCard`, 0.01): a
description counts only where its best subject stands that far above the second. On the
walk-by clip (1,100 enrolled) it took the strangers alerted at the default threshold from
3–5 to 1–2 of 310 for one or two watchlisted passers fewer found (docs/evaluation.md)."""


def describers_defaults(settings: Any) -> Any:
    """Engine settings (as given, before validation) with `alert_threshold` and
    `alert_margin` filled in from the configured describer's evaluated defaults (its
    `ModelCard`) where they are not given. Settings that do not name a valid describer
    are left for validation to refuse."""
    if not isinstance(settings, dict) or settings.get("describer") is None:
        return settings
    try:
        card = model_card(
            describer_model_id(DESCRIBER_CONFIG_ADAPTER.validate_python(settings["describer"]))
        )
    except (ValueError, OSError):
        return settings
    if card is None:
        return settings
    defaults = {"alert_threshold": card.default_threshold, "alert_margin": card.default_margin}
    filled = {k: v for k, v in defaults.items() if v is not None and settings.get(k) is None}
    return {**settings, **filled}
