"""A throwaway Sentinel set for tests: one master, one replica and three sentinels, real processes.

The sentinels decide quickly (the master counts as down after 500 ms without a reply, and two of
three must agree), so a test that kills the master sees the replica promoted within seconds. Every
wait is a bounded poll of what the servers report, never a sleep standing in for one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.redis_server import RedisServer, redis_server_binary

__all__ = ["SERVICE", "SentinelSet", "redis_sentinel", "wait_until"]

SERVICE = "etalage"
# Only guards against a set that never gets there; the sentinels usually agree within seconds.
DEADLINE = 60.0


def wait_until(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll `condition` until it holds; fail the test, saying `what` it waited for, past `deadline` seconds."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {deadline} s waiting for {what}")
        time.sleep(0.05)


def _answers(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except OSError:
        return False  # redis-py's ConnectionError is an OSError: not there yet


class SentinelSet:
    def __init__(self, binary: str) -> None:
        self.master = RedisServer(binary)
        self.master.start()
        self.replica = RedisServer(binary, args=["--replicaof", "127.0.0.1", str(self.master.port)])
        self.replica.start()
        config = (
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 500\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        self.sentinels = [RedisServer(binary, args=["--sentinel"], config=config, ready=b"+monitor master") for _ in range(3)]
        for sentinel in self.sentinels:
            sentinel.start()

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def wait_until_ready(self) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the two other sentinels:
        before that, killing the master would leave no one to promote it or no majority to decide."""

        def replica_in_sync() -> bool:
            with self.replica.client() as client:
                return client.info("replication").get("master_link_status") == "up"

        def sentinels_agree() -> bool:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    state = client.sentinel_master(SERVICE)
                    if (state["num-other-sentinels"], state["num-slaves"]) != (2, 1):
                        return False
            return True

        wait_until(lambda: _answers(replica_in_sync), "the replica to sync with the master")
        wait_until(lambda: _answers(sentinels_agree), "the sentinels to find each other and the replica")

    def wait_for_promotion(self) -> None:
        """Until every sentinel names the replica master and the replica acts as one."""

        def promoted() -> bool:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    _host, port = client.sentinel_get_master_addr_by_name(SERVICE)
                    if int(port) != self.replica.port:
                        return False
            with self.replica.client() as client:
                return client.info("replication").get("role") == "master"

        wait_until(lambda: _answers(promoted), "the sentinels to promote the replica")

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            server.stop()


@pytest.fixture
def redis_sentinel() -> Iterator[SentinelSet]:
    """A fresh Sentinel set, ready to fail over, for one test."""
    servers = SentinelSet(redis_server_binary())
    try:
        servers.wait_until_ready()
        yield servers
    finally:
        servers.stop()
