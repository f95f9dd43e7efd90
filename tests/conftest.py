"""Shared fixtures: the scriptable origin, the demo shop, Etalage in front of either, throwaway Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etalage.app import create_app
from tests.support.config import PROXY_RULES, settings_for
from tests.support.origin import OriginApp
from tests.support.redis_server import redis_server  # noqa: F401  (a fixture for every test module)
from tests.support.servers import running


@pytest.fixture
def origin_app() -> OriginApp:
    return OriginApp()


@pytest.fixture
def origin(origin_app: OriginApp) -> Iterator[str]:
    with running(origin_app) as url:
        yield url


@pytest.fixture
def upstream_client() -> str:
    """The upstream client Etalage uses; test modules that make claims for every client override it."""
    return "httpx"


@pytest.fixture
def etalage(origin: str, upstream_client: str) -> Iterator[str]:
    """Etalage with the proxy test rules in front of the scriptable test origin."""
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client))) as url:
        yield url


@pytest.fixture
def shop() -> Iterator[str]:
    from etalage.demo.shop import create_shop_app

    with running(create_shop_app()) as url:
        yield url


@pytest.fixture
def shop_etalage(shop: str) -> Iterator[str]:
    """Etalage with the project's rules in front of the demo shop."""
    with running(create_app(settings_for(shop))) as url:
        yield url
