"""The metrics Etalage exposes: declared up front, counted by label, timed in histograms."""

from __future__ import annotations

import pytest

from etalage.metrics import Metrics


def test_metrics_every_declared_metric_is_listed_before_it_counts():
    text = Metrics().render().decode()
    for name in ("etalage_requests_total", "etalage_personalize_seconds", "etalage_store_queued_events", "etalage_shed_ratio"):
        assert f"# TYPE {name} " in text


def test_metrics_known_label_values_are_listed_at_zero_before_they_count():
    # `increase(etalage_fail_open_total{reason="store_error"}[5m])` must be 0 before the first failure, not "no data".
    text = Metrics().render().decode()
    assert 'etalage_fail_open_total{reason="store_error"} 0.0' in text and 'etalage_upstream_errors_total{kind="timeout"} 0.0' in text


def test_metrics_an_undeclared_name_fails_at_once():
    with pytest.raises(KeyError):
        Metrics().inc("etalage_request_total", outcome="passed")


def test_metrics_value_is_per_label_set():
    metrics = Metrics()
    metrics.inc("etalage_requests_total", outcome="passed")
    metrics.inc("etalage_requests_total", outcome="passed")
    metrics.inc("etalage_requests_total", outcome="personalized")
    assert (metrics.value("etalage_requests_total", outcome="passed"), metrics.value("etalage_requests_total", outcome="none")) == (2, 0)


def test_metrics_histogram_counts_each_observation_in_its_bucket():
    metrics = Metrics()
    metrics.observe("etalage_personalize_seconds", 0.003)
    text = metrics.render().decode()
    assert 'etalage_personalize_seconds_bucket{le="0.0025"} 0.0' in text and 'etalage_personalize_seconds_bucket{le="0.005"} 1.0' in text


def test_metrics_gauge_shows_the_last_value_set():
    metrics = Metrics()
    metrics.set("etalage_store_queued_events", 7)
    assert "etalage_store_queued_events 7.0" in metrics.render().decode()


def test_metrics_rules_reload_outcome_is_a_gauge():
    metrics = Metrics()
    metrics.rules_reloaded(False, 1_700_000_000.0)
    text = metrics.render().decode()
    assert "etalage_rules_last_reload_successful 0.0" in text
    assert "etalage_rules_last_reload_success_timestamp_seconds 1.7e+09" in text


def test_metrics_dropped_store_events_are_a_counter():
    # A count that only grows is a counter with _total, so that rate() and increase() work on it.
    metrics = Metrics()
    metrics.inc("etalage_store_dropped_events_total", 3)
    text = metrics.render().decode()
    assert "# TYPE etalage_store_dropped_events_total counter" in text and "etalage_store_dropped_events_total 3.0" in text
