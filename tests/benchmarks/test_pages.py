"""The benchmark kit's rule folders (benchmarks/pages.py) load: the kit reuses the demo's templates,
so a change to those must keep the benchmark's own site settings in step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from etalage.rules.loader import load_rules
from tests.support.config import REPO

_SPEC = importlib.util.spec_from_file_location("benchmarks_pages", REPO / "benchmarks" / "pages.py")
assert _SPEC is not None and _SPEC.loader is not None
pages = importlib.util.module_from_spec(_SPEC)
sys.modules["benchmarks_pages"] = pages
_SPEC.loader.exec_module(pages)


@pytest.mark.parametrize("count", [1, 20, 200])
def test_pages_rule_folders_load(tmp_path: Path, count: int):
    assert len(load_rules(pages.write_rules(tmp_path, count, REPO / "rules" / "templates")).rules) == count
