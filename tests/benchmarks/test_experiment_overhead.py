"""The experiment overhead benchmark (benchmarks/experiment_overhead.py) compares like with like: the
rules without the experiment keep every other rule, and its visitors draw the control, so both servers
send them one page."""

from __future__ import annotations

from etalage.rules.loader import load_rules
from tests.support.benchmarks import benchmark
from tests.support.config import PROJECT_RULES

overhead = benchmark("experiment_overhead")

RULES = load_rules(PROJECT_RULES)
HERO = next(experiment for experiment in RULES.experiments if experiment.id == "hero-banner")


def test_experiment_overhead_rules_without_keep_every_rule_but_the_tested_variant_s(tmp_path):
    without = load_rules(overhead._rules_without_experiments(tmp_path / "rules"))
    assert (without.experiments, without.site.holdout) == ((), 0.0)
    assert {rule.id for rule in RULES.rules} - {rule.id for rule in without.rules} == {"hero-one-template"}


def test_experiment_overhead_visitors_draw_the_control():
    assert {HERO.draw(unit).id for unit in overhead._control_visitors()} == {"per-category"}
