"""Fixtures for the profile store tests: throwaway Redis topologies beside the plain server."""

from tests.support.redis_cluster import redis_cluster, redis_cluster_with_replicas  # noqa: F401
from tests.support.redis_sentinel import redis_sentinel  # noqa: F401  (a fixture for the tests here)
