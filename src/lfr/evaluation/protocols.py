"""The evaluation protocols behind `lfr evaluate` (EQ-1), producing JSON-ready reports.

Verification (1:1, LFW): 10-fold accuracy on the pairs file (threshold chosen on nine
folds, tested on the tenth) and TAR at FAR over *all* pairs of the images the pairs file
names (the pairs file's ~1,000 different-person pairs cannot resolve FAR 1e-3 or 1e-4).

Identification (1:N, open set, NIST FRTE style): see `datasets.split_identification`;
rank-1, FNIR at FPIR, DET points, with the counts each rests on.

Every figure carries its counts; images where no face was found are listed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lfr.evaluation import metrics
from lfr.evaluation.datasets import IdentificationSplit, Pair
from lfr.evaluation.decisions import gate_by_quality
from lfr.evaluation.descriptors import DescribedImage, EvaluationDescriber
from lfr.evaluation.rates import Rate, RateRatio, make_rate, max_min_ratio
from lfr.vision.calibration import REFERENCE_RULE, ModelCalibration, calibrate, one_in
from lfr.vision.decision import DecisionRule, rule_gallery, runnable_rule, searched_gallery
from lfr.vision.fair import FairCohort
from lfr.vision.matcher import Fusion, Gallery

Report = dict[str, Any]
Progress = Callable[[int], None]


def _number(value: float) -> float | None:
    """JSON has no infinities or NaN: those become null."""
    return value if math.isfinite(value) else None


def _no_face_report(described: Sequence[DescribedImage], rule: str) -> Report:
    missed = sorted(str(d.path) for d in described if not d.face_found)
    return {"count": len(missed), "rule": rule, "images": missed}


def _describe(
    describer: EvaluationDescriber, paths: Sequence[Path], progress: Progress
) -> dict[Path, DescribedImage]:
    unique = list(dict.fromkeys(paths))
    return {d.path: d for d in describer.describe_all(unique, progress)}


def _operating_point(point: metrics.OperatingPoint) -> Report:
    return {
        "threshold": _number(point.threshold),
        "resolvable": point.resolvable,
    }


# --- verification --------------------------------------------------------------------


def _pair_scores(
    pairs: Sequence[Pair], described: Mapping[Path, DescribedImage]
) -> NDArray[np.float64]:
    """Cosine similarity per pair; a pair with an undescribed image scores -inf (rejected)."""
    scores = []
    for pair in pairs:
        first, second = described[pair.first].descriptor, described[pair.second].descriptor
        scores.append(-math.inf if first is None or second is None else float(first @ second))
    return np.asarray(scores, dtype=np.float64)


def _tar_report(results: Sequence[metrics.TarAtFar]) -> list[Report]:
    return [
        {
            "far": r.point.target_rate,
            "tar": r.tar,
            **_operating_point(r.point),
            "true_accepts": r.true_accepts,
            "n_genuine": r.n_genuine,
            "false_accepts": r.point.false_count,
            "n_impostor": r.point.n_negatives,
        }
        for r in results
    ]


def _kfold_report(result: metrics.KFoldAccuracy) -> Report:
    return {
        "mean": result.mean,
        "std": result.std,
        "correct": result.correct,
        "n_pairs": result.n_pairs,
        "folds": [
            {
                "fold": f.fold,
                "threshold": f.threshold,
                "accuracy": f.accuracy,
                "correct": f.correct,
                "n_pairs": f.n_pairs,
            }
            for f in result.folds
        ],
    }


def _verification_figures(
    scores: NDArray[np.float64],
    same: NDArray[np.bool_],
    folds: NDArray[np.int64],
    all_pairs: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> Report:
    genuine, impostor = all_pairs
    return {
        "accuracy_10fold": _kfold_report(metrics.kfold_accuracy(scores, same, folds)),
        "tar_at_far": _tar_report(metrics.tar_at_far(genuine, impostor)),
        "counts": {
            "pairs": int(same.size),
            "same_pairs": int(np.count_nonzero(same)),
            "different_pairs": int(np.count_nonzero(~same)),
            "genuine_all_pairs": int(genuine.size),
            "impostor_all_pairs": int(impostor.size),
        },
    }


def evaluate_verification(
    pairs: Sequence[Pair],
    describer: EvaluationDescriber,
    labels: Mapping[str, str] | None = None,
    progress: Progress = lambda n: None,
) -> Report:
    paths = [p for pair in pairs for p in (pair.first, pair.second)]
    described = _describe(describer, paths, progress)
    scores = _pair_scores(pairs, described)
    same = np.array([pair.same for pair in pairs])
    folds = metrics.stratified_folds(same)
    usable = [d for d in described.values() if d.descriptor is not None]
    identities = [d.path.parent.name for d in usable]
    matrix = np.stack([d.descriptor for d in usable if d.descriptor is not None])
    genuine, impostor = metrics.all_pairs_scores(matrix, identities)
    report: Report = {
        "protocol": "verification",
        **describer.describe_setup(),
        **_verification_figures(scores, same, folds, (genuine, impostor)),
        "images": len(described),
        "no_face_found": _no_face_report(list(described.values()), describer.no_face),
    }
    if labels is not None:
        report["by_group"] = _verification_by_group(
            pairs, scores, same, folds, matrix, identities, labels
        )
    return report


def _verification_by_group(
    pairs: Sequence[Pair],
    scores: NDArray[np.float64],
    same: NDArray[np.bool_],
    folds: NDArray[np.int64],
    matrix: NDArray[np.float32],
    identities: Sequence[str],
    labels: Mapping[str, str],
) -> Report:
    masks = metrics.pairs_by_group(
        [p.first_identity for p in pairs], [p.second_identity for p in pairs], labels
    )
    image_groups = metrics.group_of(identities, labels)
    by_group: Report = {}
    for group, mask in masks.items():
        rows = image_groups == group
        group_identities = [i for i, keep in zip(identities, rows, strict=True) if keep]
        all_pairs = metrics.all_pairs_scores(matrix[rows], group_identities)
        if not mask.any() or all_pairs[1].size == 0 or len(np.unique(folds[mask])) < 2:
            by_group[group] = {
                "counts": {"pairs": int(mask.sum()), "images": int(rows.sum())},
                "note": "too few pairs in this group for the figures",
            }
            continue
        by_group[group] = _verification_figures(scores[mask], same[mask], folds[mask], all_pairs)
    return by_group


# --- identification ------------------------------------------------------------------


@dataclass(frozen=True)
class IdentificationOptions:
    """The decision rule evaluated and what to report on it."""

    rule: DecisionRule = field(default_factory=DecisionRule)
    """The decision rule (`lfr.vision.decision`); `lfr evaluate`'s default is the
    engine's configured one."""
    calibration: ModelCalibration | None = None
    """The calibration the engine uses: its scores are the rule's calibrated scores and
    its fair clusters the rule's."""
    min_quality: float | None = None
    """Probes whose quality score is below this are not searched."""
    fpir_targets: tuple[float, ...] = metrics.DEFAULT_FPIR_TARGETS
    threshold: float | None = None
    """Also report FPIR and FNIR at this fixed threshold (the engine's alert threshold)."""


