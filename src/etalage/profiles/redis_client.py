"""The Redis client a store URL names: one server, a master found through Sentinel, or a Cluster.

    redis://[[user]:password@]host:port/db, rediss://..., unix:///path?db=N    one server
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]   Sentinel
    redis+cluster://[[user]:password@]host:port[,host:port...]                 Redis Cluster

The Sentinel form is the one of the redis-sentinel-url package (also used by django-redis-sentinel
and others): the netloc lists the sentinels, the path names the monitored service and optionally
the database. The user and password are the master's; the sentinels are asked without them.
The Cluster form lists some of the cluster's nodes (any one that answers is enough to find the others).

Either way every connection attempt, reply and wait for a pooled connection is bounded by
`socket_timeout`, and a failed command is retried once at once on a fresh connection (through
Sentinel: on the master the sentinels name at that moment), so a failover costs the requests
made while no master is reachable, never a hang.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

__all__ = [
    "REDIS_ERRORS",
    "CLUSTER_SCHEME",
    "SENTINEL_SCHEME",
    "Connection",
    "SentinelURL",
    "connect",
    "parse_cluster_url",
    "parse_sentinel_url",
]

# What redis-py raises when Redis fails: a cluster's own errors (no node reachable, a slot not covered)
# are no RedisError, so every `except` takes both.
REDIS_ERRORS = (RedisError, RedisClusterException)

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"


class SentinelURL(NamedTuple):
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None


class Connection(NamedTuple):
    redis: Redis | RedisCluster
    # Clients of the sentinels themselves (none for one server), to close with `redis`.
    sentinels: list[Redis]

    async def aclose(self) -> None:
        for client in (self.redis, *self.sentinels):
            await client.aclose()


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (connections to whichever host the sentinels name master) that waits, bounded,
    for a free connection like the one-server pool, instead of failing at once when all are busy."""


def parse_sentinel_url(url: str) -> SentinelURL:
    """Split a redis+sentinel:// URL; ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"expected {SENTINEL_SCHEME}://host:port[,host:port...]/service[/db]")
    sentinels, username, password = _netloc(parts.netloc)
    segments = [unquote(segment) for segment in parts.path.split("/")[1:]]
    if not segments or not segments[0] or len(segments) > 2:
        raise ValueError("expected the service name after the sentinels, as in /mymaster or /mymaster/0")
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"database {db!r}: expected a number")
    return SentinelURL(sentinels, segments[0], int(db), username, password)


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The nodes, user and password of a redis+cluster:// URL; ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        raise ValueError(f"expected {CLUSTER_SCHEME}://host:port[,host:port...]")
    if parts.path.strip("/"):
        raise ValueError("a cluster has one database: give no path after the nodes")
    return _netloc(parts.netloc)


def _netloc(netloc: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    credentials, _, hosts = netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    addresses = []
    for address in hosts.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"node {address!r}: expected host:port")
        addresses.append((host.strip("[]"), int(port)))
    return addresses, unquote(username) or None, unquote(password) if credentials else None


def connect(url: str, *, socket_timeout: float, max_connections: int) -> Connection:
    """A client for `url`, connecting lazily (a down Redis is not an error until it is used)."""
    # One immediate retry on a fresh connection covers a pooled connection that a Redis restart
    # (or a failover) closed; redis-py's default (retries with backoff) would hang a request for seconds.
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    bounds = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout, "retry": retry}
    scheme = urlsplit(url).scheme
    if scheme == CLUSTER_SCHEME:
        nodes, username, password = parse_cluster_url(url)
        # No pool to wait on here: each node's connections are capped at max_connections, beyond
        # which a command fails at once (fail open) instead of queueing.
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            username=username,
            password=password,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=retry,
        )
        return Connection(cluster, [])
    if scheme != SENTINEL_SCHEME:
        # Waiting for a free connection is bounded like a slow socket.
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=socket_timeout, **bounds)
        return Connection(Redis.from_pool(pool), [])
    parsed = parse_sentinel_url(url)
    sentinel = Sentinel(parsed.sentinels, sentinel_kwargs=dict(bounds))
    master = sentinel.master_for(
        parsed.service,
        connection_pool_class=_BlockingSentinelPool,
        db=parsed.db,
        username=parsed.username,
        password=parsed.password,
        max_connections=max_connections,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=retry,
    )
    return Connection(master, list(sentinel.sentinels))
