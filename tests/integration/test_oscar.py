"""A stock Django Oscar shop (examples/oscar, django-oscar from PyPI) behind Etalage, with the rules of
examples/oscar/rules: what a shop that runs Oscar gets, through Oscar's own pages and forms.

The shop runs with gunicorn on a throwaway copy of the database `examples/oscar/setup` made, and tells
Etalage of logins, logouts and orders through its API (examples/oscar/etalage_link). Each test is one
visitor's journey with browsers of its own (httpx clients keeping cookies), and a customer of its own.
"""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from etalage.app import Etalage, create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Profile
from etalage.rules.loader import load_rules
from etalage.tokens import VisitorSigner
from etalage.tools.products.command import import_products
from tests.support.config import SECRET, settings_for
from tests.support.oscar import OSCAR, copy_database, manage, oscar_state, running_oscar
from tests.support.servers import Served, serving

API_KEY = "oscar-backend-key"
# The customer examples/oscar/setup loads (petshop/management/commands/load_petshop.py).
EXAMPLE_CUSTOMER = "rodent.fan@example.com"
PASSWORD = "petshop-example"
CONSENT = {"etalage_consent": "personalization=1"}
SIGNER = VisitorSigner(SECRET)
RULE = "more-of-your-favourite"
# Oscar's first request loads Django and Oscar in the worker: give it time, once.
TIMEOUT = 60.0
CARD_LINK = re.compile(r'<article class="product_pod">.*?<a href="(/catalogue/[^"]+_\d+/)"', re.S)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Shop:
    etalage: Served  # in front of Oscar
    app: Etalage
    store: MemoryStore
    rules: Path
    database: Path

    @property
    def url(self) -> str:
        return self.etalage.url

    def browser(self, consent: bool = True) -> httpx.Client:
        """A browser: keeps cookies, sends Origin on its forms as browsers do (Django's CSRF check
        compares it with the Host Etalage forwards)."""
        return httpx.Client(base_url=self.url, cookies=CONSENT if consent else None, headers={"Origin": self.url}, timeout=TIMEOUT)

    def profile_of(self, browser: httpx.Client) -> Profile | None:
        visitor = SIGNER.verify(browser.cookies["etalage_vid"]).visitor_id
        return self.etalage.run(self._drained(self.store.load(visitor)))

    def profile_of_customer(self, customer: str) -> Profile | None:
        return self.etalage.run(self._drained(self.store.load_customer(customer)))

    async def _drained(self, read: Coroutine[Any, Any, Profile | None]) -> Profile | None:
        """`read`, on Etalage's loop once the profile writes it left to the background are done (a page's
        views and impressions are written after its answer)."""
        await self.app.proxy.drain()
        return await read

    def customer_id(self, email: str) -> str:
        with sqlite3.connect(self.database) as db:
            (pk,) = db.execute("SELECT id FROM auth_user WHERE email = ?", (email,)).fetchone()
        return str(pk)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    state = oscar_state()
    work = tmp_path_factory.mktemp("oscar")
    database = copy_database(state, work)
    rules = Path(shutil.copytree(OSCAR / "rules", work / "rules"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    oscar = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # The catalogue as a shop makes it: Oscar's product feed, imported into the rules.
    feed = work / "products.tsv"
    feed.write_text(manage(state, database, "etalage_feed", "--base-url", oscar))
    assert import_products(feed, rules) == 0
    store = MemoryStore(retention=3600)
    settings = settings_for(oscar, rules, api_key=API_KEY, watch_rules=False, read_timeout=TIMEOUT)
    app = create_app(settings, store=store)
    with sock, serving(app) as etalage:
        with running_oscar(state, database, sock, ETALAGE_API_URL=etalage.url, ETALAGE_API_KEY=API_KEY):
            yield Shop(etalage, app, store, rules, database)


def csrf_token(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


def new_customer(shop: Shop) -> str:
    """A customer of the shop's own, as the setup's example customer is (same password): one per test, so
    no two tests share a profile. Copied in the database, since hashing a new password takes Django a second."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with sqlite3.connect(shop.database) as db:
        db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)"
            " SELECT password, 0, ?, '', '', ?, 0, 1, date_joined FROM auth_user WHERE email = ?",
            (email, email, EXAMPLE_CUSTOMER),
        )
    return email


def log_in(browser: httpx.Client, email: str) -> httpx.Response:
    """Oscar's login form, as a person fills it in: its page first (the CSRF token), then the post."""
    form = browser.get("/accounts/login/")
    answer = browser.post(
        "/accounts/login/",
        data={"csrfmiddlewaretoken": csrf_token(form), "login-username": email, "login-password": PASSWORD, "login_submit": "Log In"},
    )
    assert answer.status_code == 302 and answer.headers["location"] == "/accounts/profile/", answer.text[:500]
    return answer


def view_rodents(shop: Shop, browser: httpx.Client, times: int = 3) -> None:
    rodents = [product.path for product in load_rules(shop.rules).catalog.values() if product.category == "rodents" and product.path]
    for path in rodents[:times]:
        assert browser.get(path).status_code == 200


def cards(page: httpx.Response) -> list[str]:
    return CARD_LINK.findall(page.text)


def recommended(page: httpx.Response) -> list[str]:
    return re.findall(r'<article class="product_pod etalage-recommended"><h3 class="mt-3"><a href="([^"]+)"', page.text)


def category_of(shop: Shop, path: str) -> str:
    by_path = {product.path: product.category for product in load_rules(shop.rules).catalog.values()}
    return by_path[path]


def test_oscar_first_catalogue_page_shows_only_dogs_and_cats(shop):
    with shop.browser(consent=False) as browser:
        page = browser.get("/catalogue/")
    shown = cards(page)
    assert len(shown) == 20 and {category_of(shop, path) for path in shown} == {"dogs", "cats"}


def test_oscar_rodent_lover_sees_rodent_recommendations_on_the_first_catalogue_page(shop):
    with shop.browser() as browser:
        view_rodents(shop, browser)
        page = browser.get("/catalogue/")
    with shop.browser(consent=False) as stranger:
        original = stranger.get("/catalogue/")
    picks = recommended(page)
    assert len(picks) == 4 and {category_of(shop, path) for path in picks} == {"rodents"}
    # The shop's own cards stay, in the shop's order, after the recommendations.
    assert cards(page) == cards(original) and f'data-etalage-rule="{RULE}"' in page.text


def test_oscar_recommendations_are_measured_like_any_rule(shop):
    with shop.browser() as browser:
        view_rodents(shop, browser)
        assert len(recommended(browser.get("/catalogue/"))) == 4
        profile = shop.profile_of(browser)
    assert profile is not None and len(profile.impressions[RULE]) == 1


def test_oscar_the_catalogue_in_the_rules_is_the_shops_own(shop):
    assert load_rules(OSCAR / "rules").catalog == load_rules(shop.rules).catalog


def test_oscar_login_links_the_customer_s_devices(shop):
    email = new_customer(shop)
    with shop.browser() as laptop, shop.browser() as phone:
        view_rodents(shop, laptop)
        log_in(laptop, email)
        phone.get("/catalogue/")  # the phone has its own visitor cookie, and no interest yet
        log_in(phone, email)
        page = phone.get("/catalogue/")
        laptop_profile, phone_profile = shop.profile_of(laptop), shop.profile_of(phone)
    customer = shop.customer_id(email)
    assert laptop_profile is not None and phone_profile is not None
    assert laptop_profile.customer_id == phone_profile.customer_id == customer and phone_profile.category_views == {"rodents": 3}
    assert {category_of(shop, path) for path in recommended(page)} == {"rodents"}


def test_oscar_logout_unlinks_that_browser_only(shop):
    email = new_customer(shop)
    with shop.browser() as laptop, shop.browser() as library:
        view_rodents(shop, laptop)
        log_in(laptop, email)
        log_in(library, email)
        assert library.get("/accounts/logout/").status_code == 302
        page = library.get("/catalogue/")
        library_profile = shop.profile_of(library)
        still = laptop.get("/catalogue/")
    assert library_profile is None or library_profile.customer_id is None
    assert recommended(page) == [] and len(recommended(still)) == 4


def test_oscar_order_reaches_the_profile_with_its_value(shop):
    email = new_customer(shop)
    hay = next(pk for pk, product in load_rules(shop.rules).catalog.items() if product.title == "Meadow hay 1 kg")
    with shop.browser() as browser:
        log_in(browser, email)
        product_page = browser.get(load_rules(shop.rules).catalog[hay].path or "")
        assert (
            browser.post(f"/basket/add/{hay}/", data={"csrfmiddlewaretoken": csrf_token(product_page), "quantity": "2"}).status_code == 302
        )
        address = browser.get("/checkout/", follow_redirects=True)
        assert address.url.path == "/checkout/shipping-address/"
        fields = {
            "first_name": "Rita",
            "last_name": "Rodent",
            "line1": "1 Hay Lane",
            "line4": "London",
            "postcode": "SW1A 1AA",
            "country": "GB",
        }
        payment = browser.post(
            "/checkout/shipping-address/", data={"csrfmiddlewaretoken": csrf_token(address), **fields}, follow_redirects=True
        )
        assert payment.url.path == "/checkout/payment-details/"
        preview = browser.get("/checkout/preview/")
        placed = browser.post("/checkout/preview/", data={"csrfmiddlewaretoken": csrf_token(preview), "action": "place_order"})
        assert placed.headers["location"] == "/checkout/thank-you/"
    with sqlite3.connect(shop.database) as db:
        number, total, currency = db.execute(
            "SELECT o.number, o.total_incl_tax, o.currency FROM order_order o JOIN auth_user u ON u.id = o.user_id WHERE u.email = ?",
            (email,),
        ).fetchone()
    profile = shop.profile_of_customer(shop.customer_id(email))
    assert profile is not None
    assert [(order.order, order.value, order.currency) for order in profile.orders] == [(number, float(total), currency)]
    assert [(purchase.sku, purchase.category, purchase.quantity) for purchase in profile.purchases] == [(hay, "rodents", 2)]