def _searches_report(searches: metrics.Searches, options: IdentificationOptions) -> Report:
    report: Report = {
        "rank1": _rank_report(metrics.rank_accuracy(searches, 1)),
        "rank5": _rank_report(metrics.rank_accuracy(searches, 5)),
        "fnir_at_fpir": [
            {"fpir_target": r.point.target_rate, **_operating_point(r.point), **_rates(r.rates)}
            for r in metrics.fnir_at_fpir(searches, options.fpir_targets)
        ],
        "det": [_rates(r) for r in metrics.det_points(searches)],
    }
    if options.threshold is not None:
        report["at_threshold"] = _rates(metrics.rates_at_threshold(searches, options.threshold))
    return report


def _rank_report(result: metrics.RankAccuracy) -> Report:
    return {"rate": result.rate, "hits": result.hits, "n_mated": result.n_mated}


def _rates(rates: metrics.IdentificationRates) -> Report:
    return {
        "threshold": _number(rates.threshold),
        "fnir": rates.fnir,
        "false_negatives": rates.false_negatives,
        "n_mated": rates.n_mated,
        "fpir": rates.fpir,
        "false_positives": rates.false_positives,
        "n_nonmated": rates.n_nonmated,
    }


def evaluate_identification(
    split: IdentificationSplit,
    describer: EvaluationDescriber,
    options: IdentificationOptions = IdentificationOptions(),
    labels: Mapping[str, str] | None = None,
    progress: Progress = lambda n: None,
    reference: EvaluationDescriber | None = None,
) -> Report:
    """The open-set identification figures of `options.rule`, scored exactly as a camera
    scores (`lfr.vision.decision.searched_gallery`), and the calibration the run
    measures: the rule's own scores against the reference rule's (raw cosine of plain
    descriptors, described by `reference` when the rule's description is not plain)."""
    scored = score_split(split, describer, options, progress)
    gallery, probes, described, searched = (
        scored.gallery,
        scored.probes,
        scored.described,
        scored.searched,
    )
    paths = [*(p for images in split.gallery.values() for p in images), *(p for _, p in probes)]
    plain = described if reference is None else _describe(reference, paths, progress)
    plain_gallery = gallery if reference is None else _gallery(split, plain, Fusion.CENTROID)
    calibration = calibration_of(
        plain_gallery,
        [name for name, _ in probes],
        searched.searched,
        plain_gallery.similarities(_probe_matrix(probes, plain, gallery.dimension)),
        {options.rule.name: searched.native} if options.rule.name != REFERENCE_RULE else {},
    ).model_copy(update={"model_id": describer.setup["model_id"]})
    cohort = _fair_cohort(options)
    if cohort is not None:
        calibration = calibration.model_copy(update={"fair_cohorts": {cohort.description: cohort}})
    figures = _searches_report(searched.searches, options)
    if "at_threshold" in figures:
        # A calibrated threshold read against a rule's own units would mislead: say which.
        figures["at_threshold"]["calibrated"] = searched.calibrated
    report: Report = {
        "protocol": "identification",
        **describer.describe_setup(),
        "decisions": {
            "rule": options.rule.name,
            "rule_run": searched.rule_run,
            "calibrated": searched.calibrated,
            "description": options.rule.description.name,
            "normalisation": options.rule.normalisation.rule
            if options.rule.normalisation
            else None,
            "fair": options.rule.fair,
            "fusion": str(options.rule.fusion),
            "margin": options.rule.margin,
            "min_quality": options.min_quality,
        },
        **figures,
        "calibrated_thresholds": _calibrated_thresholds(
            options.calibration if searched.calibrated else None, figures["fnir_at_fpir"]
        ),
        "calibration": calibration.model_dump(mode="json"),
        "counts": {
            "identities": len(split.gallery) + len(split.nonmated),
            "gallery_subjects": len(gallery),
            "gallery_templates": gallery.template_count,
            "mated_probes": searched.searches.n_mated,
            "nonmated_probes": searched.searches.n_nonmated,
            "probes_not_searched": searched.gated,
        },
        "images": len(described),
        "no_face_found": _no_face_report(list(described.values()), describer.no_face),
    }
    if labels is not None:
        report["by_group"] = _identification_by_group(searched.searches, report, labels, options)
        report["differentials"] = group_differentials(
            searched.scores,
            gallery.subject_ids,
            [name for name, _ in probes],
            labels,
            [row["threshold"] for row in report["fnir_at_fpir"]],
            options.fpir_targets,
            options.rule.margin,
        )
    return report


