"""Error rates with their confidence intervals, and the ratio of two rates: the pure
statistics every measurement of the engine rests on (evaluation protocols, the
equitability report, outcome monitoring, benchmarks).

Only the standard library is used (the normal distribution of `statistics`), so the
results can be reproduced by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Rate:
    """An error rate with the counts it rests on and its confidence interval."""

    errors: int
    trials: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.errors / self.trials if self.trials else 0.0


@dataclass(frozen=True, slots=True)
class RateRatio:
    """The ratio of two groups' error rates with its confidence interval: the effect
    size beside the significance test (NIST FRTE reports the max/min ratio). None where
    a group has no error (the ratio is then unbounded or zero)."""

    value: float | None
    low: float | None
    high: float | None


def wilson_interval(errors: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: well-behaved for the tiny error counts that matter here
    (a normal approximation would give negative lower bounds at 0 or 1 errors)."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = errors / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # Rounding may put a bound a hair past the rate itself (0 errors: low 3e-17 > 0).
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def rate_ratio(high: Rate, low: Rate, confidence: float = 0.95) -> RateRatio:
    """`high.value / low.value` with the Katz log interval:
    ln r ± z·√(1/a − 1/n₁ + 1/b − 1/n₂). It treats comparisons as independent; repeated
    probes and subjects make real intervals somewhat wider."""
    if high.errors == 0 or low.errors == 0:
        return RateRatio(None, None, None)
    ratio = high.value / low.value
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    spread = z * math.sqrt(1 / high.errors - 1 / high.trials + 1 / low.errors - 1 / low.trials)
    return RateRatio(ratio, ratio * math.exp(-spread), ratio * math.exp(spread))


def max_min_ratio(rates: Mapping[str, Rate], confidence: float = 0.95) -> RateRatio:
    """The highest group rate over the lowest (NIST FRTE's max/min), with its interval."""
    if len(rates) < 2:
        return RateRatio(None, None, None)
    ordered = sorted(rates.values(), key=lambda rate: rate.value)
    return rate_ratio(ordered[-1], ordered[0], confidence)


def make_rate(errors: int, trials: int, confidence: float = 0.95) -> Rate:
    low, high = wilson_interval(errors, trials, confidence)
    return Rate(errors=errors, trials=trials, low=low, high=high)
