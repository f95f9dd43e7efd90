"""Fixtures for the profile store tests: throwaway Redis topologies beside the plain server."""

from tests.support.redis_cluster import redis_cluster  # noqa: F401
from tests.support.redis_sentinel import redis_sentinel  # noqa: F401  (a fixture for the tests here)
