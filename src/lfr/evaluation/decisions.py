"""Decision rules on top of any model's scores that live in the evaluation only.

The rules the engine can run (description, fusion, cohort and fair normalisation,
calibration) are in `lfr.vision.decision`, which the evaluation runs too. Measured here
only, because it did not help on lfw-dev (docs/evaluation.md): quality gating of probes
(probes below a quality score are not searched at all: a gated mated probe is a miss, a
gated non-mated probe raises no alert).
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
