"""The visitor's own page at /.etalage/me, mounted in a tiny Starlette app served on a real socket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from etalage.control.me.checks import FORM_LIMIT
from etalage.control.me.routes import me_routes
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile
from etalage.profiles.store import StoreError
from etalage.rules.loader import load_rules
from etalage.rules.ruleset import RuleSet
from etalage.tokens import CsrfSigner, VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, PROJECT_RULES, PROXY_RULES, REJECT_ONETRUST, SECRET, rules_with, settings_for
from tests.support.servers import running

VISITOR = "AAAAAAAAAAAAAAAAAAAAAA"
OTHER_VISITOR = "BBBBBBBBBBBBBBBBBBBBBB"
SIGNER = VisitorSigner(SECRET)
XSS = '"><script>alert(1)</script>'


class SpyStore(MemoryStore):
    """A memory store that notes every call it gets."""

    def __init__(self) -> None:
        super().__init__(retention=3600)
        self.calls: list[str] = []

    async def load(self, visitor_id: str) -> Profile | None:
        self.calls.append("load")
        return await super().load(visitor_id)

    async def record(self, visitor_id: str, events) -> None:  # type: ignore[no-untyped-def]
        self.calls.append("record")
        await super().record(visitor_id, events)

    async def erase(self, visitor_id: str, *, remember: bool = False) -> None:
        self.calls.append("erase")
        await super().erase(visitor_id, remember=remember)


class BrokenStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__(retention=3600)

    async def load(self, visitor_id: str) -> Profile | None:
        raise StoreError("redis://internal-cache.example:6379: connection refused")


@contextlib.contextmanager
def client_for(store: MemoryStore, rules_dir: Path = PROJECT_RULES, rules: Callable[[], RuleSet] | None = None) -> Iterator[httpx.Client]:
    """The visitor's page alone in a Starlette app, and a client for it (the origin is client.base_url)."""
    settings = settings_for("http://127.0.0.1:9", rules_dir)
    if rules is None:
        ruleset = load_rules(rules_dir)
        rules = lambda: ruleset  # noqa: E731
    app = Starlette(routes=me_routes(store=store, signer=VisitorSigner(settings.secret), rules=rules, settings=settings))
    with running(app) as url, httpx.Client(base_url=url, follow_redirects=False) as client:
        yield client


def cookies(visitor_id: str | None = VISITOR, consent: str | None = ACCEPT_ONETRUST, raw_vid: str | None = None) -> dict[str, str]:
    jar = []
    if consent is not None:
        jar.append(f"OptanonConsent={consent}")
    if raw_vid is not None:
        jar.append(f"etalage_vid={raw_vid}")
    elif visitor_id is not None:
        jar.append(f"etalage_vid={SIGNER.sign(visitor_id)}")
    return {"cookie": "; ".join(jar)}


def seed(store: MemoryStore, visitor_id: str = VISITOR, *events: Event) -> None:
    now = time.time()
    asyncio.run(store.record(visitor_id, [Event("page_view", "/", now), *(events or [Event("category_view", "dogs", now)] * 6)]))


def stored(store: MemoryStore, visitor_id: str = VISITOR) -> Profile | None:
    return asyncio.run(store.load(visitor_id))


def token_from_page(client: httpx.Client) -> str:
    page = client.get("/.etalage/me", headers=cookies()).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


@pytest.fixture
def store() -> SpyStore:
    return SpyStore()


@pytest.fixture
def client(store: SpyStore) -> Iterator[httpx.Client]:
    with client_for(store) as client:
        yield client


# --- reading -----------------------------------------------------------------------------------


def test_me_page_shows_interests_for_a_consented_visitor(store, client):
    seed(store)
    page = client.get("/.etalage/me", headers=cookies()).text
    assert '<th scope="row">Dogs</th>' in page and '<span class="tag strong">strong</span>' in page


def dog_lover_shown(*rules: str) -> list[Event]:
    """Six views of dogs (every dog rule's conditions hold), and one impression of each of `rules`."""
    now = time.time()
    return [Event("category_view", "dogs", now)] * 6 + [Event("shown", rule, now) for rule in rules]


