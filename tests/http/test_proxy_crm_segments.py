"""A CRM's change reaches the next page view: a rule on a CRM segment fires before the customers API
removes the segment, and not after, on the embedded store and on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from etalage.profiles.store import ProfileStore
from etalage.tokens import VisitorSigner
from tests.http.test_proxy_identity import origin
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, SECRET, rules_with, settings_for
from tests.support.servers import running

SIGNER = VisitorSigner(SECRET)
KEY = "crm-key-for-the-tests"
VIP_NOTE = b"<p>Thank you, VIP</p>"
VIP_RULE = """
[[rule]]
id = "vip-note"
action = "insert"
block = "hero"
priority = 10
position = "append"
template = "templates/vip.html"
when = { crm_segment = "vip" }
"""


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rules_with(PROXY_RULES, tmp_path_factory.mktemp("rules"), {"vip.toml": VIP_RULE, "templates/vip.html": VIP_NOTE})


async def in_vip(store: ProfileStore, device: str) -> None:
    """Customer C-1, in the CRM's vip segment, logged in on `device`."""
    await store.record_customer("C-1", [Event("customer", "C-1", 1.0), Event("segment", "vip", 1.0)])
    await store.link(device, "C-1")
    await store.flush()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_and_device(request: pytest.FixtureRequest) -> Iterator[tuple[ProfileStore, str]]:
    device = SIGNER.new_id()
    if request.param == "memory":
        memory = MemoryStore(retention=3600)
        asyncio.run(in_vip(memory, device))
        yield memory, device
        return
    url = request.getfixturevalue("redis_server").url

    async def seed() -> None:
        seeder = RedisStore(url, 3600)
        await in_vip(seeder, device)
        await seeder.aclose()

    asyncio.run(seed())
    # The app's own store, with the read cache every worker has: the API must not leave it stale.
    yield RedisStore(url, 3600, cache_ttl=3600), device


def test_proxy_crm_segment_removed_through_the_api_stops_the_rule_on_the_next_view(shop, rules, store_and_device):
    store, device = store_and_device
    cookies = {"Cookie": f"OptanonConsent={ACCEPT_ONETRUST}; etalage_vid={SIGNER.sign(device)}"}
    with running(create_app(settings_for(shop, rules, api_key=KEY, store_timeout=5.0), store=store)) as url:
        before = httpx.get(f"{url}/", headers=cookies)
        answer = httpx.put(f"{url}/.etalage/api/customers/C-1", json={"segments": []}, headers={"Authorization": f"Bearer {KEY}"})
        after = httpx.get(f"{url}/", headers=cookies)
    assert answer.status_code == 200 and VIP_NOTE in before.content
    assert VIP_NOTE not in after.content
