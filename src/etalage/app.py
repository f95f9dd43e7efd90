"""The one place that assembles Etalage from its settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from .control import RESERVED_PREFIX, control_routes
from .loader import load_rules
from .metrics import Metrics
from .proxy import Proxy
from .settings import Settings, SettingsError
from .signing import VisitorSigner
from .store import MemoryStore, ProfileStore
from .types import Receive, Scope, Send
from .upstream import HttpxUpstream

__all__ = ["create_app", "Etalage"]


class Etalage:
    """The ASGI application: /.etalage/* and lifespan go to Etalage's own routes, the rest to the shop."""

    def __init__(self, proxy: Proxy, control: Starlette, metrics: Metrics) -> None:
        self.proxy = proxy
        self.control = control
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope["path"].startswith(RESERVED_PREFIX):
            await self.control(scope, receive, send)
        else:
            await self.proxy(scope, receive, send)


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, store: ProfileStore | None = None) -> Etalage:
    """Build Etalage; raises SettingsError or RuleSetError (with every problem) when it cannot run."""
    if not settings.upstream:
        raise SettingsError("upstream: not set (ETALAGE_UPSTREAM or --upstream), e.g. http://127.0.0.1:8080")
    if not settings.secret:
        raise SettingsError(
            "secret: not set (ETALAGE_SECRET); visitor ids are signed with it. "
            "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    ruleset = load_rules(settings.rules_dir)
    metrics = Metrics()
    profiles = store if store is not None else MemoryStore(retention=settings.retention_seconds)
    upstream = HttpxUpstream(settings.upstream_origin, settings.connect_timeout, settings.read_timeout, transport)
    proxy = Proxy(settings, ruleset, upstream, profiles, VisitorSigner(settings.secret), metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.drain()
            await profiles.aclose()
            await upstream.aclose()

    control = Starlette(routes=control_routes(metrics, settings.admin_token), lifespan=lifespan)
    return Etalage(proxy, control, metrics)
