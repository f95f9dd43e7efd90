"""The pop-in's frequency caps, counted from impressions kept in the profile."""

import time

from etalage.html.page import analyse
from etalage.html.templates import compile_template
from etalage.profiles.profile import Event, Profile
from etalage.rules.actions.base import PageContext
from etalage.rules.actions.popin import Popin
from etalage.rules.model import Site

SITE = Site(("dogs",), {"dogs": "Dogs"})
PAGE = b"<!DOCTYPE html><html><body><p>x</p></body></html>"
TEMPLATE = compile_template("t.html", "<p>{{ category_label }}</p>", frozenset({"category", "category_label"}))


def fires(popin: Popin, profile: Profile, now: float) -> bool:
    page = PageContext(analyse(PAGE, []), profile, SITE, "utf-8", "/", now)
    return bool(popin.apply("popin", None, page))


def dog_lover(now: float, shown: list[float]) -> Profile:
    profile = Profile()
    profile.apply([Event("page_view", "/", now - 60)] + [Event("category_view", "dogs", now - 60)] * 3)
    profile.apply([Event("shown", "popin", at) for at in shown])
    return profile


def test_popin_without_caps_shows_every_time():
    now = time.time()
    assert fires(Popin(3, TEMPLATE), dog_lover(now, [now - 10] * 5), now)


def test_popin_cap_per_visit_counts_this_visit_only():
    now = time.time()
    popin = Popin(3, TEMPLATE, (("visit", 1),))
    assert not fires(popin, dog_lover(now, [now - 10]), now)
    assert fires(popin, dog_lover(now, [now - 3 * 3600]), now)


def test_popin_cap_per_day():
    now = time.time()
    popin = Popin(3, TEMPLATE, (("day", 2),))
    assert not fires(popin, dog_lover(now, [now - 3600, now - 7200]), now)
    assert fires(popin, dog_lover(now, [now - 3600, now - 2 * 86400]), now)


def test_popin_cap_per_week():
    now = time.time()
    popin = Popin(3, TEMPLATE, (("week", 1),))
    assert not fires(popin, dog_lover(now, [now - 3 * 86400]), now)
    assert fires(popin, dog_lover(now, [now - 8 * 86400]), now)


def test_popin_label_links_to_the_visitors_page():
    now = time.time()
    page = PageContext(analyse(PAGE, []), dog_lover(now, []), SITE, "utf-8", "/", now)
    (edit,) = Popin(3, TEMPLATE, (), "Recommended <for> you").apply("popin", None, page)
    assert b'<p class="etalage-label"><small>Recommended &lt;for&gt; you \xc2\xb7 <a href="/.etalage/me">why?</a></small></p>' in edit.data


def test_popin_without_a_label_stays_covert():
    now = time.time()
    page = PageContext(analyse(PAGE, []), dog_lover(now, []), SITE, "utf-8", "/", now)
    (edit,) = Popin(3, TEMPLATE).apply("popin", None, page)
    assert b"etalage-label" not in edit.data


def test_popin_why_stays_true_once_the_cap_is_reached():
    # The visitor's page said "a message the shop shows to some of its visitors" once the day's limit was reached.
    now = time.time()
    popin = Popin(3, TEMPLATE, (("day", 1),))
    assert popin.why("popin", dog_lover(now, [now - 10]), SITE, now) == "offers the Dogs newsletter, because you viewed Dogs 3 times"


def test_popin_why_stays_true_after_the_visitor_excludes_the_category():
    now = time.time()
    profile = dog_lover(now, [now - 10])
    profile.apply([Event("exclusion", "dogs", now)])
    assert popin_why(profile, now) == "offers the Dogs newsletter, because you viewed Dogs 3 times"


def popin_why(profile: Profile, now: float) -> str | None:
    return Popin(3, TEMPLATE).why("popin", profile, SITE, now)
