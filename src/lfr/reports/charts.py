"""Charts as pictures (PNG bytes) for report pages and PDF exports (EQ-1, EQ-3, REV-1).

matplotlib runs headless (Agg) and every figure is closed after rendering, so a long-running
server does not accumulate figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first
import numpy as np
from matplotlib.figure import Figure

from lfr.evaluation.rates import Rate
from lfr.reports.equitability import GroupScores

_FLOOR = 1e-5  # log axes cannot show zero: a rate of 0 is drawn at the floor


def det_points(scores: GroupScores, thresholds: Sequence[float]) -> tuple[list[float], list[float]]:
    """(FMR, FNMR) at each threshold: the points of a detection error trade-off curve."""
    fmr = [
        float(np.mean(scores.non_mated >= t)) if len(scores.non_mated) else 0.0 for t in thresholds
    ]
    fnmr = [float(np.mean(scores.mated < t)) if len(scores.mated) else 0.0 for t in thresholds]
    return fmr, fnmr


def det_chart(scores: Mapping[str, GroupScores], thresholds: Sequence[float], title: str) -> bytes:
    """One DET curve per group on log–log axes, the NIST FRVT way of showing differentials."""
    figure, axes = plt.subplots(figsize=(6, 5), dpi=100)
    for group, group_scores in sorted(scores.items()):
        fmr, fnmr = det_points(group_scores, thresholds)
        axes.plot(_floored(fmr), _floored(fnmr), marker=".", label=group)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("False match rate (FMR)")
    axes.set_ylabel("False non-match rate (FNMR)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(title="group")
    return _png(figure)


def bar_chart(values: Mapping[str, float], title: str, ylabel: str) -> bytes:
    """A plain bar chart (e.g. arrests per deployment, false alerts per group)."""
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    labels = list(values)
    axes.bar(range(len(labels)), [values[label] for label in labels], color="#1d4f91")
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    return _png(figure)


def grouped_bar_chart(
    labels: Sequence[str], series: Mapping[str, Sequence[float]], title: str, ylabel: str
) -> bytes:
    """Bars side by side per label, one colour per series (e.g. benefit per deployment)."""
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    positions = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        axes.bar(positions + index * width, list(values), width, label=name)
    axes.set_xticks(
        positions + width * (len(series) - 1) / 2, list(labels), rotation=30, ha="right"
    )
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if series:
        axes.legend()
    figure.tight_layout()
    return _png(figure)


def rate_lines(
    thresholds: Sequence[float], rates: Mapping[str, Sequence[Rate]], title: str, ylabel: str
) -> bytes:
    """One line per group of an error rate against the threshold, with its confidence
    interval as a band (log axis: the rates that matter are small)."""
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for group, series in sorted(rates.items()):
        values = _floored([r.value for r in series])
        line = axes.plot(list(thresholds), values, marker=".", label=group)[0]
        axes.fill_between(
            list(thresholds),
            _floored([r.low for r in series]),
            _floored([r.high for r in series]),
            color=line.get_color(),
            alpha=0.15,
        )
    axes.set_yscale("log")
    axes.set_xlabel("threshold (cosine similarity)")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(title="group")
    figure.tight_layout()
    return _png(figure)


def _floored(rates: Sequence[float]) -> list[float]:
    return [max(rate, _FLOOR) for rate in rates]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()
