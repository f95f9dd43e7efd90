"""The personalizer's layout cache: kept for pages that come back, not for one-off bodies."""

import time

from etalage.conditions import Visit
from etalage.loader import load_rules
from etalage.metrics import Metrics
from etalage.personalize import Personalizer
from etalage.profile import Profile

from .conftest import PROXY_RULES
from .origin import HOME

RULES = load_rules(PROXY_RULES)


def visit() -> Visit:
    return Visit(Profile(category_views={"rodents": 2}), RULES.site, RULES.catalog, "/home", {}, None, "", time.time(), None)


def test_personalizer_keeps_no_layout_for_a_body_seen_once():
    personalizer = Personalizer(Metrics())
    personalizer.personalize(RULES, visit(), HOME, "text/html")
    assert len(personalizer._layouts) == 0


def test_personalizer_keeps_the_layout_of_a_body_that_comes_back():
    personalizer = Personalizer(Metrics())
    for _ in range(2):
        personalizer.personalize(RULES, visit(), HOME, "text/html")
    assert len(personalizer._layouts) == 1


def test_personalizer_gives_the_same_page_from_the_cache():
    personalizer = Personalizer(Metrics())
    first, second, third = (personalizer.personalize(RULES, visit(), HOME, "text/html") for _ in range(3))
    assert first.body == second.body == third.body
