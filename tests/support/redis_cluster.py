"""A throwaway Redis Cluster for tests: three masters (no replicas), real processes, slots spread
by `redis-cli --cluster create`. Waiting for the cluster to form is a bounded poll of CLUSTER INFO."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis

from tests.support.redis_sentinel import wait_until
from tests.support.redis_server import RedisServer, redis_server_binary

__all__ = ["ClusterSet", "redis_cluster"]


class ClusterSet:
    def __init__(self, binary: str) -> None:
        self.nodes = [RedisServer(binary, args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]) for _ in range(3)]
        for node in self.nodes:
            node.start()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(self.addresses)

    def create(self) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.skip("redis-cli not installed (it comes with redis-server)")
        subprocess.run([cli, "--cluster", "create", *self.addresses, "--cluster-yes"], capture_output=True, check=True, timeout=60)

        def formed() -> bool:
            for node in self.nodes:
                with node.client() as client:
                    if client.cluster("INFO")["cluster_state"] != "ok":
                        return False
            return True

        wait_until(formed, "the cluster to cover every slot on every node")

    def client(self) -> redis.RedisCluster:
        """A synchronous cluster client for setting up and checking what the store wrote."""
        return redis.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, socket_timeout=10)

    def flushall(self) -> None:
        for node in self.nodes:
            with node.client() as client:
                client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[ClusterSet]:
    """One cluster for a test module (forming one takes a while); empty it between tests with flushall()."""
    cluster = ClusterSet(redis_server_binary())
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.stop()