def test_me_page_explains_why_the_shop_personalizes(store, client):
    seed(store, VISITOR, *dog_lover_shown("popular-by-interest"))
    assert "Lists products in the order of your interests: Dogs" in client.get("/.etalage/me", headers=cookies()).text


def test_me_page_names_no_rule_ids_to_the_visitor(store, client):
    # Rule ids are the shop's words ("popular-by-interest"); the JSON keeps them for the shop's tools.
    seed(store, VISITOR, *dog_lover_shown("popular-by-interest"), Event("dismiss", "newsletter-popin:dogs", time.time()))
    page = client.get("/.etalage/me", headers=cookies()).text
    assert "popular-by-interest</code>" not in page and "newsletter-popin</code>" not in page
    assert "Dogs: the newsletter offer" in page


def test_me_why_lists_only_rules_that_were_shown(store, client):
    seed(store, VISITOR, *dog_lover_shown("popular-by-interest"))
    assert [item["rule"] for item in client.get("/.etalage/me.json", headers=cookies()).json()["why"]] == ["popular-by-interest"]


def test_me_why_says_a_condition_driven_rule_in_words_not_rule_syntax(store, client):
    seed(store, VISITOR, *dog_lover_shown("dog-advice"))
    page = client.get("/.etalage/me", headers=cookies()).text
    assert "Showed you a message the shop shows to some of its visitors." in page and "segment" not in page


@pytest.mark.parametrize("consent", [ACCEPT_ONETRUST, REJECT_ONETRUST])
def test_me_page_links_back_to_the_shop(store, client, consent):
    seed(store)
    assert '<a href="/">&larr; Back to the shop</a>' in client.get("/.etalage/me", headers=cookies(consent=consent)).text


@pytest.fixture
def titled_client(store: SpyStore, tmp_path: Path) -> Iterator[httpx.Client]:
    """The visitor's page over the project's rules with a catalogue whose products have titles, as a feed import writes."""
    catalogue = '[catalog]\ndog-kibble-5kg = { category = "dogs", lasts_days = 30, title = "Kibble <5 kg>" }\n'
    with client_for(store, rules_with(PROJECT_RULES, tmp_path, {"catalog.toml": catalogue})) as client:
        yield client


def test_me_page_names_a_product_looked_at_by_its_catalogue_title(store, titled_client):
    seed(store, VISITOR, Event("product_view", "dog-kibble-5kg", time.time()), Event("product_view", "not-in-the-catalogue", time.time()))
    page = titled_client.get("/.etalage/me", headers=cookies()).text
    assert "<li><code>not-in-the-catalogue</code></li>" in page and "<li>Kibble &lt;5 kg&gt; <code>dog-kibble-5kg</code></li>" in page


def test_me_page_names_a_product_bought_by_its_catalogue_title(store, titled_client):
    seed(store, VISITOR, Event("purchase", "dog-kibble-5kg", time.time(), {"order": "o1", "category": "dogs"}))
    assert "<td>Kibble &lt;5 kg&gt; <code>dog-kibble-5kg</code></td>" in titled_client.get("/.etalage/me", headers=cookies()).text


def test_me_page_offers_to_never_suggest_a_category_not_to_never_show_it(store, client):
    # Excluded cards can still appear on the shop's own pages (a sort puts them last): "Never show" promised more.
    seed(store)
    page = client.get("/.etalage/me", headers=cookies()).text
    assert ">Never suggest</button>" in page and "Never show" not in page


def test_me_not_for_me_confirmation_does_not_promise_less_interest(store, client):
    seed(store)
    page = client.get("/.etalage/me/not-for-me?rule=hero-by-interest&category=dogs", headers=cookies()).text
    assert "Only this suggestion is hidden" in page and "less interesting" not in page


def test_me_page_without_consent_reads_nothing_and_says_so(store, client):
    seed(store)
    store.calls.clear()
    page = client.get("/.etalage/me", headers=cookies(consent=REJECT_ONETRUST)).text
    assert "load" not in store.calls and "Nothing is stored about you" in page and "cookie banner" in page


