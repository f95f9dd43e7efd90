"""Experiments and the programme holdout through Etalage in front of the demo shop (the project's rules:
the hero-banner experiment and a 5% holdout), with experiments on and visitor ids chosen for their draw."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.app import Etalage, create_app
from etalage.profiles.memory import MemoryStore
from etalage.rules.bucketing import position
from etalage.rules.experiments import HOLDOUT_SEED
from etalage.rules.loader import load_rules
from etalage.tokens import VisitorSigner
from tests.support.config import PROJECT_RULES, SECRET, settings_for
from tests.support.servers import Served

RULES = load_rules(PROJECT_RULES)
HERO = next(experiment for experiment in RULES.experiments if experiment.id == "hero-banner")
EMAIL = "sanne@example.nl"


def visitor(variant: str | None, *, held_out: bool = False, skip: int = 0) -> str:
    """A visitor id (22 characters, as Etalage issues them) in `variant` of the hero banner, or in the holdout."""
    found = (
        unit
        for unit in (f"{n:022d}" for n in range(100_000))
        if (position(HOLDOUT_SEED, unit) < RULES.site.holdout) == held_out and (held_out or HERO.draw(unit).id == variant)
    )
    for _ in range(skip):
        next(found)
    return next(found)


@pytest.fixture
def app(shop: str) -> Etalage:
    return create_app(settings_for(shop, experiments=True), store=MemoryStore(retention=3600))


@contextlib.contextmanager
def device(served: Served, visitor_id: str) -> Iterator[httpx.Client]:
    """A browser that accepted the shop's consent banner and holds the cookie of `visitor_id`."""
    with httpx.Client(base_url=served.url) as client:
        client.post("/consent", data={"choice": "accept"})
        # On the host the server's own Set-Cookie names, so its renewals replace this cookie rather than add one.
        client.cookies.set("etalage_vid", VisitorSigner(SECRET).sign(visitor_id), domain=httpx.URL(served.url).host)
        yield client


def hero_rule(client: httpx.Client) -> str | None:
    return LexborHTMLParser(client.get("/").content).css_first("#hero").attributes.get("data-etalage-rule")


def test_experiments_journey_a_visitor_sees_their_variant_and_their_page_says_so(served, drain):
    with device(served, visitor("one-template")) as browser:
        browser.get("/c/rodents")
        drain()
        assert hero_rule(browser) == "hero-one-template"
        drain()
        (line,) = browser.get("/.etalage/me.json").json()["experiments"]
        page = browser.get("/.etalage/me").text
    assert (line["experiment"], line["variant"], line["status"]) == ("hero-banner", "one-template", "running")
    assert line["exposed_at"] is not None and "shows you group &#39;one-template&#39;" in page


def test_experiments_journey_the_control_without_its_rule_firing_is_assigned_but_not_exposed(served, drain):
    with device(served, visitor("per-category")) as browser:
        assert hero_rule(browser) is None  # no interest yet: the control's rule does not fire
        drain()
        (line,) = browser.get("/.etalage/me.json").json()["experiments"]
    assert (line["variant"], line["exposed_at"]) == ("per-category", None)


def test_experiments_journey_a_held_out_visitor_gets_the_shops_own_page(served, drain, shop):
    with device(served, visitor(None, held_out=True)) as browser:
        for _ in range(3):
            browser.get("/c/rodents")
        home = browser.get("/").content
        origin = httpx.get(f"{shop}/", cookies={"OptanonConsent": browser.cookies["OptanonConsent"]}).content
        drain()
        data = browser.get("/.etalage/me.json").json()
    assert home == origin
    assert data["holdout"]["in_holdout"] is True and data["experiments"] == []
    assert data["profile"]["category_views"] == {"rodents": 3}  # still learned from, to measure the programme


def test_experiments_journey_a_customer_keeps_their_variant_on_a_second_device(served, drain):
    with device(served, visitor("one-template")) as laptop, device(served, visitor("none", skip=1)) as phone:
        laptop.get("/c/rodents")
        laptop.get("/")
        laptop.post("/login", data={"email": EMAIL})
        drain()
        phone.get("/")  # assigned 'none' on the phone, before logging in
        drain()
        phone.post("/login", data={"email": EMAIL})
        drain()
        assert hero_rule(phone) == "hero-one-template"
        (line,) = phone.get("/.etalage/me.json").json()["experiments"]
    assert line["variant"] == "one-template"


def test_experiments_journey_nothing_is_assigned_without_consent(served, drain):
    with httpx.Client(base_url=served.url) as browser:
        browser.cookies.set("etalage_vid", VisitorSigner(SECRET).sign(visitor("one-template")), domain=httpx.URL(served.url).host)
        home = browser.get("/")
        drain()
        data = browser.get("/.etalage/me.json").json()
    assert LexborHTMLParser(home.content).css_first("#hero").attributes.get("data-etalage-rule") is None
    assert home.headers.get_list("set-cookie") == ["etalage_vid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"]
    assert (data["stored"], data["experiments"], data["holdout"]) == (False, [], None)


def test_experiments_journey_goals_after_the_exposure_count_for_the_variant(served, drain):
    with device(served, visitor("one-template")) as browser:
        browser.get("/p/rodent-hamster-wheel-20")  # before any exposure: no conversion
        drain()
        assert hero_rule(browser) == "hero-one-template"
        drain()
        browser.get("/p/rodent-hamster-wheel-20")
        browser.post("/checkout", data={"product": "rodent-hamster-wheel-20"}, follow_redirects=True)
        drain()
        (line,) = browser.get("/.etalage/me.json").json()["experiments"]
    assert {goal: reached["count"] for goal, reached in line["goals"].items()} == {"product-view": 1, "checkout": 1, "order": 1}


def test_experiments_journey_metrics_count_assignment_exposure_and_conversions(app, served, drain):
    with device(served, visitor("one-template")) as browser:
        for path in ("/c/rodents", "/", "/p/rodent-hamster-wheel-20"):
            browser.get(path)
            drain()  # each view's profile write lands before the next view reads the profile
    labels = {"experiment": "hero-banner", "variant": "one-template"}
    counts = [
        app.metrics.value("etalage_experiment_assignments_total", **labels),
        app.metrics.value("etalage_experiment_exposures_total", **labels),
        app.metrics.value("etalage_experiment_conversions_total", **labels, goal="product-view"),
    ]
    assert counts == [1, 1, 1]
