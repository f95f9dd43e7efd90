"""The one place that assembles Etalage from its settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette

from etalage.control.admin import RESERVED_PREFIX, control_routes
from etalage.control.api import api_routes
from etalage.control.crm import crm_routes
from etalage.control.customers import customer_routes
from etalage.control.me.routes import me_routes
from etalage.control.preview import preview_routes
from etalage.control.ready import ready_routes
from etalage.control.results.routes import results_routes
from etalage.control.segments import segment_routes
from etalage.control.webhooks import webhook_routes
from etalage.http.proxy import Proxy
from etalage.http.requestid import request_id
from etalage.http.requests import refused
from etalage.http.shedding import LoadShedder
from etalage.http.upstream import create_upstream
from etalage.logs import REQUEST_ID
from etalage.metrics import Metrics
from etalage.profiles.memory import MemoryStore
from etalage.profiles.store import ProfileStore
from etalage.rules.rulebook import RuleBook
from etalage.settings import Settings, SettingsError
from etalage.tokens import PreviewSigner, VisitorSigner
from etalage.types import Receive, Scope, Send
from etalage.webhooks.courier import Courier
from etalage.webhooks.file_queue import FileQueue
from etalage.webhooks.outbox import Outbox
from etalage.webhooks.queue import DeliveryQueue, QueueError

__all__ = ["create_app", "create_app_from_env", "create_store", "create_outbox", "Etalage"]

_GAUGE_INTERVAL = 1.0  # seconds between updates of a worker's gauges


class Etalage:
    """The ASGI application: /.etalage/* and lifespan go to Etalage's own routes, the rest to the shop."""

    def __init__(self, proxy: Proxy, control: Starlette, metrics: Metrics, rules: RuleBook, shedder: LoadShedder) -> None:
        self.proxy = proxy
        self.control = control
        self.metrics = metrics
        self.rules = rules
        self.shedder = shedder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.control(scope, receive, send)
            return
        client = scope.get("client")
        # Every log line written while this request is handled names it, uvicorn's access log included.
        token = REQUEST_ID.set(request_id(scope["headers"], client[0] if client else None, self.proxy.settings.trusted))
        try:
            if scope["path"].startswith(RESERVED_PREFIX):
                # The proxy checks its own requests; Etalage's routes get the same checks here.
                if not await refused(scope, send, self.proxy.settings):
                    await self.control(scope, receive, send)
            else:
                await self.proxy(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)


def create_store(settings: Settings) -> ProfileStore:
    """The profile store the settings name: Redis with a URL, else the embedded store."""
    if settings.redis_url:
        from etalage.profiles.redis import RedisStore

        try:
            return RedisStore(settings.redis_url, retention=settings.retention_seconds, flush_interval=settings.redis_write_delay)
        except ValueError as exc:  # a URL the settings' scheme check let through, like a sentinel without a port
            raise SettingsError(f"redis_url: {exc}") from exc
    return MemoryStore(retention=settings.retention_seconds, path=Path(settings.profiles_file) if settings.profiles_file else None)


def create_outbox(settings: Settings, store: ProfileStore, metrics: Metrics) -> Outbox | None:
    """The triggers' webhook delivery the settings ask for: None without a webhook URL."""
    if not settings.webhook_url:
        return None
    queue: DeliveryQueue
    if settings.redis_url:
        from etalage.webhooks.redis_queue import RedisQueue

        queue = RedisQueue(settings.redis_url, reclaim_after=settings.webhook_reclaim_after)
    else:
        try:
            queue = FileQueue(Path(settings.webhook_queue_file) if settings.webhook_queue_file else None)
        except QueueError as exc:
            raise SettingsError(f"webhook_queue_file: {exc}") from exc
    courier = Courier(
        queue,
        settings.webhook_url,
        settings.webhook_secret,
        store,
        metrics,
        timeout=settings.webhook_timeout,
        max_attempts=settings.webhook_max_attempts,
        retry_base=settings.webhook_retry_base,
        # A page view's profile write lands within the write delay (Redis), or at once (embedded store).
        unwritten_grace=1.0 + (20 * settings.redis_write_delay if settings.redis_url else 0.0),
    )
    return Outbox(queue, courier, metrics)


def create_app(settings: Settings, *, store: ProfileStore | None = None) -> Etalage:
    """Build Etalage; raises SettingsError or RuleSetError (with every problem) when it cannot run."""
    if not settings.upstream:
        raise SettingsError("upstream: not set (ETALAGE_UPSTREAM or --upstream), e.g. http://127.0.0.1:8080")
    if not settings.secret:
        raise SettingsError(
            "secret: not set (ETALAGE_SECRET); visitor ids are signed with it. "
            "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    metrics = Metrics()
    rules = RuleBook(settings.rules_dir, on_reload=metrics.rules_reloaded)
    profiles = store if store is not None else create_store(settings)
    upstream = create_upstream(settings.upstream_client, settings.upstream_origin, settings.connect_timeout, settings.read_timeout)
    shedder = LoadShedder(settings.overload_lag)
    signer = VisitorSigner(settings.secret)
    previews = PreviewSigner(settings.admin_token)
    outbox = create_outbox(settings, profiles, metrics)
    proxy = Proxy(settings, rules, upstream, profiles, signer, metrics, shedder, previews, outbox)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        background = [asyncio.create_task(shedder.run()), asyncio.create_task(_report_gauges(metrics, shedder, profiles))]
        if settings.watch_rules:
            background.append(asyncio.create_task(rules.watch()))
        delivery = asyncio.create_task(outbox.run()) if outbox is not None else None
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await proxy.drain()
            proxy.close()
            if outbox is not None and delivery is not None:
                # After the page views' writes: every moment they found is queued before the store closes.
                outbox.stop()
                await delivery
                await outbox.aclose()
            await profiles.aclose()
            await upstream.aclose()
            metrics.close()

    routes = (
        control_routes(metrics, rules, settings.admin_token, settings.metrics_token)
        + api_routes(profiles, signer, lambda: rules.current, settings.api_key, settings.cookie_name, metrics, outbox)
        + webhook_routes(outbox, settings.admin_token)
        + customer_routes(profiles, lambda: rules.current, settings.admin_token)
        + crm_routes(profiles, lambda: rules.current, settings.api_key)
        + segment_routes(profiles, lambda: rules.current, settings.admin_token)
        + me_routes(store=profiles, signer=signer, rules=lambda: rules.current, settings=settings, outbox=outbox)
        + results_routes(profiles, lambda: rules.current, settings.admin_token)
        + preview_routes(previews, settings.trusted)
        + ready_routes(profiles)
    )
    control = Starlette(routes=routes, lifespan=lifespan)
    return Etalage(proxy, control, metrics, rules, shedder)


async def _report_gauges(metrics: Metrics, shedder: LoadShedder, store: ProfileStore) -> None:
    """Keep this worker's gauges current: in multiprocess mode a scrape reads what each worker last wrote."""
    counted = 0  # of the store's dropped events, those the counter has
    while True:
        queued, dropped = store.backlog()
        metrics.set("etalage_store_queued_events", queued)
        if dropped > counted:
            metrics.inc("etalage_store_dropped_events_total", dropped - counted)
            counted = dropped
        metrics.set("etalage_event_loop_lag_seconds", shedder.lag)
        metrics.set("etalage_shed_ratio", shedder.share)
        await asyncio.sleep(_GAUGE_INTERVAL)


def create_app_from_env() -> Etalage:
    """App factory for worker processes, which get their settings through ETALAGE_* variables."""
    return create_app(Settings.from_env(os.environ))