def test_me_page_without_consent_names_the_deciding_source(client):
    assert (
        "OneTrust cookie OptanonConsent: the visitor did not allow group C0004"
        in client.get("/.etalage/me", headers=cookies(consent=REJECT_ONETRUST)).text
    )


def test_me_page_without_consent_erases_and_expires_a_withdrawn_visitor(store, client):
    seed(store)
    response = client.get("/.etalage/me", headers=cookies(consent=REJECT_ONETRUST))
    assert stored(store) is None and "Max-Age=0" in response.headers["set-cookie"]


def test_me_page_without_a_cookie_creates_no_profile(store, client):
    response = client.get("/.etalage/me", headers=cookies(visitor_id=None))
    assert store.calls == [] and "set-cookie" not in response.headers and "Nothing is stored about you yet" in response.text


def test_me_forged_cookie_is_treated_as_no_profile(store, client):
    seed(store)
    store.calls.clear()
    forged = SIGNER.sign(VISITOR)[:-4] + "AAAA"
    page = client.get("/.etalage/me", headers=cookies(raw_vid=forged)).text
    assert store.calls == [] and "Nothing is stored about you yet" in page and "Dogs</th>" not in page


def test_me_cookie_with_non_ascii_in_its_signature_is_treated_as_no_profile(store, client):
    seed(store)
    store.calls.clear()
    response = client.get(
        "/.etalage/me", headers={"cookie": f"OptanonConsent={ACCEPT_ONETRUST}; etalage_vid={SIGNER.sign(VISITOR)}é".encode()}
    )
    assert response.status_code == 200 and store.calls == [] and "Nothing is stored about you yet" in response.text


def test_me_json_has_profile_lifecycle_and_why(store, client):
    seed(store, VISITOR, *dog_lover_shown("dog-advice"))
    data = client.get("/.etalage/me.json", headers=cookies()).json()
    assert data["profile"]["category_views"] == {"dogs": 6} and data["lifecycle"] == "prospect"
    assert [item["rule"] for item in data["why"]] == ["dog-advice"]


def test_me_json_gives_the_profiles_dates_in_iso_8601_utc(store, client):
    at = 1796286451.9  # 2026-12-03 08:27:31.9 UTC
    seed(store, VISITOR, Event("category_view", "dogs", at), Event("shown", "popular-by-interest", at))
    asyncio.run(store.record(VISITOR, [Event("purchase", "kibble", at, {"order": "o1", "category": "dogs"})]))
    data = client.get("/.etalage/me.json", headers=cookies()).json()
    iso = "2026-12-03T08:27:31Z"
    assert data["dates"]["category_seen"] == {"dogs": iso} and data["dates"]["purchases"] == [iso]
    assert data["dates"]["impressions"] == {"popular-by-interest": [iso]} and data["why"][0]["last_shown"] == iso
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["dates"]["first_seen"])
    assert data["dates"]["previous_visit"] is None


def test_me_json_gives_the_date_of_the_consent_the_profile_holds(store, client):
    at = 1796286451.9  # 2026-12-03 08:27:31.9 UTC
    seed(store, VISITOR, Event("consent", "", at, {"granted": True, "sources": ["onetrust"], "purposes": ["onetrust:C0004"]}))
    assert client.get("/.etalage/me.json", headers=cookies()).json()["dates"]["consent"] == "2026-12-03T08:27:31Z"


def test_me_json_reads_every_sec_gpc_header_as_the_proxy_does(store, client):
    # A second Sec-GPC must not hide the first: the proxy refused the visitor, this page showed the profile.
    seed(store)
    headers = httpx.Headers([*cookies().items(), ("sec-gpc", "0"), ("sec-gpc", "1")])
    data = client.get("/.etalage/me.json", headers=headers).json()
    assert data["profile"] is None and data["consent"]["granted"] is False


def test_me_page_tells_a_global_privacy_control_browser_where_its_choice_is(store, client):
    # Allowing personalization in the cookie banner cannot work while the browser sends Sec-GPC: 1.
    page = client.get("/.etalage/me", headers={**cookies(), "sec-gpc": "1"}).text
    assert "switch Global Privacy Control off" in page and "cookie banner (often" not in page