@dataclass(frozen=True)
class ScoredSplit:
    """An identification split scored by a rule: what its figures are computed from."""

    gallery: Gallery
    probes: list[tuple[str, Path]]
    """(identity, image) of every probe, mated first: the rows of `searched.scores`."""
    described: dict[Path, DescribedImage]
    searched: Searched


def score_split(
    split: IdentificationSplit,
    describer: EvaluationDescriber,
    options: IdentificationOptions,
    progress: Progress = lambda n: None,
) -> ScoredSplit:
    """Describe the split's images as the engine describes, enrol its gallery and score
    every probe as a camera scores it (`lfr.vision.decision.searched_gallery`)."""
    probes = [*split.mated, *split.nonmated]
    gallery_paths = [p for images in split.gallery.values() for p in images]
    described = _describe(describer, [*gallery_paths, *(p for _, p in probes)], progress)
    gallery = _gallery(split, described, options.rule.fusion, describer.setup["model_id"])
    return ScoredSplit(gallery, probes, described, _search(gallery, probes, described, options))


def _gallery(
    split: IdentificationSplit,
    described: Mapping[Path, DescribedImage],
    fusion: Fusion,
    model_id: str | None = None,
) -> Gallery:
    """The split's enrolled images (those described) as a watchlist."""
    enrolled = [
        (name, described[p].descriptor)
        for name, images in split.gallery.items()
        for p in images
        if described[p].descriptor is not None
    ]
    return Gallery.build(
        [name for name, _ in enrolled],
        np.stack([d for _, d in enrolled if d is not None]),
        fusion=fusion,
        model_id=model_id,
    )


