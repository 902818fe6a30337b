"""Calibrated scores: one scale whose meaning does not depend on the decision rule (REC-2).

A raw cosine similarity and a cohort-normalised score are in different units: an S-norm
score of 5 and a cosine of 0.95 say nothing about each other. What a threshold *means*
to the people who set it and live with it is how often it lets two different people
match: its **false-match rate** (FMR, "1 in 10,000"). A calibration records, for one
model and each decision rule, the score at which the evaluated FMR takes each value of
a grid (`FMR_GRID`), measured on the non-mated comparisons of an identification run
(each probe against every enrolled subject who is not the probe's identity).

Every score the engine hands out is then put on one **reference scale**: the rule's
score is replaced by the raw cosine similarity that has the same evaluated FMR
(quantile matching of the two impostor distributions, interpolated between grid
points). So:

- a calibrated score of 0.946 means, whichever rule runs, "the false-match rate the
  shipped model's raw cosine 0.946 has": `false_match_rate(0.946)`, shown "1 in 23,000";
- a threshold stored before calibration (a raw cosine) keeps its meaning unchanged, so
  the authority's threshold, the threshold lock, the forecast, alerts and reviews need
  no conversion and stay comparable across rules and over time;
- a rule whose score the calibration does not cover cannot run calibrated: it is
  refused rather than silently mixing units.

The calibration of the shipped model ships with the package (figures only: scores and
rates, no descriptor, no image) in ``calibrations/<model_id>.json``, measured on the
descriptors the engine makes by default (no flip, one chip: raw cosine means something
else on flipped descriptors); a force replaces it
by its own (`lfr evaluate identification --calibration-out FILE`, then the engine's
``calibration_path``).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lfr.vision.fair import FairCohort

REFERENCE_RULE = "cosine"
"""The rule whose scores are the reference scale: raw cosine similarity."""

FMR_STEPS_PER_DECADE = 8
FMR_GRID_FLOOR = 1e-8


def fmr_grid(smallest: float) -> list[float]:
    """FMR values 1, 10^(-1/8), 10^(-2/8) … down to `smallest` (or `FMR_GRID_FLOOR`)."""
    floor = max(smallest, FMR_GRID_FLOOR)
    grid, step = [], 0
    while (rate := 10 ** (-step / FMR_STEPS_PER_DECADE)) >= floor * (1 - 1e-9):
        grid.append(rate)
        step += 1
    return grid


class RuleCalibration(BaseModel):
    """One rule's score at each FMR of the calibration's grid (ascending scores)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scores: tuple[float, ...] = Field(
        description="Threshold score for each FMR of the grid, ascending (FMR descending)."
    )
    false_non_match_rates: tuple[float, ...] | None = Field(
        default=None,
        description="Mated comparisons scoring below each threshold (None: not measured).",
    )

    @model_validator(mode="after")
    def _ascending(self) -> RuleCalibration:
        if any(b < a for a, b in zip(self.scores, self.scores[1:], strict=False)):
            raise ValueError("calibration scores must not decrease as the FMR falls")
        return self