def test_me_json_without_consent_has_no_profile(store, client):
    seed(store)
    data = client.get("/.etalage/me.json", headers=cookies(consent=None)).json()
    assert data["profile"] is None and data["consent"]["granted"] is False


@pytest.mark.parametrize("path", ["/.etalage/me/export", "/.etalage/me.json?download=1", "/.etalage/me?download=1"])
def test_me_export_is_a_json_attachment(store, client, path):
    seed(store)
    response = client.get(path, headers=cookies())
    assert response.headers["content-disposition"] == 'attachment; filename="etalage-profile.json"'
    assert orjson.loads(response.content)["profile"]["visits"] == 1


# --- changing ----------------------------------------------------------------------------------


def test_me_add_interest_records_an_interest(store, client):
    seed(store)
    response = client.post(
        "/.etalage/me/interests", data={"csrf": token_from_page(client), "category": "fish", "action": "add"}, headers=cookies()
    )
    assert response.status_code == 303 and stored(store).interests == {"fish"}


def test_me_remove_interest_records_its_removal(store, client):
    seed(store, VISITOR, Event("interest", "fish", time.time()))
    client.post("/.etalage/me/interests", data={"csrf": token_from_page(client), "category": "fish", "action": "remove"}, headers=cookies())
    assert stored(store).interests == set()


def test_me_exclude_category_records_an_exclusion(store, client):
    seed(store)
    client.post("/.etalage/me/exclusions", data={"csrf": token_from_page(client), "category": "dogs", "action": "add"}, headers=cookies())
    assert stored(store).exclusions == {"dogs"}


def test_me_include_category_again_removes_the_exclusion(store, client):
    seed(store, VISITOR, Event("exclusion", "dogs", time.time()))
    client.post(
        "/.etalage/me/exclusions", data={"csrf": token_from_page(client), "category": "dogs", "action": "remove"}, headers=cookies()
    )
    assert stored(store).exclusions == set()


def test_me_not_for_me_records_a_dismiss(store, client):
    seed(store)
    client.post(
        "/.etalage/me/not-for-me", data={"csrf": token_from_page(client), "rule": "hero-by-interest", "category": "dogs"}, headers=cookies()
    )
    profile = stored(store)
    assert profile.dismissed == {"hero-by-interest:dogs"}


def test_me_not_for_me_keeps_the_view_history(store, client):
    seed(store)
    client.post(
        "/.etalage/me/not-for-me", data={"csrf": token_from_page(client), "rule": "hero-by-interest", "category": "dogs"}, headers=cookies()
    )
    assert stored(store).category_views == {"dogs": 6}


def test_me_not_for_me_goes_back_to_a_same_site_path(store, client):
    seed(store)
    form = {"csrf": token_from_page(client), "rule": "hero-by-interest", "category": "dogs", "return_to": "/c/dogs?page=2"}
    assert client.post("/.etalage/me/not-for-me", data=form, headers=cookies()).headers["location"] == "/c/dogs?page=2"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1"]
)
def test_me_return_to_elsewhere_falls_back_to_the_page(store, client, target):
    seed(store)
    form = {"csrf": token_from_page(client), "rule": "hero-by-interest", "category": "dogs", "return_to": target}
    assert client.post("/.etalage/me/not-for-me", data=form, headers=cookies()).headers["location"].startswith("/.etalage/me?")


def test_me_not_for_me_link_shows_a_confirmation_form(store, client):
    seed(store)
    store.calls.clear()
    page = client.get("/.etalage/me/not-for-me?rule=hero-by-interest&category=dogs&return_to=/", headers=cookies()).text
    assert 'action="/.etalage/me/not-for-me"' in page and 'name="return_to" value="/"' in page and store.calls == []


def test_me_undo_not_for_me_shows_the_suggestion_again(store, client):
    seed(store, VISITOR, Event("dismiss", "hero-by-interest:dogs", time.time()))
    form = {"csrf": token_from_page(client), "rule": "hero-by-interest", "category": "dogs", "action": "undo"}
    client.post("/.etalage/me/not-for-me", data=form, headers=cookies())
    assert stored(store).dismissed == set()


