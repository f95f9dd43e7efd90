"""/.etalage/ready: 200 while the profile store answers, 503 while it does not, 200 again after."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from etalage.app import create_app
from etalage.control.ready import Readiness
from etalage.profiles.redis import RedisStore
from tests.support.config import PROXY_RULES, settings_for
from tests.support.redis_server import RedisServer
from tests.support.servers import running

# Probes until the answer changes; the store's answer is kept about a second, so this ends long before.
PROBE_DEADLINE = 30.0


def probe_until(url: str, status: int) -> int:
    """Probe /.etalage/ready until it answers `status` (or the deadline passes); the last status seen."""
    deadline = time.monotonic() + PROBE_DEADLINE
    with httpx.Client() as client:
        seen = client.get(f"{url}/.etalage/ready").status_code
        while seen != status and time.monotonic() < deadline:
            seen = client.get(f"{url}/.etalage/ready").status_code
    return seen


def test_ready_answers_with_the_embedded_store(etalage, origin_app):
    response = httpx.get(f"{etalage}/.etalage/ready")
    assert (response.status_code, response.text, origin_app.seen) == (200, "ready\n", [])


def test_ready_needs_no_token_when_admin_endpoints_are_on(origin):
    with running(create_app(settings_for(origin, PROXY_RULES, admin_token="s3cret-token-for-tests"))) as url:
        assert httpx.get(f"{url}/.etalage/ready").status_code == 200


@pytest.mark.redis
def test_ready_follows_redis_down_and_back(origin, redis_server: RedisServer):
    settings = settings_for(origin, PROXY_RULES, redis_url=redis_server.url)
    with running(create_app(settings)) as url:
        assert probe_until(url, 200) == 200
        redis_server.kill()
        assert probe_until(url, 503) == 503
        assert httpx.get(f"{url}/.etalage/health").status_code == 200  # liveness stays as it is
        redis_server.restart()
        assert probe_until(url, 200) == 200


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pings(server: RedisServer) -> int:
    with server.client() as client:
        return int(client.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


@pytest.mark.redis
def test_ready_probes_within_a_second_cost_one_ping(redis_server: RedisServer):
    clock = Clock()

    async def probe_three_times() -> list[bool]:
        store = RedisStore(redis_server.url, retention=3600)
        readiness = Readiness(store, ttl=1.0, clock=clock)
        try:
            answers = [await readiness.ready()]
            clock.now += 0.9
            answers += await asyncio.gather(readiness.ready(), readiness.ready())
            return answers
        finally:
            await store.aclose()

    assert asyncio.run(probe_three_times()) == [True, True, True] and pings(redis_server) == 1


@pytest.mark.redis
def test_ready_asks_the_store_again_after_a_second(redis_server: RedisServer):
    clock = Clock()

    async def probe_twice() -> None:
        store = RedisStore(redis_server.url, retention=3600)
        readiness = Readiness(store, ttl=1.0, clock=clock)
        try:
            await readiness.ready()
            clock.now += 1.0
            await readiness.ready()
        finally:
            await store.aclose()

    asyncio.run(probe_twice())
    assert pings(redis_server) == 2