class ModelCalibration(BaseModel):
    """The calibration of one model: the FMR grid and each rule's scores on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_id: str
    dataset: str = Field(description="What it was measured on (a public evaluation set).")
    command: str = Field(description="The command that measured it.")
    non_mated_comparisons: int = Field(ge=1, description="Comparisons the rates rest on.")
    false_match_rates: tuple[float, ...] = Field(description="The FMR grid, descending.")
    rules: dict[str, RuleCalibration]
    fair_cohorts: dict[str, FairCohort] = Field(
        default_factory=dict,
        description=(
            "Fair score normalisation's clusters for each description (`Description.name`), "
            "fitted once on a cohort (lfr.vision.fair): centroids and offsets only."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelCalibration:
        rates = self.false_match_rates
        if len(rates) < 2 or any(b >= a for a, b in itertools.pairwise(rates)):
            raise ValueError("false_match_rates must hold two or more descending rates")
        if REFERENCE_RULE not in self.rules:
            raise ValueError(f"a calibration needs the reference rule {REFERENCE_RULE!r}")
        for name, rule in self.rules.items():
            if len(rule.scores) != len(rates):
                raise ValueError(f"rule {name!r}: one score per false-match rate is needed")
            fnmr = rule.false_non_match_rates
            if fnmr is not None and len(fnmr) != len(rates):
                raise ValueError(f"rule {name!r}: one FNMR per false-match rate is needed")
        return self

    def covers(self, rule: str) -> bool:
        return rule in self.rules

    def to_reference(self, rule: str, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """`scores` of `rule` on the reference scale (the raw cosine of equal FMR)."""
        if rule == REFERENCE_RULE:
            return scores
        if rule not in self.rules:
            raise KeyError(f"the calibration of {self.model_id} does not cover rule {rule!r}")
        native, reference = _strictly_increasing(
            self.rules[rule].scores, self.rules[REFERENCE_RULE].scores
        )
        return _interpolate(scores, native, reference)

    def false_match_rate(self, score: float) -> float:
        """The evaluated FMR of a reference-scale score: log-linear between grid points,
        1 below the grid, the smallest measured rate above it (never an invented 0)."""
        reference = np.asarray(self.rules[REFERENCE_RULE].scores)
        logs = np.log10(np.asarray(self.false_match_rates))
        if score <= reference[0]:
            return 1.0
        if score >= reference[-1]:
            return float(self.false_match_rates[-1])
        xs, ys = _strictly_increasing(tuple(reference), tuple(logs))
        return float(10 ** np.interp(score, xs, ys))

    def false_non_match_rate(self, rule: str, score: float) -> float | None:
        """The evaluated FNMR of `rule` at a reference-scale threshold: the share of mated
        comparisons the rule scores below it, read at the grid point at or just above the
        threshold's FMR (a cautious figure); None when not measured, and beyond the grid's
        last threshold, where it would be the last point's and understate the misses."""
        calibration = self.rules.get(rule)
        if calibration is None or calibration.false_non_match_rates is None:
            return None
        if score > self.rules[REFERENCE_RULE].scores[-1]:
            return None
        fmr = self.false_match_rate(score)
        at_or_above = [i for i, rate in enumerate(self.false_match_rates) if rate >= fmr]
        index = at_or_above[-1] if at_or_above else 0
        return calibration.false_non_match_rates[index]

    def score_for(self, false_match_rate: float) -> float:
        """The reference-scale score at which the evaluated FMR is `false_match_rate`."""
        if not 0 < false_match_rate <= 1:
            raise ValueError(f"a false-match rate lies in (0, 1], got {false_match_rate}")
        logs = np.log10(np.asarray(self.false_match_rates))[::-1]
        reference = np.asarray(self.rules[REFERENCE_RULE].scores)[::-1]
        return float(np.interp(math.log10(false_match_rate), logs, reference))


def same_comparisons(first: ModelCalibration, second: ModelCalibration) -> bool:
    """Whether two calibrations were measured on the same comparisons (same model, grid,
    count and reference scores): their rules may then live in one file."""
    return (
        first.model_id == second.model_id
        and first.non_mated_comparisons == second.non_mated_comparisons
        and first.false_match_rates == second.false_match_rates
        and first.rules[REFERENCE_RULE] == second.rules[REFERENCE_RULE]
    )


