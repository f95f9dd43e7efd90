"""`etalage serve --workers 2` on Redis in front of the demo shop: every consenting visitor driven through
the hero-banner experiment's page is counted by `etalage report` exactly once, whichever worker served
which of their pages (each request on a new connection, so the kernel spreads one visitor over both,
and several visitors at once).

The visitors' interest (rodents) is in Redis before they come, so every variant's hero rule applies on
their first view of the home page (an interest learned from a page in one worker reaches the other
only once the batched write is in Redis). A visitor's later view in the other worker may come before
the first one's write reached Redis: it draws the same variant again and records a second exposure,
which must not count twice.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from etalage.cli import main
from etalage.profiles.profile import Profile
from etalage.rules.bucketing import position
from etalage.rules.experiments import HOLDOUT_SEED
from etalage.rules.loader import load_rules
from etalage.tokens import VisitorSigner
from tests.support.config import PROJECT_RULES, SECRET
from tests.support.redis_server import RedisServer
from tests.support.workers import serving_workers

VISITORS = 60
SIGNER = VisitorSigner(SECRET)
RULES = load_rules(PROJECT_RULES)
HERO = next(experiment for experiment in RULES.experiments if experiment.id == "hero-banner")


@pytest.fixture
def two_workers(shop: str, redis_server: RedisServer) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    env = {
        "ETALAGE_SECRET": ",".join(f"{key}:{secret.decode()}" for key, secret in SECRET),
        # A busy test machine must not make a worker serve pages unpersonalized (shedding, a slow first look):
        # this test is about counting, and a page served as the origin sent it exposes nobody.
        "ETALAGE_OVERLOAD_LAG": "60",
        "ETALAGE_ANALYSIS_TIMEOUT": "60",
    }
    with serving_workers(["--upstream", shop, "--rules", str(PROJECT_RULES), "--redis-url", redis_server.url], env) as served:
        yield served


def interested_visitors(redis_url: str) -> list[str]:
    """Visitor ids whose stored profiles hold three views of rodents, as Etalage writes them."""
    ids = [SIGNER.new_id() for _ in range(VISITORS)]
    with redis.Redis.from_url(redis_url) as client:
        for visitor_id in ids:
            profile = Profile(category_views={"rodents": 3}, category_seen={"rodents": time.time()})
            client.set(f"etalage:v:{visitor_id}", profile.dumps())
    return ids


def expected_units(visitors: list[str]) -> dict[str, dict[str, int]]:
    """Per experiment and variant, how many of `visitors` their ids draw into it."""
    held_out = [position(HOLDOUT_SEED, unit) < RULES.site.holdout for unit in visitors]
    hero = Counter(HERO.draw(unit).id for unit, out in zip(visitors, held_out, strict=True) if not out)
    return {
        "hero-banner": {variant.id: hero[variant.id] for variant in HERO.variants},
        "@holdout": {"holdout": sum(held_out), "personalized": VISITORS - sum(held_out)},
    }


def visit(url: str, visitor_id: str) -> None:
    """The visitor, who accepted the shop's banner, opens the home page three times."""
    # No connection kept: each request may go to either worker.
    with httpx.Client(base_url=url, limits=httpx.Limits(max_keepalive_connections=0)) as browser:
        assert browser.post("/consent", data={"choice": "accept"}).status_code in (200, 303)
        browser.cookies.set("etalage_vid", SIGNER.sign(visitor_id), domain=httpx.URL(url).host)
        for _ in range(3):
            assert browser.get("/").status_code == 200


def test_experiments_workers_report_counts_every_visitor_once(two_workers, redis_server, capsys):
    url, server = two_workers
    visitors = interested_visitors(redis_server.url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda visitor_id: visit(url, visitor_id), visitors))
    # A graceful stop writes every queued page view to Redis before the workers exit.
    server.terminate()
    assert server.wait(timeout=30) == 0
    assert main(["report", "--rules", str(PROJECT_RULES), "--redis-url", redis_server.url, "--format", "json"]) == 0
    units = {result["experiment"]: {v["variant"]: v["units"] for v in result["variants"]} for result in json.loads(capsys.readouterr().out)}
    # Every visitor is counted once, in the arm their id draws (GrowthBook's hashing, the same in every worker).
    assert units == expected_units(visitors)
    assert sum(units["@holdout"].values()) == VISITORS
