"""The settings every property test runs under: reproducible (derandomized, no example database) and quick.

Used as a decorator (`@PROPERTY`) rather than a loaded profile, so that importing a test module
changes nothing for the others. `derandomize=True` makes Hypothesis derive its examples from the
test's source, so CI and a laptop run the same examples, and a failure seen once is seen again.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

PROPERTY = settings(
    max_examples=200,
    deadline=None,  # no timing thresholds: a busy machine must not fail a test
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