def _strictly_increasing(
    xs: Sequence[float], ys: Sequence[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Knots for interpolation: where a rule's score repeats over several rates (few
    comparisons between two grid points), the first (highest-FMR) knot is kept, so a
    score maps to the most cautious rate it reaches."""
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    keep = np.r_[True, np.diff(x) > 0]
    return x[keep], y[keep]


def _interpolate(
    values: NDArray[np.float64], xs: NDArray[np.float64], ys: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Piecewise-linear through the knots, extended beyond them along the end segments
    (a mate's score above every impostor's still ranks above the others); -inf and
    +inf pass through."""
    inside = np.interp(values, xs, ys)
    if len(xs) < 2:
        return inside
    low_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
    high_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    with np.errstate(invalid="ignore"):
        below = ys[0] + (values - xs[0]) * low_slope
        above = ys[-1] + (values - xs[-1]) * high_slope
    result = np.where(values < xs[0], below, np.where(values > xs[-1], above, inside))
    return np.where(np.isinf(values), values, result)


def calibrate(
    non_mated: Mapping[str, NDArray[np.float64]],
    *,
    model_id: str,
    dataset: str,
    command: str,
    mated: Mapping[str, NDArray[np.float64]] | None = None,
) -> ModelCalibration:
    """A calibration from each rule's scores on the *same* non-mated comparisons (one
    array per rule, the reference rule among them): each rule's threshold at every FMR
    of the grid down to the smallest the comparisons resolve; with `mated` scores, each
    rule's FNMR at those thresholds."""
    counts = {rule: int(scores.size) for rule, scores in non_mated.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"every rule must score the same comparisons, got {counts}")
    n = next(iter(counts.values()))
    if n == 0:
        raise ValueError("no non-mated comparisons to calibrate on")
    grid = fmr_grid(1 / n)
    rules = {}
    for rule, scores in non_mated.items():
        thresholds = _thresholds(scores, grid)
        genuine = (mated or {}).get(rule)
        rules[rule] = RuleCalibration(
            scores=tuple(thresholds),
            false_non_match_rates=None
            if genuine is None or not genuine.size
            else tuple(float(np.mean(genuine < t)) for t in thresholds),
        )
    return ModelCalibration(
        model_id=model_id,
        dataset=dataset,
        command=command,
        non_mated_comparisons=n,
        false_match_rates=tuple(grid),
        rules=rules,
    )


def _thresholds(scores: NDArray[np.float64], grid: Sequence[float]) -> list[float]:
    """The score with a fraction `rate` of `scores` at or above it, for each rate (the
    (k)-th highest score, k = ceil(rate × n), so the achieved FMR is the rate's)."""
    finite = scores[np.isfinite(scores)]
    descending = np.sort(finite)[::-1]
    n = len(descending)
    return [float(descending[min(n - 1, max(0, math.ceil(rate * n) - 1))]) for rate in grid]


def one_in(false_match_rate: float) -> str:
    """A rate as people read it: 0.0001 → "1 in 10,000" (two significant figures)."""
    if false_match_rate <= 0:
        return "none measured"
    odds = 1 / false_match_rate
    if odds < 1.5:
        return "1 in 1"
    digits = max(0, math.floor(math.log10(odds)) - 1)
    rounded = round(odds, -digits)
    return f"1 in {int(rounded):,}"


SHIPPED = resources.files("lfr.vision") / "calibrations"

MAX_CALIBRATION_BYTES = 1 << 20
"""The largest calibration file read (1 MiB). The shipped one is about 7 KB; a force's with
several rules stays well under 100 KB. A larger file is no calibration, and reading it
whole would hold a worker or a page for as long as it takes."""


class CalibrationFileRefusedError(ValueError):
    """A calibration file that is not read: not a regular file (a FIFO would block the
    reader for ever), larger than `MAX_CALIBRATION_BYTES`, unreadable or not a
    calibration."""


@dataclass(frozen=True, slots=True)
class CalibrationFile:
    """A calibration and the exact bytes it was read from: `sha256` is their digest, the
    one `sha256sum FILE` prints, recorded with each deployment and each alert (REC-2)."""

    calibration: ModelCalibration
    text: str
    sha256: str

    @classmethod
    def parse(cls, data: bytes, origin: str) -> CalibrationFile:
        try:
            text = data.decode("utf-8")
            calibration = ModelCalibration.model_validate_json(text)
        except ValueError as error:
            raise CalibrationFileRefusedError(f"{origin} is not a calibration: {error}") from error
        return cls(calibration, text, hashlib.sha256(data).hexdigest())


def read_calibration_file(path: Path, max_bytes: int = MAX_CALIBRATION_BYTES) -> CalibrationFile:
    """Read a force's calibration file without ever blocking: opened non-blocking, refused
    unless it is a regular file of at most `max_bytes` (checked before reading and while
    reading, should it grow), then parsed."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        raise CalibrationFileRefusedError(f"{path} cannot be opened: {error}") from error
    with os.fdopen(descriptor, "rb") as file:
        facts = os.fstat(descriptor)
        if not stat.S_ISREG(facts.st_mode):
            raise CalibrationFileRefusedError(f"{path} is not a regular file (a FIFO or a device?)")
        if facts.st_size > max_bytes:
            raise CalibrationFileRefusedError(
                f"{path} holds {facts.st_size:,} bytes, more than the {max_bytes:,} allowed"
            )
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CalibrationFileRefusedError(f"{path} holds more than the {max_bytes:,} bytes allowed")
    return CalibrationFile.parse(data, str(path))


@cache
def shipped_calibration_file(model_id: str) -> CalibrationFile | None:
    """The calibration shipped for `model_id` with its bytes (the file its describer's
    `ModelCard` names), None when the package has none."""
    from lfr.vision.describers import model_card

    card = model_card(model_id)
    name = card.calibration_file if card is not None else None
    entry = SHIPPED / (name or f"{model_id}.json")
    if not entry.is_file():
        return None
    return CalibrationFile.parse(entry.read_bytes(), f"the shipped calibration of {model_id}")


def shipped_calibration(model_id: str) -> ModelCalibration | None:
    """The calibration shipped for `model_id`, None when the package has none."""
    shipped = shipped_calibration_file(model_id)
    return shipped.calibration if shipped is not None else None


def load_calibration(path: Path | None, model_id: str) -> ModelCalibration | None:
    """A force's own calibration file when given (it must be of `model_id`; a file that is
    not one is refused, `CalibrationFileRefusedError`), else the shipped one."""
    if path is None:
        return shipped_calibration(model_id)
    calibration = read_calibration_file(path).calibration
    if calibration.model_id != model_id:
        raise CalibrationFileRefusedError(
            f"{path} calibrates {calibration.model_id}, but the describer is {model_id}"
        )
    return calibration
