"""Consent, visitor identity and personalization through the running proxy."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import threading

import brotli
import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import ProfileStore, StoreError
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, REJECT_ONETRUST, SECRET, settings_for
from tests.support.origin import HOME
from tests.support.servers import running


class FailingStore(ProfileStore):
    """Every operation fails as a store that lost its connection does."""

    async def _fail(self, *args: object) -> None:
        raise StoreError("connection refused")

    load = record = link = unlink = load_customer = record_customer = erase = erased = ping = every_profile = _fail  # type: ignore[assignment]
    withdraw = customer_devices = erase_customer = customer_page = _fail  # type: ignore[assignment]


class BrokenClientStore(FailingStore):
    """Fails as redis-py's cluster client can when a failover closes a connection under a command."""

    async def _fail(self, *args: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'writelines'")

    load = record = link = unlink = erased = _fail  # type: ignore[assignment]


class HangingStore(FailingStore):
    async def load(self, visitor_id: str) -> Profile | None:
        await asyncio.Event().wait()
        return None


class StubbornStore(FailingStore):
    """A read that does not end when cancelled, until released: as a client closing its connections in a
    failover can be slow to."""

    def __init__(self) -> None:
        self.release = threading.Event()

    async def load(self, visitor_id: str) -> Profile | None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.to_thread(self.release.wait, 60)
            raise
        return None


def consented(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, cookies={"OptanonConsent": ACCEPT_ONETRUST})


def browse(client: httpx.Client, *paths: str) -> httpx.Response:
    response = None
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200
    assert response is not None
    return response


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def app(origin, store):
    return create_app(settings_for(origin, PROXY_RULES), store=store)


@pytest.fixture
def proxy(app):
    with running(app) as url:
        yield url


def test_personalization_without_consent_pages_are_byte_identical(proxy, origin):
    with httpx.Client(base_url=proxy, cookies={"OptanonConsent": REJECT_ONETRUST}) as client:
        browse(client, "/c/rodents", "/c/rodents", "/c/rodents")
        assert client.get("/home").content == httpx.get(f"{origin}/home").content


def test_personalization_without_consent_sets_no_visitor_cookie(proxy):
    response = httpx.get(f"{proxy}/home")
    assert "etalage_vid" not in response.headers.get("set-cookie", "")


def test_personalization_without_consent_writes_no_profile(proxy, store):
    with httpx.Client(base_url=proxy, cookies={"OptanonConsent": REJECT_ONETRUST}) as client:
        browse(client, "/c/rodents", "/home")
    assert len(store._profiles) == 0


def test_personalization_global_privacy_control_means_no(proxy, origin):
    with consented(proxy) as client:
        client.headers["Sec-GPC"] = "1"
        browse(client, "/c/rodents", "/c/rodents")
        response = client.get("/home")
    assert response.content == HOME and "etalage_vid" not in response.headers.get("set-cookie", "")


def test_personalization_consent_sets_a_signed_http_only_cookie(proxy):
    cookie = httpx.get(f"{proxy}/home", cookies={"OptanonConsent": ACCEPT_ONETRUST}).headers["set-cookie"]
    assert cookie.startswith("etalage_vid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_personalization_cookie_is_secure_behind_an_https_proxy(origin):
    settings = settings_for(origin, PROXY_RULES, trusted_proxies=frozenset({"127.0.0.1"}))
    with running(create_app(settings)) as url:
        response = httpx.get(f"{url}/home", cookies={"OptanonConsent": ACCEPT_ONETRUST}, headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in response.headers["set-cookie"]


def test_personalization_replaces_a_forged_visitor_cookie(proxy):
    forged = "AAAAAAAAAAAAAAAAAAAAAA.t1.forgedmacforgedmacforgedmacforgedmac0000"
    response = httpx.get(f"{proxy}/home", cookies={"OptanonConsent": ACCEPT_ONETRUST, "etalage_vid": forged})
    new = response.headers["set-cookie"].split(";")[0].removeprefix("etalage_vid=")
    assert new and new != forged


def test_personalization_first_visit_is_unchanged(proxy):
    assert httpx.get(f"{proxy}/home", cookies={"OptanonConsent": ACCEPT_ONETRUST}).content == HOME


def test_personalization_banner_follows_the_top_category(proxy):
    with consented(proxy) as client:
        page = LexborHTMLParser(browse(client, "/c/rodents", "/c/dogs", "/c/rodents", "/home").content)
    hero = page.css_first("#hero")
    assert hero.attributes["data-etalage-rule"] == "hero" and hero.css_first("h1").text() == "For Rodents lovers"


def test_personalization_sort_puts_the_liked_category_first_and_keeps_every_card(proxy):
    with consented(proxy) as client:
        page = LexborHTMLParser(browse(client, "/c/rodents", "/home").content)
    ids = [card.attributes["data-product-id"] for card in page.css("#popular li")]
    assert ids == ["r1", "r2", "d1", "c1"]


def test_personalization_popin_names_the_category_after_enough_views(proxy):
    with consented(proxy) as client:
        page = LexborHTMLParser(browse(client, "/c/rodents", "/c/rodents", "/home").content)
    popin = page.css_first(".etalage-popin")
    assert popin.attributes["data-etalage-category"] == "rodents" and "Rodents newsletter" in popin.text()


def test_personalization_no_popin_before_enough_views(proxy):
    with consented(proxy) as client:
        assert b"etalage-popin" not in browse(client, "/c/rodents", "/home").content


def test_personalization_no_popin_for_a_subscribed_category(proxy):
    with consented(proxy) as client:
        assert b"etalage-popin" not in browse(client, "/c/rodents", "/c/rodents", "/newsletter?subscribed=rodents", "/home").content


def test_personalization_keeps_the_origin_bytes_outside_changed_blocks(proxy):
    with consented(proxy) as client:
        body = browse(client, "/c/rodents", "/home").content
    head = HOME[: HOME.index(b"<section")]
    assert body.startswith(head) and body.endswith(HOME[HOME.index(b"\n<p>5&nbsp;") :])


def test_personalization_response_is_private_and_uncacheable(proxy):
    with consented(proxy) as client:
        response = browse(client, "/c/rodents", "/home")
    assert response.headers["cache-control"] == "private, no-store" and "cookie" in response.headers["vary"].lower()


def test_personalization_drops_stale_validators_and_sets_the_length(proxy):
    with consented(proxy) as client:
        response = browse(client, "/c/rodents", "/home")
    assert "etag" not in response.headers and int(response.headers["content-length"]) == len(response.content)


def test_personalization_rewrites_gzip_pages_and_recompresses_them(proxy):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        with client.stream("GET", "/gzip") as response:
            raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip" and b"For Rodents lovers" in gzip.decompress(raw)


def test_personalization_rewrites_brotli_pages(proxy):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        with client.stream("GET", "/br", headers={"Accept-Encoding": "br"}) as response:
            raw = b"".join(response.iter_raw())
    assert b"For Rodents lovers" in brotli.decompress(raw)


def test_personalization_passes_a_decompression_bomb_through_unchanged(proxy, app):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        with client.stream("GET", "/bomb") as response:
            raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw).startswith(HOME) and app.metrics.value("etalage_fail_open_total", reason="undecodable_body") == 1


def test_personalization_passes_unknown_encodings_through(proxy):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        with client.stream("GET", "/zstd") as response:
            raw = b"".join(response.iter_raw())
    assert raw == b"\x28\xb5\x2f\xfd not really zstd"


def test_personalization_keeps_a_windows_1252_page_in_its_charset(proxy):
    with consented(proxy) as client:
        body = browse(client, "/c/rodents", "/latin1").content
    assert b"Caf\xe9 \x80" not in body  # the hero was replaced...
    assert "Shop Rodents €".encode("cp1252") in body and b"<p>5&nbsp;&euro; <b>bold</p>" in body


def test_personalization_skips_error_pages(proxy, origin):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        assert client.get("/not-found").content == HOME


def test_personalization_skips_partial_content(proxy):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        response = client.get("/range")
    assert response.status_code == 206 and response.content == HOME[:10]


def test_personalization_withdrawal_expires_the_cookie_and_erases_the_profile(proxy, store):
    with consented(proxy) as client:
        browse(client, "/c/rodents")
        visitor = client.cookies["etalage_vid"]
    response = httpx.get(f"{proxy}/home", cookies={"OptanonConsent": REJECT_ONETRUST, "etalage_vid": visitor})
    # Any later request is handled after the erase that the withdrawal scheduled.
    httpx.get(f"{proxy}/echo")
    assert "Max-Age=0" in response.headers["set-cookie"] and len(store._profiles) == 0


def test_personalization_store_failure_serves_the_origin_page(origin):
    app = create_app(settings_for(origin, PROXY_RULES), store=FailingStore())
    with running(app) as url, consented(url) as client:
        client.get("/home")  # gets an id
        response = client.get("/home")
    assert response.content == HOME and app.metrics.value("etalage_fail_open_total", reason="store_error") == 1


def test_personalization_store_failing_untranslated_serves_the_origin_page(origin):
    app = create_app(settings_for(origin, PROXY_RULES), store=BrokenClientStore())
    with running(app) as url, consented(url) as client:
        client.get("/home")
        response = client.get("/home")
    assert response.status_code == 200 and response.content == HOME
    assert app.metrics.value("etalage_fail_open_total", reason="store_error") == 1


def test_personalization_store_read_slow_to_give_up_holds_no_page_view(origin):
    # asyncio.wait_for waited for the cancelled read to end: the page view waited as long (a failover
    # of the Redis cluster timed out the test's requests).
    store = StubbornStore()
    app = create_app(settings_for(origin, PROXY_RULES, store_timeout=0.05), store=store)
    with running(app) as url, consented(url) as client:
        try:
            client.get("/home")
            response = client.get("/home", timeout=30)  # without the bound: held until the store is released
        finally:
            store.release.set()  # the reads given up end now, before the server stops
    assert response.content == HOME


def test_personalization_slow_store_serves_the_origin_page(origin):
    app = create_app(settings_for(origin, PROXY_RULES, store_timeout=0.05), store=HangingStore())
    with running(app) as url, consented(url) as client:
        client.get("/home")
        response = client.get("/home")
    assert response.content == HOME and app.metrics.value("etalage_fail_open_total", reason="store_timeout") == 1


def test_personalization_keeps_the_cookie_within_a_visit(proxy):
    with consented(proxy) as client:
        browse(client, "/home")
        assert "set-cookie" not in client.get("/home").headers


def test_personalization_renews_the_cookie_on_a_new_visit(proxy, store):
    signer = VisitorSigner(SECRET)
    visitor = signer.new_id()
    asyncio.run(store.record(visitor, [Event("page_view", "/", 1.0)]))  # last seen long ago
    cookies = {"OptanonConsent": ACCEPT_ONETRUST, "etalage_vid": signer.sign(visitor)}
    renewed = httpx.get(f"{proxy}/home", cookies=cookies).headers["set-cookie"]
    assert renewed.startswith(f"etalage_vid={visitor}.") and "Max-Age=15552000" in renewed


def test_personalization_records_an_impression_for_each_fired_rule(proxy, store):
    with consented(proxy) as client:
        browse(client, "/c/rodents", "/home")
        visitor = client.cookies["etalage_vid"].split(".")[0]
        client.get("/echo")  # handled after the impression write
    assert asyncio.run(store.load(visitor)).shown_since("hero", 0) == 2


def test_personalization_inserts_after_a_block_and_labels_a_sorted_list(origin, tmp_path):
    shutil.copy(PROXY_RULES / "site.toml", tmp_path / "site.toml")
    (tmp_path / "after.html").write_text('<p class="after">More for {{ category_label }} lovers</p>')
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "after-hero"\naction = "insert"\nblock = "hero"\nposition = "after"\ntemplate = "after.html"\n'
        '[[rule]]\nid = "sort"\naction = "sort"\nblock = "popular"\nlabel = "Sorted for you"\n'
    )
    with running(create_app(settings_for(origin, tmp_path), store=MemoryStore(retention=3600))) as url, consented(url) as client:
        body = browse(client, "/c/rodents", "/home").content
    cards = HOME.split(b"\n  ")[1:5]
    cards[-1] = cards[-1].split(b"\n")[0]
    assert body == (
        HOME.replace(b'<section id="hero" class=hero>', b'<section id="hero" class=hero data-etalage-rule="after-hero">')
        .replace(
            b"</section>\n",
            b'</section><p class="after">More for Rodents lovers</p>\n<p class="etalage-label"><small>Sorted for you \xc2\xb7 <a href="/.etalage/me">why?</a></small></p>',
        )
        .replace(b'<ul id="popular">', b'<ul id="popular" data-etalage-rule="sort">')
        .replace(b"\n  ".join(cards), b"\n  ".join([cards[2], cards[3], cards[0], cards[1]]))
    )


@pytest.fixture
def proxy_saying(origin, store, tmp_path):
    """A proxy whose hero says "— für dich €"."""
    shutil.copytree(PROXY_RULES, tmp_path / "rules")
    (tmp_path / "rules" / "templates" / "hero.html").write_text("<h1>{{ category_label }} — für dich €</h1>", encoding="utf-8")
    with running(create_app(settings_for(origin, tmp_path / "rules"), store=store)) as url:
        yield url


@pytest.mark.parametrize("path", ["/late-charset", "/no-charset"])
def test_personalization_inserts_ascii_text_into_a_page_whose_charset_is_a_guess(proxy_saying, path):
    with consented(proxy_saying) as client:
        body = browse(client, "/c/rodents", path).content
    assert body.isascii()
    for encoding in ("cp1252", "utf-8"):
        assert LexborHTMLParser(body.decode(encoding)).css_first("#hero h1").text() == "Rodents — für dich €"


def test_personalization_inserts_utf8_text_into_a_utf8_page(proxy_saying):
    with consented(proxy_saying) as client:
        body = browse(client, "/c/rodents", "/home").content
    assert "Rodents — für dich €".encode() in body