def test_me_forget_asks_first_and_erases_nothing_until_confirmed(store, client):
    # It cannot be undone: the page's button erased at one tap.
    seed(store)
    response = client.post("/.etalage/me/forget", data={"csrf": token_from_page(client)}, headers=cookies())
    assert response.status_code == 200 and "Yes, forget me" in response.text and stored(store) is not None


def test_me_forget_erases_the_profile(store, client):
    seed(store)
    client.post("/.etalage/me/forget", data={"csrf": token_from_page(client), "confirm": "yes"}, headers=cookies())
    assert stored(store) is None


def test_me_forget_expires_the_cookie(store, client):
    seed(store)
    response = client.post("/.etalage/me/forget", data={"csrf": token_from_page(client), "confirm": "yes"}, headers=cookies())
    assert response.headers["set-cookie"].startswith("etalage_vid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")


def test_me_change_from_a_tab_opened_before_forget_recreates_no_profile(store, client):
    seed(store)
    token = token_from_page(client)
    client.post("/.etalage/me/forget", data={"csrf": token, "confirm": "yes"}, headers=cookies())
    response = client.post("/.etalage/me/interests", data={"csrf": token, "category": "fish"}, headers=cookies())
    assert response.status_code == 409 and stored(store) is None


def test_me_forget_confirms_on_the_page_it_redirects_to(store, client):
    seed(store)
    location = client.post("/.etalage/me/forget", data={"csrf": token_from_page(client), "confirm": "yes"}, headers=cookies()).headers[
        "location"
    ]
    assert "Everything is erased" in client.get(location, headers=cookies(visitor_id=None)).text


# --- refusals ----------------------------------------------------------------------------------


def test_me_post_without_a_token_is_forbidden(store, client):
    seed(store)
    response = client.post("/.etalage/me/interests", data={"category": "fish"}, headers=cookies())
    assert response.status_code == 403 and stored(store).interests == set()


def test_me_post_with_another_visitors_token_is_forbidden(store, client):
    seed(store)
    token = CsrfSigner(SECRET).token(OTHER_VISITOR)
    assert client.post("/.etalage/me/interests", data={"csrf": token, "category": "fish"}, headers=cookies()).status_code == 403


def test_me_post_with_a_non_ascii_token_is_forbidden(store, client):
    seed(store)
    token = token_from_page(client)
    assert client.post("/.etalage/me/interests", data={"csrf": token + "é", "category": "fish"}, headers=cookies()).status_code == 403


def test_me_post_from_another_origin_is_forbidden(store, client):
    seed(store)
    headers = {**cookies(), "origin": "https://evil.example"}
    response = client.post("/.etalage/me/interests", data={"csrf": token_from_page(client), "category": "fish"}, headers=headers)
    assert response.status_code == 403 and stored(store).interests == set()


def test_me_post_with_a_cross_site_referer_is_forbidden(store, client):
    seed(store)
    headers = {**cookies(), "referer": "https://evil.example/page"}
    assert client.post("/.etalage/me/forget", data={"csrf": token_from_page(client), "confirm": "yes"}, headers=headers).status_code == 403


def test_me_post_from_the_same_origin_is_allowed(store, client):
    seed(store)
    headers = {**cookies(), "origin": str(client.base_url).rstrip("/"), "sec-fetch-site": "same-origin"}
    assert (
        client.post("/.etalage/me/interests", data={"csrf": token_from_page(client), "category": "fish"}, headers=headers).status_code
        == 303
    )


def test_me_post_without_consent_is_forbidden_and_records_nothing(store, client):
    seed(store)
    token = token_from_page(client)
    store.calls.clear()
    response = client.post("/.etalage/me/interests", data={"csrf": token, "category": "fish"}, headers=cookies(consent=None))
    assert response.status_code == 403 and store.calls == []


def test_me_unknown_category_is_a_400_and_records_nothing(store, client):
    seed(store)
    token = token_from_page(client)
    store.calls.clear()
    response = client.post("/.etalage/me/exclusions", data={"csrf": token, "category": "unicorns"}, headers=cookies())
    assert response.status_code == 400 and store.calls == []


