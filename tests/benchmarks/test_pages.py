"""The benchmark kit's rule folders (benchmarks/pages.py) load: the kit reuses the demo's templates,
so a change to those must keep the benchmark's own site settings in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from etalage.rules.loader import load_rules
from tests.support.benchmarks import benchmark
from tests.support.config import REPO

pages = benchmark("pages")


@pytest.mark.parametrize("count", [1, 20, 200])
def test_pages_rule_folders_load(tmp_path: Path, count: int):
    assert len(load_rules(pages.write_rules(tmp_path, count, REPO / "rules" / "templates")).rules) == count
