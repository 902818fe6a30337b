"""Charts render as real PNG pictures (EQ-1 DET curves, EQ-3 benefit charts)."""

import io

import numpy as np
from PIL import Image

from lfr.reports.charts import bar_chart, det_chart, det_points
from lfr.reports.equitability import GroupScores


def test_det_points_are_fmr_and_fnmr_at_each_threshold() -> None:
    scores = GroupScores(mated=np.array([0.2, 0.8]), non_mated=np.array([0.1, 0.6, 0.9, 0.3]))
    assert det_points(scores, [0.5, 0.85]) == ([0.5, 0.25], [0.5, 1.0])


def test_det_chart_is_a_png_picture() -> None:
    rng = np.random.default_rng(1)
    scores = {
        g: GroupScores(mated=rng.uniform(0.5, 1, 200), non_mated=rng.uniform(0, 0.7, 2000))
        for g in ("a", "b")
    }
    picture = Image.open(io.BytesIO(det_chart(scores, np.linspace(0, 1, 21).tolist(), "DET")))
    assert picture.format == "PNG"
    assert picture.size == (600, 500)


def test_bar_chart_is_a_png_picture() -> None:
    picture = Image.open(io.BytesIO(bar_chart({"d1": 2, "d2": 0}, "Arrests", "arrests")))
    assert picture.format == "PNG"