def test_me_unknown_rule_is_a_400_and_records_nothing(store, client):
    seed(store)
    token = token_from_page(client)
    store.calls.clear()
    response = client.post("/.etalage/me/not-for-me", data={"csrf": token, "rule": "no-such-rule", "category": "dogs"}, headers=cookies())
    assert response.status_code == 400 and store.calls == []


def test_me_oversized_form_is_refused(store, client):
    seed(store)
    form = {"csrf": token_from_page(client), "category": "fish", "padding": "x" * FORM_LIMIT}
    assert client.post("/.etalage/me/interests", data=form, headers=cookies()).status_code == 413


def test_me_category_labels_are_escaped(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(PROXY_RULES, rules)
    site = rules / "site.toml"
    site.write_text(site.read_text().replace('dogs = "Dogs"', f"dogs = '{XSS}'"))
    store = MemoryStore(retention=3600)
    seed(store)
    with client_for(store, rules) as client:
        page = client.get("/.etalage/me", headers=cookies()).text
    assert "<script>" not in page and "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_me_store_error_gives_a_friendly_503():
    with client_for(BrokenStore()) as client:
        response = client.get("/.etalage/me", headers=cookies())
    assert (
        response.status_code == 503
        and "try again" in response.text
        and "internal-cache" not in response.text
        and "Traceback" not in response.text
    )


@pytest.mark.parametrize(
    "request_",
    [
        ("GET", "/.etalage/me", {}),
        ("GET", "/.etalage/me.json", {}),
        ("POST", "/.etalage/me/interests", {"category": "fish"}),
    ],
    ids=["page", "json", "refused-post"],
)
def test_me_responses_carry_security_headers(store, client, request_):
    method, path, form = request_
    seed(store)
    headers = client.request(method, path, data=form or None, headers=cookies()).headers
    assert headers["cache-control"] == "private, no-store"
    assert (
        headers["x-content-type-options"] == "nosniff"
        and headers["x-frame-options"] == "DENY"
        and headers["referrer-policy"] == "same-origin"
    )
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "form-action 'self'" in policy and "frame-ancestors 'none'" in policy


def test_me_csp_allows_the_pages_own_style_and_nothing_else(client):
    response = client.get("/.etalage/me")
    style = re.search(r"<style>(.*?)</style>", response.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}';" in response.headers["content-security-policy"] and "<script" not in response.text


def test_me_rule_set_is_read_on_every_request(store):
    seed(store)
    current = [load_rules(PROJECT_RULES)]
    with client_for(store, rules=lambda: current[0]) as client:
        current[0] = load_rules(PROXY_RULES)
        assert "Fish</th>" not in client.get("/.etalage/me", headers=cookies()).text


# --- a customer who withdrew consent on another device ------------------------------------------


def refused_elsewhere(store: MemoryStore) -> None:
    """VISITOR is linked to customer C-1, who withdrew consent on another device (OTHER_VISITOR)."""
    asyncio.run(store.record_customer("C-1", [Event("category_view", "dogs", time.time())]))
    asyncio.run(store.link(VISITOR, "C-1"))
    asyncio.run(store.link(OTHER_VISITOR, "C-1"))
    asyncio.run(store.withdraw(OTHER_VISITOR, Event("consent", "", time.time(), {"granted": False}), erase_customer=False))


def test_me_customer_who_withdrew_on_another_device_is_not_shown(store, client):
    refused_elsewhere(store)
    assert client.get("/.etalage/me.json", headers=cookies()).json()["stored"] is False


def test_me_customer_who_withdrew_on_another_device_cannot_be_changed(store, client):
    refused_elsewhere(store)
    form = {"csrf": CsrfSigner(SECRET).token(VISITOR), "category": "fish", "action": "add"}  # a page opened before the withdrawal
    response = client.post("/.etalage/me/interests", data=form, headers=cookies())
    assert response.status_code == 409 and asyncio.run(store.load_customer("C-1")).interests == set()
