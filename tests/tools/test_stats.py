"""Experiment statistics: the same numbers as GrowthBook's stats engine (gbstats) on the same counts."""

import pytest

from etalage.tools.stats import Metric, chi2_sf, effect, srm_p_value, t_cdf


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
