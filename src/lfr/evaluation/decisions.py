"""Decision rules on top of any model's scores that live in the evaluation only.

Cohort score normalisation, which helped, lives in the engine
(`lfr.vision.normalisation`, `Gallery.with_normalisation`). Quality gating of probes,
which did not help on lfw-dev (docs/evaluation.md), is measured here: probes below a
quality score are not searched at all (a gated mated probe is a miss, a gated non-mated
probe raises no alert).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]


def gate_by_quality(
    scores: Matrix, quality: NDArray[np.float64], minimum: float
) -> tuple[Matrix, NDArray[np.bool_]]:
    """Rows of probes whose quality is below `minimum` become -inf (never alert, never
    hit); returns the gated matrix and the mask of probes kept."""
    kept = quality >= minimum
    gated = scores.copy()
    gated[~kept] = -np.inf
    return gated, kept
