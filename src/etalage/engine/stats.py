"""The statistics of an experiment's results, as GrowthBook's stats engine (gbstats) computes them.

A metric per variant is n units, the sum of its value per unit and the sum of squares (a conversion
is a value of 0 or 1 per unit). The effect of a variant is its mean relative to the control's, with
the delta method's variance, a two-sided Welch t-test (Welch-Satterthwaite degrees of freedom) and
its 95% interval: gbstats's frequentist TwoSidedTTest; and the chance that the variant beats the
control, gbstats's Bayesian EffectBayesianABTest with its default flat prior (the normal posterior
of the same relative difference). The sample-ratio-mismatch check is a
chi-square test of the units per variant against the weights, flagged at p < 0.001 as GrowthBook
does. Results are fixed-horizon: read them once the planned sample is reached, not while peeking.

Student's t and chi-square come from the regularized incomplete beta and gamma functions (continued
fractions, as in Numerical Recipes), so no numerical library is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["Metric", "Effect", "effect", "srm_p_value", "t_cdf", "chi2_sf", "SRM_THRESHOLD"]

SRM_THRESHOLD = 0.001
_EPSILON = 1e-15
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class Metric:
    """One variant's metric: `n` units, the sum of their values and of the values' squares."""

    n: int
    total: float
    squares: float
    proportion: bool = False  # a conversion (0 or 1 per unit): variance p(1-p), as gbstats has it

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.proportion:
            return self.mean * (1 - self.mean)
        if self.n <= 1:
            return 0.0
        return (self.squares - self.total**2 / self.n) / (self.n - 1)


@dataclass(frozen=True, slots=True)
class Effect:
    """A variant against the control: relative uplift, its 95% interval, the two-sided p-value and the
    chance to beat the control; None throughout when it cannot be estimated (a control mean of 0, no
    variance, too few units)."""

    uplift: float | None
    low: float | None
    high: float | None
    p_value: float | None
    chance_to_win: float | None = None


def effect(control: Metric, variant: Metric, alpha: float = 0.05) -> Effect:
    """The variant's relative effect on the metric (gbstats TwoSidedTTest, difference_type relative)."""
    mean_a, mean_b = control.mean, variant.mean
    var_a, var_b = control.variance, variant.variance
    if mean_a == 0 or control.n < 2 or variant.n < 2 or var_a <= 0 or var_b <= 0:
        return Effect(None, None, None, None)
    estimate = (mean_b - mean_a) / mean_a
    variance = var_b / (mean_a**2 * variant.n) + var_a * mean_b**2 / (mean_a**4 * control.n)
    dof = (var_b / variant.n + var_a / control.n) ** 2 / (
        var_b**2 / (variant.n**2 * (variant.n - 1)) + var_a**2 / (control.n**2 * (control.n - 1))
    )
    spread = math.sqrt(variance)
    p_value = 2 * (1 - t_cdf(abs(estimate / spread), dof))
    width = _t_quantile(1 - alpha / 2, dof) * spread
    chance_to_win = 0.5 * math.erfc(-estimate / (spread * math.sqrt(2)))
    return Effect(estimate, estimate - width, estimate + width, p_value, chance_to_win)


def srm_p_value(units: Sequence[int], weights: Sequence[float]) -> float:
    """The chance of a split at least this far from the weights, were assignment working (1 with no units)."""
    total = sum(units)
    if not total:
        return 1.0
    weight = sum(weights)
    statistic = 0.0
    for observed, share in zip(units, weights, strict=True):
        if share > 0:
            expected = share / weight * total
            statistic += (observed - expected) ** 2 / expected
    return chi2_sf(statistic, len(units) - 1)


def t_cdf(x: float, dof: float) -> float:
    """Student's t distribution function."""
    # dof / (dof + x²) and its complement, each computed directly: for large dof the first is near 1.
    tail = 0.5 * _beta_regularized(dof / 2, 0.5, dof / (dof + x * x), x * x / (dof + x * x))
    return 1 - tail if x >= 0 else tail


def _t_quantile(probability: float, dof: float) -> float:
    """The inverse of t_cdf for probability in (0.5, 1), by Newton's method from the normal quantile.

    For x > 0 the t distribution function is increasing and concave, and the normal quantile lies
    below the t quantile, so each step lands closer from below: a few t_cdf calls, where bisection took
    a hundred (thousands of simulated experiments run the report's statistics in the tests)."""
    x = NormalDist().inv_cdf(probability)
    for _ in range(200):
        step = (t_cdf(x, dof) - probability) / _t_density(x, dof)
        x -= step
        if abs(step) < 1e-13 * max(1.0, x):
            break
    return x


def _t_density(x: float, dof: float) -> float:
    return math.exp(math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - (dof + 1) / 2 * math.log1p(x * x / dof)) / math.sqrt(dof * math.pi)


def chi2_sf(x: float, dof: int) -> float:
    """The chi-square distribution's survival function (1 - cdf)."""
    if x <= 0:
        return 1.0
    return _gamma_upper_regularized(dof / 2, x / 2)


def _beta_regularized(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b), with y = 1 - x given as precisely as the caller has it."""
    if x <= 0:
        return 0.0
    if y <= 0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, y) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The incomplete beta function's continued fraction (modified Lentz)."""
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > _TINY else _TINY)
            c = 1 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            step = c * d
            result *= step
        if abs(step - 1) < _EPSILON:
            break
    return result


def _gamma_upper_regularized(a: float, x: float) -> float:
    front = math.exp(-x + a * math.log(x) - math.lgamma(a))
    if x < a + 1:  # the series for the lower function converges here
        term = total = 1 / a
        for n in range(1, 10_000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * _EPSILON:
                break
        return max(0.0, 1 - front * total)
    b = x + 1 - a  # else the continued fraction for the upper one
    c, d = 1 / _TINY, 1 / b
    result = d
    for n in range(1, 10_000):
        numerator = -n * (n - a)
        b += 2
        d = numerator * d + b
        d = 1 / (d if abs(d) > _TINY else _TINY)
        c = b + numerator / c
        c = c if abs(c) > _TINY else _TINY
        step = c * d
        result *= step
        if abs(step - 1) < _EPSILON:
            break
    return front * result
