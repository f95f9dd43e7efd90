"""Bucketing: the same variant as GrowthBook's SDK for the same experiment key, unit and weights."""

import random

import pytest

from etalage.rules.bucketing import bucket_ranges, choose, fnv1a32, position
from etalage.rules.experiments import Experiment, Variant

growthbook = pytest.importorskip("growthbook", reason="the growthbook package (pip install -e '.[test]')")


def _experiment(key: str, weights: list[float], coverage: float, seed: str) -> Experiment:
    variants = tuple(Variant(f"v{index}", weight, frozenset()) for index, weight in enumerate(weights))
    return Experiment(key, variants, "running", None, coverage, None, None, 1, seed, "x:1", tuple(bucket_ranges(weights, coverage)))


def _units(rng: random.Random, count: int) -> list[str]:
    # Ids like Etalage's (URL-safe random), customer numbers, e-mail addresses and a few non-ASCII ones.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    units = ["".join(rng.choices(alphabet, k=22)) for _ in range(count)]
    units += [str(rng.randrange(10**9)) for _ in range(count // 4)]
    units += [f"klant{index}@example.nl" for index in range(count // 4)]
    units += ["émile-ß-✓", "日本語", "emoji-🐕"]
    return units


def test_bucketing_fnv1a32_is_growthbooks():
    from growthbook.core import fnv1a32 as theirs

    for text in ("", "a", "hero-2026visitor", "émile", "🐕 dog"):
        assert fnv1a32(text) == theirs(text)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bucketing_picks_growthbooks_variant_for_many_units_weights_and_coverages(seed):
    rng = random.Random(seed)
    for round_ in range(12):
        count = rng.randint(2, 5)
        raw = [rng.choice([1, 1, 2, 3, 5, 0.5]) for _ in range(count)]
        weights = [weight / sum(raw) for weight in raw]
        coverage = rng.choice([1.0, 1.0, 0.5, 0.25, 0.9, 0.05])
        key = f"exp-{seed}-{round_}"
        experiment_seed = rng.choice([key, f"seed-{round_}"])
        ours = _experiment(key, weights, coverage, experiment_seed)
        theirs = growthbook.Experiment(
            key=key, variations=list(range(count)), weights=weights, coverage=coverage, hashVersion=2, seed=experiment_seed
        )
        for unit in _units(rng, 200):
            result = growthbook.GrowthBook(attributes={"id": unit}).run(theirs)
            variant = ours.draw(unit)
            assert (variant.id if variant else None) == (f"v{result.variationId}" if result.inExperiment else None), (key, unit)


def test_bucketing_position_is_growthbooks_hash_version_2():
    from growthbook.core import gbhash

    rng = random.Random(7)
    for unit in _units(rng, 100):
        assert position("seed", unit) == gbhash("seed", unit, 2)


def test_bucketing_choose_finds_no_variant_beyond_the_coverage():
    ranges = bucket_ranges([0.5, 0.5], 0.5)
    assert [choose(place, ranges) for place in (0.0, 0.24, 0.25, 0.49, 0.5, 0.74, 0.75, 0.9999)] == [0, 0, -1, -1, 1, 1, -1, -1]


def test_bucketing_raising_the_coverage_keeps_every_unit_already_in():
    rng = random.Random(3)
    narrow, wide = _experiment("x", [0.5, 0.5], 0.3, "x"), _experiment("x", [0.5, 0.5], 0.8, "x")
    for unit in _units(rng, 400):
        if narrow.draw(unit) is not None:
            assert wide.draw(unit) == narrow.draw(unit)
