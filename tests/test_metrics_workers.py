"""`etalage serve --workers 2` on Redis: whichever worker answers a scrape, it reports every worker's counts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.config import PROJECT_RULES
from tests.support.redis_server import RedisServer
from tests.support.workers import serving_workers

TOKEN = "metrics-token-for-tests"
REQUESTS = 20


@pytest.fixture
def two_workers(origin: str, redis_server: RedisServer) -> Iterator[str]:
    arguments = ["--upstream", origin, "--rules", str(PROJECT_RULES), "--redis-url", redis_server.url]
    with serving_workers(arguments, {"ETALAGE_SECRET": "0123456789abcdef0123", "ETALAGE_ADMIN_TOKEN": TOKEN}) as (url, _):
        yield url


def passed(text: str) -> float:
    match = re.search(r'^etalage_requests_total\{outcome="passed"\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_every_scrape_of_several_workers_sees_the_totals(two_workers):
    for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over both workers
        assert httpx.get(f"{two_workers}/style.css").status_code == 200
    scrapes = [httpx.get(f"{two_workers}/.etalage/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text for _ in range(8)]
    assert [passed(text) for text in scrapes] == [REQUESTS] * 8


def test_metrics_several_workers_list_known_label_values_before_they_count(two_workers):
    text = httpx.get(f"{two_workers}/.etalage/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert re.search(r'^etalage_fail_open_total\{reason="store_error"\} 0\.0$', text, re.MULTILINE)
