"""The equitability evaluation of a model (EQ-1), on the measurement harness of
`lfr.evaluation` (same describer, same descriptor cache).

Input: an LFW-layout image folder and a labels file (``identity,group``); only labelled
identities are evaluated, so the labels file also chooses the subset.

Two views, both per group, at every threshold of a range:

- **1:1 (NIST FRVT Part 3 style)**: every pair of a group's images. Mated pairs give the
  false non-match rate (FNMR: the same person scoring below the threshold); non-mated
  pairs *of the same group* give the false match rate (FMR: two people of that group
  confused). Each with a Wilson interval, each group tested against the rest
  (Holm-adjusted), and the lowest threshold from which no significant FMR differential
  remains (`equitability.equitability_report`).
- **1:N (open set)**: the first image of each identity with two or more images enrolled,
  the rest searched (mated), one-image identities searched (non-mated): FPIR and FNIR per
  group at each threshold (`evaluation.metrics`), searched with the engine's default rule
  (`EngineConfig.score_normalisation`), scores calibrated (`lfr.vision.calibration`), so
  the thresholds are the calibrated scores an authority sets.

The overall FMR and FNMR (all groups' pairs pooled) at each threshold feed the forecast
(`forecast.forecast_alerts`). Pooling same-group impostors only slightly over-states the
FMR a mixed crowd would give (same-group pairs are the likeliest to match): a cautious
figure for a forecast of false alerts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lfr.evaluation import metrics
from lfr.evaluation.datasets import DatasetError, split_identification
from lfr.evaluation.descriptors import DescribedImage, EvaluationDescriber
from lfr.evaluation.rates import Rate, make_rate
from lfr.reports import charts
from lfr.reports.equitability import EquitabilityReport, GroupScores, equitability_report
from lfr.vision.calibration import ModelCalibration, load_calibration
from lfr.vision.decision import DecisionRule, comparison_scores, searched_gallery
from lfr.vision.engine_config import EngineConfig
from lfr.vision.matcher import Gallery

DEFAULT_THRESHOLDS = tuple(round(0.80 + 0.01 * i, 2) for i in range(19))
"""0.80 to 0.98 in steps of 0.01: cosine similarities of the dlib descriptors, from well
below the shipped alert threshold (0.93) to near-certain matches."""


@dataclass(frozen=True)
class EquitabilityResult:
    report: dict[str, Any]
    charts: dict[str, bytes]


def parse_thresholds(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (inclusive) or a comma-separated list, each in (0, 1]."""
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step <= 0:
                raise ValueError("the step must be positive")
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = tuple(round(start + i * step, 6) for i in range(count))
        else:
            values = tuple(float(part) for part in text.split(","))
    except ValueError as error:
        raise ValueError(f"--thresholds {text!r}: {error}") from error
    if not values or any(not 0.0 < v <= 1.0 for v in values):
        raise ValueError(f"--thresholds {text!r}: each threshold must lie in (0, 1]")
    return tuple(sorted(set(values)))


def labelled_identities(
    identities: Mapping[str, Sequence[Path]], labels: Mapping[str, str]
) -> dict[str, list[Path]]:
    chosen = {name: list(paths) for name, paths in identities.items() if name in labels}
    if not chosen:
        raise DatasetError("no identity of the image folder is named in the labels file")
    return chosen


def evaluate_equitability(
    identities: Mapping[str, Sequence[Path]],
    labels: Mapping[str, str],
    describer: EvaluationDescriber,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    alpha: float = 0.05,
    progress: Callable[[int], None] = lambda n: None,
    engine: EngineConfig | None = None,
) -> EquitabilityResult:
    """Describe the labelled images (through the cache) and measure every group, on
    the calibrated scores of `engine`'s decision rule (default: the engine's defaults)."""
    config = engine or EngineConfig()
    rule = config.decision_rule()
    calibration = load_calibration(config.calibration_path, describer.setup["model_id"])
    chosen = labelled_identities(identities, labels)
    paths = [p for images in chosen.values() for p in images]
    described = {d.path: d for d in describer.describe_all(paths, progress)}
    scores, counts = _group_scores(chosen, labels, described, rule, calibration)
    if len(scores) < 2:
        raise DatasetError("the labels name fewer than two groups with images: nothing to compare")
    identification = _identification(chosen, labels, described, thresholds, rule, calibration)
    result = scores_report(scores, thresholds, alpha, identification)
    report = result.report | {
        **describer.describe_setup(),
        "rule": rule.name,
        "groups": counts,
        "no_face_found": sum(1 for d in described.values() if not d.face_found),
    }
    return EquitabilityResult(report, result.charts)


def scores_report(
    scores: Mapping[str, GroupScores],
    thresholds: Sequence[float],
    alpha: float = 0.05,
    identification: Mapping[float, Mapping[str, metrics.IdentificationRates]] | None = None,
) -> EquitabilityResult:
    """The stored report and its charts from each group's 1:1 scores (and, when given,
    the 1:N rates per threshold and group)."""
    verification = equitability_report(scores, thresholds, alpha)
    report = {
        "kind": "equitability",
        "alpha": alpha,
        "lowest_equitable_threshold": verification.lowest_equitable_threshold,
        "thresholds": _threshold_rows(verification, identification or {}),
    }
    return EquitabilityResult(report, _charts(scores, verification, thresholds))