def _probe_matrix(
    probes: Sequence[tuple[str, Path]], described: Mapping[Path, DescribedImage], dimension: int
) -> NDArray[np.float32]:
    """The probes' descriptors (zeros for an undescribed one: its row is not searched)."""
    return np.stack(
        [
            d if (d := described[p].descriptor) is not None else np.zeros(dimension, np.float32)
            for _, p in probes
        ]
    )


def _fair_cohort(options: IdentificationOptions) -> FairCohort | None:
    calibration = options.calibration
    if not options.rule.fair or calibration is None:
        return None
    return calibration.fair_cohorts.get(options.rule.description.name)


@dataclass(frozen=True)
class Searched:
    searches: metrics.Searches
    gated: int
    scores: NDArray[np.float64]
    """(probes × subjects) as the engine scores them (calibrated where it is), -inf for
    probes not searched."""
    native: NDArray[np.float64]
    """The rule's own scores (before calibration) of every described probe."""
    searched: NDArray[np.bool_]
    """Probes described (whatever the quality gate)."""
    rule_run: str
    calibrated: bool


def _search(
    gallery: Gallery,
    probes: Sequence[tuple[str, Path]],
    described: Mapping[Path, DescribedImage],
    options: IdentificationOptions,
) -> Searched:
    """Score every probe as a camera would; an undescribed or gated probe is not searched
    (-inf row). Where the engine could not run the rule calibrated (`runnable_rule`), the
    rule's own scores are reported, and the report names the rule the engine would run."""
    rule, calibration = options.rule, options.calibration
    matrix = _probe_matrix(probes, described, gallery.dimension)
    runs = runnable_rule(rule, len(gallery), calibration)
    ruled = rule_gallery(gallery, rule, calibration)
    native = ruled.scores(matrix).astype(np.float64)
    calibrated = runs == rule and (rule.name == REFERENCE_RULE or _covers(calibration, rule))
    scores = (
        searched_gallery(gallery, rule, calibration).scores(matrix).astype(np.float64)
        if calibrated
        else native.copy()
    )
    rows = [described[p] for _, p in probes]
    described_rows = np.array([d.descriptor is not None for d in rows])
    searched = described_rows.copy()
    if options.min_quality is not None:
        quality = np.array([d.quality.score if d.quality is not None else 0.0 for d in rows])
        searched &= gate_by_quality(scores, quality, options.min_quality)[1]
    scores[~searched] = -np.inf
    searches = metrics.searches_from_scores(
        scores, gallery.subject_ids, [n for n, _ in probes], rule.margin
    )
    return Searched(
        searches,
        int(np.count_nonzero(~searched)),
        scores,
        native,
        described_rows,
        runs.name,
        calibrated,
    )


