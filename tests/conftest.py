"""Shared fixtures: the scriptable origin, the demo shop, Etalage in front of either, throwaway Redis.

Servers that tests only read from are started once: the scriptable origin and the demo shop for the
whole run, Etalage in front of them once per module. A test that changes a server's state (its
rules, store or metrics, or the Redis behind it) starts its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from etalage.app import Etalage, create_app
from tests.support.config import PROXY_RULES, settings_for
from tests.support.origin import OriginApp
from tests.support.redis_server import redis_server  # noqa: F401  (a fixture for every test module)
from tests.support.servers import Served, running, serving


@pytest.fixture(scope="session")
def origin_server() -> Iterator[tuple[OriginApp, str]]:
    app = OriginApp()
    with running(app) as url:
        yield app, url


@pytest.fixture
def origin_app(origin_server: tuple[OriginApp, str]) -> OriginApp:
    """The scriptable origin, reset for each test: no request seen yet, its gate closed."""
    app, _ = origin_server
    app.reset()
    return app


@pytest.fixture
def origin(origin_server: tuple[OriginApp, str], origin_app: OriginApp) -> str:
    """The scriptable origin's base URL."""
    return origin_server[1]


@pytest.fixture(scope="module")
def upstream_client() -> str:
    """The upstream client Etalage uses; test modules that make claims for every client override it."""
    return "httpx"


@pytest.fixture(scope="module")
def etalage_server(origin_server: tuple[OriginApp, str], upstream_client: str) -> Iterator[str]:
    with running(create_app(settings_for(origin_server[1], PROXY_RULES, upstream_client=upstream_client))) as url:
        yield url


@pytest.fixture
def etalage(etalage_server: str, origin_app: OriginApp) -> str:
    """Etalage with the proxy test rules in front of the scriptable test origin.

    Shared by the tests of a module: a test may browse through it, not change it (a test that needs
    other settings, or asserts on metrics or stored profiles, starts its own)."""
    return etalage_server


@pytest.fixture(scope="session")
def shop() -> Iterator[str]:
    """The demo shop; its only state is an order counter no test depends on."""
    from etalage.demo.shop import create_shop_app

    with running(create_shop_app()) as url:
        yield url


@pytest.fixture(scope="module")
def shop_etalage(shop: str) -> Iterator[str]:
    """Etalage with the project's rules in front of the demo shop, shared like `etalage`."""
    with running(create_app(settings_for(shop))) as url:
        yield url


@pytest.fixture
def served(app: Etalage) -> Iterator[Served]:
    """The test module's own `app` fixture, served on a loopback port, with a way into its event loop."""
    with serving(app) as served:
        yield served


@pytest.fixture
def drain(app: Etalage, served: Served) -> Callable[[], None]:
    """Wait for the profile writes the proxy left to the background (links, recorded views)."""
    return lambda: served.run(app.proxy.drain())