def _group_scores(
    chosen: Mapping[str, Sequence[Path]],
    labels: Mapping[str, str],
    described: Mapping[Path, DescribedImage],
    rule: DecisionRule,
    calibration: ModelCalibration | None,
) -> tuple[dict[str, GroupScores], dict[str, dict[str, int]]]:
    scores: dict[str, GroupScores] = {}
    counts: dict[str, dict[str, int]] = {}
    for group in sorted({labels[name] for name in chosen}):
        rows = [
            (name, d.descriptor)
            for name, images in chosen.items()
            if labels[name] == group
            for d in (described[p] for p in images)
            if d.descriptor is not None
        ]
        if len(rows) < 2:
            continue
        matrix = np.stack([descriptor for _, descriptor in rows if descriptor is not None])
        compared = comparison_scores(matrix, rule, calibration)
        mated, non_mated = metrics.pair_scores(compared, [name for name, _ in rows])
        scores[group] = GroupScores(mated=mated, non_mated=non_mated)
        counts[group] = {
            "identities": len({name for name, _ in rows}),
            "images": len(rows),
            "mated_pairs": int(mated.size),
            "non_mated_pairs": int(non_mated.size),
        }
    return scores, counts


def _identification(
    chosen: Mapping[str, Sequence[Path]],
    labels: Mapping[str, str],
    described: Mapping[Path, DescribedImage],
    thresholds: Sequence[float],
    rule: DecisionRule,
    calibration: ModelCalibration | None,
) -> dict[float, dict[str, metrics.IdentificationRates]]:
    """FPIR and FNIR per group at each threshold (1:N, open set, first image enrolled)."""
    split = split_identification(chosen)
    enrolled = [
        (name, described[p].descriptor)
        for name, images in split.gallery.items()
        for p in images
        if described[p].descriptor is not None
    ]
    gallery = Gallery.build(
        [name for name, _ in enrolled], np.stack([d for _, d in enrolled if d is not None])
    )
    probes = [*split.mated, *split.nonmated]
    searched = [described[p].descriptor for _, p in probes]
    matrix = np.stack(
        [d if d is not None else np.zeros(gallery.dimension, np.float32) for d in searched]
    )
    searched_as_live = searched_gallery(gallery, rule, calibration)
    similarity: NDArray[np.float64] = searched_as_live.scores(matrix).astype(np.float64)
    similarity[[d is None for d in searched]] = -np.inf
    searches = metrics.searches_from_scores(
        similarity, gallery.subject_ids, [name for name, _ in probes], rule.margin
    )
    by_group = metrics.searches_by_group(searches, {n: labels[n] for n in chosen})
    return {
        t: {g: metrics.rates_at_threshold(s, t) for g, s in by_group.items()} for t in thresholds
    }


def _rate(rate: Rate) -> dict[str, float | int]:
    return {
        "errors": rate.errors,
        "trials": rate.trials,
        "value": rate.value,
        "low": rate.low,
        "high": rate.high,
    }


def _threshold_rows(
    verification: EquitabilityReport,
    identification: Mapping[float, Mapping[str, metrics.IdentificationRates]],
) -> list[dict[str, Any]]:
    rows = []
    for row in verification.rows:
        fm = sum(r.fmr.errors for r in row.rates.values())
        fm_trials = sum(r.fmr.trials for r in row.rates.values())
        fnm = sum(r.fnmr.errors for r in row.rates.values())
        fnm_trials = sum(r.fnmr.trials for r in row.rates.values())
        one_to_n = identification.get(row.threshold, {})
        rows.append(
            {
                "threshold": row.threshold,
                "overall": {
                    "fmr": fm / fm_trials if fm_trials else 0.0,
                    "fnmr": fnm / fnm_trials if fnm_trials else 0.0,
                    "fmr_rate": _rate(make_rate(fm, fm_trials)),
                    "fnmr_rate": _rate(make_rate(fnm, fnm_trials)),
                },
                "groups": {
                    group: {
                        "fmr": _rate(rates.fmr),
                        "fnmr": _rate(rates.fnmr),
                        **_identification_rates(one_to_n.get(group)),
                    }
                    for group, rates in row.rates.items()
                },
                "fmr_adjusted_p": dict(row.fmr_test.adjusted_p),
                "fnmr_adjusted_p": dict(row.fnmr_test.adjusted_p),
                "fmr_significant": row.fmr_test.significant,
                "fmr_ratio": asdict(row.fmr_ratio),
                "fmr_differential": row.fmr_differential,
                "fnmr_differential": row.fnmr_test.significant,
            }
        )
    return rows


def _identification_rates(rates: metrics.IdentificationRates | None) -> dict[str, Any]:
    if rates is None:
        return {"fpir": None, "fnir": None}
    return {
        "fpir": _rate(make_rate(rates.false_positives, rates.n_nonmated)),
        "fnir": _rate(make_rate(rates.false_negatives, rates.n_mated)),
    }


def _charts(
    scores: Mapping[str, GroupScores],
    verification: EquitabilityReport,
    thresholds: Sequence[float],
) -> dict[str, bytes]:
    fine = np.linspace(min(thresholds), max(thresholds), 60).tolist()
    return {
        "det": charts.det_chart(scores, fine, "DET per group (1:1, same-group impostors)"),
        "fmr_by_threshold": charts.rate_lines(
            [row.threshold for row in verification.rows],
            {g: [row.rates[g].fmr for row in verification.rows] for g in scores},
            "False match rate per group",
            "FMR (log)",
        ),
        "fnmr_by_threshold": charts.rate_lines(
            [row.threshold for row in verification.rows],
            {g: [row.rates[g].fnmr for row in verification.rows] for g in scores},
            "False non-match rate per group",
            "FNMR (log)",
        ),
    }