def _covers(calibration: ModelCalibration | None, rule: DecisionRule) -> bool:
    return calibration is not None and calibration.covers(rule.name)


def non_mated_cells(subject_ids: Sequence[str], identities: Sequence[str]) -> NDArray[np.bool_]:
    """(probes × subjects) mask of the comparisons of two different people."""
    different: NDArray[np.bool_] = np.asarray(identities, dtype=object)[:, None] != np.asarray(
        subject_ids, dtype=object
    )
    return different


def calibration_of(
    gallery: Gallery,
    identities: Sequence[str],
    described: NDArray[np.bool_],
    similarities: NDArray[np.floating],
    rules: Mapping[str, NDArray[np.float64]],
) -> ModelCalibration:
    """The calibration measured by one identification run (model id left for the
    caller): the reference rule's scores (`similarities`, raw cosine of plain
    descriptors against `gallery`) and each of `rules`' on the same non-mated
    comparisons (each (probes × subjects), subjects in `gallery`'s order)."""
    different = non_mated_cells(gallery.subject_ids, identities)
    cells = different & described[:, None]
    mates = ~different & described[:, None]
    raw = similarities.astype(np.float64)
    non_mated = {REFERENCE_RULE: raw[cells]} | {name: s[cells] for name, s in rules.items()}
    mated = {REFERENCE_RULE: raw[mates]} | {name: s[mates] for name, s in rules.items()}
    return calibrate(
        non_mated,
        mated=mated,
        model_id=gallery.model_id or "unknown",
        dataset=f"{len(identities)} probes against {len(gallery)} enrolled subjects",
        command="lfr evaluate identification",
    )


def _calibrated_thresholds(
    calibration: ModelCalibration | None, rows: Sequence[Report]
) -> list[Report]:
    """Each FPIR target's threshold (a calibrated score where the run is calibrated)
    with the false-match rate of one comparison there ("1 in N")."""
    result = []
    for row in rows:
        threshold = row["threshold"]
        if threshold is None or calibration is None:
            result.append({"fpir_target": row["fpir_target"], "calibrated": None})
            continue
        fmr = calibration.false_match_rate(threshold)
        result.append(
            {
                "fpir_target": row["fpir_target"],
                "calibrated": threshold,
                "false_match_rate": fmr,
                "one_in": one_in(fmr),
            }
        )
    return result


def _identification_by_group(
    searches: metrics.Searches,
    overall: Report,
    labels: Mapping[str, str],
    options: IdentificationOptions,
) -> Report:
    """Per group: the figures within the group, and — what equitability asks (EQ-1) —
    FPIR and FNIR of the group at the thresholds set for the whole population."""
    thresholds = [row["threshold"] for row in overall["fnir_at_fpir"]]
    by_group: Report = {}
    for group, subset in metrics.searches_by_group(searches, labels).items():
        if subset.n_nonmated == 0 or subset.n_mated == 0:
            by_group[group] = {
                "counts": {"mated_probes": subset.n_mated, "nonmated_probes": subset.n_nonmated},
                "note": "needs both mated and non-mated probes for the figures",
            }
            continue
        figures = _searches_report(subset, options)
        figures["at_overall_thresholds"] = [
            {
                "fpir_target": target,
                **_rates(metrics.rates_at_threshold(subset, t if t is not None else -math.inf)),
            }
            for target, t in zip(options.fpir_targets, thresholds, strict=True)
        ]
        figures["counts"] = {"mated_probes": subset.n_mated, "nonmated_probes": subset.n_nonmated}
        by_group[group] = figures
    return by_group


# --- demographic differentials (EQ-1) ------------------------------------------------


