"""The personalizer's layout cache: one analysis per distinct body of a page, reused where it still holds."""

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


def analysed(personalizer: Personalizer) -> tuple[int, int]:
    metrics = personalizer._metrics
    return metrics.value("etalage_layouts_total", source="analysed"), metrics.value("etalage_layouts_total", source="reused")


def test_personalizer_analyses_a_body_that_comes_back_once():
    personalizer = Personalizer(Metrics())
    for _ in range(3):
        personalizer.personalize(RULES, visit(), HOME, "text/html")
    assert analysed(personalizer) == (1, 0)


def test_personalizer_reuses_the_layout_when_only_a_token_differs():
    personalizer = Personalizer(Metrics())
    for token in (b"aaaa", b"bbbb", b"cccc"):
        personalizer.personalize(RULES, visit(), HOME.replace(b'href="/"', b'href="/?t=' + token + b'"'), "text/html")
    assert analysed(personalizer) == (1, 2)


def test_personalizer_analyses_a_body_whose_text_differs():
    personalizer = Personalizer(Metrics())
    for word in (b"bold", b"BOLD"):
        personalizer.personalize(RULES, visit(), HOME.replace(b"bold", word), "text/html")
    assert analysed(personalizer) == (2, 0)


def test_personalizer_keeps_a_few_bodies_per_page():
    personalizer = Personalizer(Metrics())
    for word in (b"bold", b"BOLD", b"bold", b"BOLD"):
        personalizer.personalize(RULES, visit(), HOME.replace(b"bold", word), "text/html")
    assert analysed(personalizer) == (2, 0)


def test_personalizer_caches_layouts_per_page():
    personalizer = Personalizer(Metrics())
    for path in ("/home", "/", "/home"):
        personalizer.personalize(RULES, Visit(Profile(category_views={"rodents": 2}), RULES.site, RULES.catalog, path, {}, None, "", time.time(), None), HOME, "text/html")
    assert analysed(personalizer) == (2, 0)


def test_personalizer_reused_layout_gives_the_page_a_fresh_analysis_gives():
    token_page = HOME.replace(b'href="/"', b'href="/?t=bbbb"')
    warm = Personalizer(Metrics())
    warm.personalize(RULES, visit(), HOME.replace(b'href="/"', b'href="/?t=aaaa"'), "text/html")
    reused = warm.personalize(RULES, visit(), token_page, "text/html")
    assert analysed(warm) == (1, 1)
    assert reused.body == Personalizer(Metrics()).personalize(RULES, visit(), token_page, "text/html").body


def test_personalizer_gives_the_same_page_from_the_cache():
    personalizer = Personalizer(Metrics())
    first, second, third = (personalizer.personalize(RULES, visit(), HOME, "text/html") for _ in range(3))
    assert first.body == second.body == third.body
