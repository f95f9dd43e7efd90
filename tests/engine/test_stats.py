"""Experiment statistics: the same numbers as GrowthBook's stats engine (gbstats) on the same counts."""

import random
from collections import Counter

import pytest

from etalage.engine.stats import Metric, chi2_sf, effect, srm_p_value, t_cdf
from etalage.rules.bucketing import bucket_ranges
from etalage.rules.experiments import Experiment, Variant


def test_stats_t_cdf_known_values():
    assert t_cdf(0.0, 7) == 0.5
    assert t_cdf(2.2281388519649385, 10) == pytest.approx(0.975, abs=1e-12)  # t(10) 97.5% quantile
    assert t_cdf(-1.959963984540054, 1e6) == pytest.approx(0.02500013864761085, abs=1e-10)  # near the normal


def test_stats_chi2_sf_known_values():
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, abs=1e-12)
    assert chi2_sf(13.815510557964274, 2) == pytest.approx(0.001, abs=1e-12)
    assert chi2_sf(0.0, 3) == 1.0


def test_stats_effect_is_none_without_a_control_mean():
    assert effect(Metric(100, 0, 0, proportion=True), Metric(100, 5, 5, proportion=True)).uplift is None


def test_stats_srm_flags_a_skewed_split_only():
    assert srm_p_value([5000, 5050], [1, 1]) > 0.001
    assert srm_p_value([5000, 5400], [1, 1]) < 0.001
    assert srm_p_value([0, 0, 0], [1, 1, 1]) == 1.0


def test_stats_srm_flags_a_52_48_split_of_10000_units_not_50_50():
    assert srm_p_value([5200, 4800], [1, 1]) < 0.001
    assert srm_p_value([5000, 5000], [1, 1]) == 1.0


def _split(rng: random.Random, units: int, share: float) -> list[int]:
    first = sum(1 for _ in range(units) if rng.random() < share)
    return [first, units - first]


def test_stats_srm_rarely_flags_a_fair_assignment():
    rng = random.Random(11)
    flagged = sum(srm_p_value(_split(rng, 10_000, 0.5), [1, 1]) < 0.001 for _ in range(300))
    assert flagged <= 2  # p < 0.001 flags 0.3 in 300 fair splits on average


def test_stats_srm_flags_most_assignments_skewed_52_48():
    rng = random.Random(12)
    flagged = sum(srm_p_value(_split(rng, 10_000, 0.52), [1, 1]) < 0.001 for _ in range(300))
    assert flagged / 300 >= 0.65  # a chi-square test at p < 0.001 catches about 76% of 52/48 splits of 10,000


def _conversions(rng: random.Random, n: int, rate: float) -> Metric:
    converted = sum(1 for _ in range(n) if rng.random() < rate)
    return Metric(n, converted, converted, proportion=True)


def test_stats_an_aa_test_is_significant_at_about_the_nominal_rate():
    rng = random.Random(2026)
    runs = 2000  # 5% +- 2% holds for 2,000 runs unless the rate is off (its standard error is 0.5%)
    significant = sum(
        1
        for _ in range(runs)
        if (found := effect(_conversions(rng, 1000, 0.1), _conversions(rng, 1000, 0.1))).p_value is not None and found.p_value < 0.05
    )
    assert 0.03 <= significant / runs <= 0.07


def test_stats_the_interval_covers_a_known_uplift_about_95_times_in_100():
    rng = random.Random(7)
    runs = 400
    covered = 0
    for _ in range(runs):
        found = effect(_conversions(rng, 2000, 0.10), _conversions(rng, 2000, 0.12))  # a true uplift of +20%
        covered += found.low is not None and found.high is not None and found.low <= 0.2 <= found.high
    assert 0.92 <= covered / runs <= 0.98


def test_stats_growthbook_hashing_splits_units_as_the_weights_say():
    variants = tuple(Variant(name, share, frozenset()) for name, share in (("a", 0.5), ("b", 0.25), ("c", 0.25)))
    experiment = Experiment(
        "split", variants, "running", None, 1.0, None, None, 1, "split", "x:1", tuple(bucket_ranges([0.5, 0.25, 0.25], 1.0))
    )
    drawn = Counter(experiment.draw(f"visitor-{n}").id for n in range(20_000))  # type: ignore[union-attr]
    assert srm_p_value([drawn["a"], drawn["b"], drawn["c"]], [0.5, 0.25, 0.25]) > 0.001
    skewed = [drawn["a"] + 600, drawn["b"] - 300, drawn["c"] - 300]  # a broken assignment or exposure
    assert srm_p_value(skewed, [0.5, 0.25, 0.25]) < 0.001
