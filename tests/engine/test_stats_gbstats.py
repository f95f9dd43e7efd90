"""Experiment statistics agree with GrowthBook's stats engine (gbstats) on the same counts."""

import math
import random

import pytest

from etalage.engine.stats import Metric, effect, srm_p_value

gbstats = pytest.importorskip("gbstats", reason="the gbstats package (pip install -e '.[test]')")


def _statistic(metric: Metric):
    from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic

    if metric.proportion:
        return ProportionStatistic(n=metric.n, sum=metric.total)
    return SampleMeanStatistic(n=metric.n, sum=metric.total, sum_squares=metric.squares)


def _theirs(control: Metric, variant: Metric):
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest

    return TwoSidedTTest(_statistic(control), _statistic(variant), FrequentistConfig(alpha=0.05)).compute_result()


def _counts(rng: random.Random, proportion: bool) -> Metric:
    n = rng.randint(30, 20_000)
    if proportion:
        conversions = rng.randint(1, n - 1)
        return Metric(n, conversions, conversions, proportion=True)
    values = [rng.choice([0.0, 0.0, 0.0, rng.uniform(5, 200)]) for _ in range(rng.randint(30, 800))]
    return Metric(len(values), sum(values), sum(v * v for v in values))


@pytest.mark.parametrize("proportion", [True, False], ids=["conversion", "revenue"])
def test_stats_effect_agrees_with_gbstats(proportion):
    rng = random.Random(11)
    for _ in range(200):
        control, variant = _counts(rng, proportion), _counts(rng, proportion)
        ours, theirs = effect(control, variant), _theirs(control, variant)
        assert ours.uplift == pytest.approx(theirs.expected, rel=1e-9)
        assert [ours.low, ours.high] == pytest.approx(theirs.ci, rel=1e-7, abs=1e-9)
        assert ours.p_value == pytest.approx(theirs.p_value, rel=1e-6, abs=1e-9)


# gbstats's risk computation (not compared here) warns on some inputs.
@pytest.mark.filterwarnings("ignore:invalid value encountered in power:RuntimeWarning")
@pytest.mark.parametrize("proportion", [True, False], ids=["conversion", "revenue"])
def test_stats_chance_to_win_agrees_with_gbstats(proportion):
    from gbstats.bayesian.tests import EffectBayesianABTest

    rng = random.Random(13)
    for _ in range(200):
        control, variant = _counts(rng, proportion), _counts(rng, proportion)
        theirs = EffectBayesianABTest(_statistic(control), _statistic(variant)).compute_result()
        assert effect(control, variant).chance_to_win == pytest.approx(theirs.chance_to_win, rel=1e-9, abs=1e-12)


def test_stats_srm_agrees_with_gbstats():
    from gbstats.utils import check_srm

    rng = random.Random(5)
    for _ in range(200):
        weights = [rng.choice([1, 2, 3]) for _ in range(rng.randint(2, 4))]
        units = [rng.randint(0, 5000) for _ in weights]
        assert srm_p_value(units, weights) == pytest.approx(check_srm(units, weights), rel=1e-9, abs=1e-15)
        assert not math.isnan(srm_p_value(units, weights))