def group_rates_1n(
    scores: NDArray[np.float64],
    subject_ids: Sequence[str],
    identities: Sequence[str],
    groups: Mapping[str, str],
    threshold: float,
    margin: float = 0.0,
) -> dict[str, dict[str, Rate]]:
    """Each group's four error rates at one threshold of a 1:N run, with intervals:

    - FPIR: its non-mated probes whose top score reaches the threshold;
    - FNIR: its mated probes whose mate is not the top candidate at or above it;
    - FMR: comparisons of its probes with enrolled subjects *of the same group* who are
      not the probe's identity, at or above the threshold (NIST FRVT Part 3: same-group
      impostors, where confusions are likeliest);
    - FNMR: comparisons of its mated probes with their own subject, below it.

    FPIR and FNIR obey the rule's `margin` as the searches do; FMR and FNMR are
    comparisons one to one, which no margin touches."""
    columns = {subject: j for j, subject in enumerate(subject_ids)}
    probe_group = metrics.group_of(identities, groups)
    subject_group = metrics.group_of(subject_ids, groups)
    searches = metrics.searches_from_scores(scores, subject_ids, identities, margin)
    result: dict[str, dict[str, Rate]] = {}
    for group, subset in metrics.searches_by_group(searches, groups).items():
        rows = probe_group == group
        block = scores[rows][:, subject_group == group]
        own = non_mated_cells(
            [s for s, g in zip(subject_ids, subject_group, strict=True) if g == group],
            [i for i, keep in zip(identities, rows, strict=True) if keep],
        )
        searched = np.isfinite(block).any(axis=1) if block.shape[1] else np.zeros(0, bool)
        impostor = block[own & searched[:, None]]
        mate = np.array(
            [scores[r, columns[i]] for r, i in enumerate(identities) if rows[r] and i in columns]
        )
        rates = metrics.rates_at_threshold(subset, threshold)
        result[group] = {
            "fpir": make_rate(rates.false_positives, rates.n_nonmated),
            "fnir": make_rate(rates.false_negatives, rates.n_mated),
            "fmr": make_rate(int(np.count_nonzero(impostor >= threshold)), int(impostor.size)),
            "fnmr": make_rate(int(np.count_nonzero(mate < threshold)), int(mate.size)),
        }
    return result


def group_differentials(
    scores: NDArray[np.float64],
    subject_ids: Sequence[str],
    identities: Sequence[str],
    groups: Mapping[str, str],
    thresholds: Sequence[float | None],
    fpir_targets: Sequence[float],
    margin: float = 0.0,
) -> list[Report]:
    """At each overall threshold: every group's FPIR, FNIR, FMR and FNMR with 95%
    Wilson intervals, and for each rate the ratio of the highest group to the lowest
    (NIST FRTE's max/min) with its interval — the effect size the equitability
    criterion reads (docs/evaluation.md), beside any significance test."""
    result = []
    for target, threshold in zip(fpir_targets, thresholds, strict=True):
        if threshold is None:
            continue
        rates = group_rates_1n(scores, subject_ids, identities, groups, threshold, margin)
        kinds = ("fpir", "fnir", "fmr", "fnmr")
        result.append(
            {
                "fpir_target": target,
                "threshold": threshold,
                "groups": {
                    group: {kind: _rate_report(rate[kind]) for kind in kinds}
                    for group, rate in rates.items()
                },
                "max_min_ratio": {
                    kind: _ratio_report({g: r[kind] for g, r in rates.items()}) for kind in kinds
                },
            }
        )
    return result


def _rate_report(rate: Rate) -> Report:
    return {
        "errors": rate.errors,
        "trials": rate.trials,
        "value": rate.value,
        "low": rate.low,
        "high": rate.high,
    }


def _ratio_report(rates: Mapping[str, Rate]) -> Report:
    """The max/min ratio of one rate across groups, naming the highest and lowest."""
    ratio: RateRatio = max_min_ratio(rates)
    ordered = sorted(rates, key=lambda group: rates[group].value)
    return {
        "value": ratio.value,
        "low": ratio.low,
        "high": ratio.high,
        "highest_group": ordered[-1] if ordered else None,
        "lowest_group": ordered[0] if ordered else None,
    }
