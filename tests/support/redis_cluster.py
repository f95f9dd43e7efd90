"""A throwaway Redis Cluster for tests: three masters (and, if asked, a replica for each), real
processes, slots spread by `redis-cli --cluster create`. Waiting for the cluster to form is a bounded
poll of CLUSTER INFO; a master counts as failed after 1 s without answering."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis

from tests.support.redis_sentinel import wait_until
from tests.support.redis_server import RedisServer, redis_server_binary

__all__ = ["ClusterSet", "redis_cluster", "redis_cluster_with_replicas"]


class ClusterSet:
    def __init__(self, binary: str, *, replicas: int = 0) -> None:
        self.replicas = replicas
        args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"]
        self.nodes = [RedisServer(binary, args=args) for _ in range(3 * (1 + replicas))]
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
        command = [cli, "--cluster", "create", *self.addresses, "--cluster-replicas", str(self.replicas), "--cluster-yes"]
        subprocess.run(command, capture_output=True, check=True, timeout=60)

        def formed() -> bool:
            for node in self.nodes:
                with node.client() as client:
                    if client.cluster("INFO")["cluster_state"] != "ok":
                        return False
                    if self.replicas and client.info("replication")["role"] == "slave":
                        if client.info("replication")["master_link_status"] != "up":
                            return False
            return True

        wait_until(formed, "the cluster to cover every slot on every node")

    def client(self) -> redis.RedisCluster:
        """A synchronous cluster client for setting up and checking what the store wrote."""
        return redis.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, socket_timeout=10)

    @staticmethod
    def replication(node: RedisServer) -> dict[str, object]:
        """INFO replication of one node: its role, and for a replica its master's port."""
        with node.client() as client:
            return client.info("replication")

    def master_holding(self, pattern: str) -> RedisServer:
        """The one master with keys matching `pattern`."""
        (holder,) = [node for node in self.nodes if self.replication(node)["role"] == "master" and self._has(node, pattern)]
        return holder

    def replica_of(self, master: RedisServer) -> RedisServer:
        (replica,) = [node for node in self.nodes if self.replication(node).get("master_port") == master.port]
        return replica

    @staticmethod
    def _has(node: RedisServer, pattern: str) -> bool:
        with node.client() as client:
            return bool(client.keys(pattern))

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


@pytest.fixture
def redis_cluster_with_replicas() -> Iterator[ClusterSet]:
    """A fresh cluster of three masters with a replica each, for a test that kills a master."""
    cluster = ClusterSet(redis_server_binary(), replicas=1)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.stop()
