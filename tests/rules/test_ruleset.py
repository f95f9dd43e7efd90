"""Which rules apply to a page, and what remembering that costs."""

from __future__ import annotations

import gc
import tracemalloc

from etalage.rules.loader import load_rules
from tests.support.config import PROXY_RULES


def test_ruleset_rules_for_keeps_no_long_paths():
    rules = load_rules(PROXY_RULES)
    gc.collect()
    tracemalloc.start()
    try:
        for index in range(200):
            assert len(rules.rules_for(f"/p{index}/" + "x" * 60_000)) == len(rules.rules)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 200 paths of 60 KB: 12 MB when the cache keeps them.
    assert retained < 1 << 20
