"""The personalizer's layout cache: one analysis per distinct body of a page, reused where it still holds."""

import asyncio
import dataclasses
import gc
import shutil
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from etalage.engine.personalize import Personalizer
from etalage.metrics import RECENT_MISSES, Metrics
from etalage.profiles.profile import Profile
from etalage.rules.conditions import Visit
from etalage.rules.loader import load_rules
from etalage.rules.ruleset import RuleSet
from tests.support.config import PROXY_RULES, RULESETS
from tests.support.origin import HOME
from tests.support.oscar_page import listing

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


def test_personalizer_reuses_the_layout_when_text_outside_blocks_differs():
    personalizer = Personalizer(Metrics())
    long_home = HOME.replace(b"<head>", b"<head><!--" + b"x" * 1100 + b"-->")  # lengths may change past 1 KB
    for word in (b"bold", b"BOLD", b"bolder"):
        personalizer.personalize(RULES, visit(), long_home.replace(b"bold", word), "text/html")
    assert analysed(personalizer) == (1, 2)


def test_personalizer_analyses_a_body_whose_markup_differs():
    personalizer = Personalizer(Metrics())
    for tag in (b"<b>", b"<i>"):
        personalizer.personalize(RULES, visit(), HOME.replace(b"<b>", tag), "text/html")
    assert analysed(personalizer) == (2, 0)


def test_personalizer_keeps_a_few_bodies_per_page():
    personalizer = Personalizer(Metrics())
    for tag in (b"<b>", b"<i>", b"<b>", b"<i>"):
        personalizer.personalize(RULES, visit(), HOME.replace(b"<b>", tag), "text/html")
    assert analysed(personalizer) == (2, 0)


def test_personalizer_caches_layouts_per_page():
    personalizer = Personalizer(Metrics())
    for path in ("/home", "/", "/home"):
        personalizer.personalize(
            RULES,
            Visit(Profile(category_views={"rodents": 2}), RULES.site, RULES.catalog, path, {}, None, "", time.time(), None),
            HOME,
            "text/html",
        )
    assert analysed(personalizer) == (2, 0)


def test_personalizer_reused_layout_gives_the_page_a_fresh_analysis_gives():
    token_page = HOME.replace(b'href="/"', b'href="/?t=bbbb"')
    warm = Personalizer(Metrics())
    warm.personalize(RULES, visit(), HOME.replace(b'href="/"', b'href="/?t=aaaa"'), "text/html")
    reused = warm.personalize(RULES, visit(), token_page, "text/html")
    assert analysed(warm) == (1, 1)
    assert reused.body == Personalizer(Metrics()).personalize(RULES, visit(), token_page, "text/html").body


OSCAR_RULES = load_rules(RULESETS / "good" / "oscar")


def oscar_visit() -> Visit:
    profile = Profile(category_views={"games": 3, "clothing": 1})
    return Visit(profile, OSCAR_RULES.site, OSCAR_RULES.catalog, "/catalogue/", {}, None, "", time.time(), None)


def test_personalizer_reuses_the_layout_of_a_listing_with_a_fresh_token_in_every_card():
    personalizer = Personalizer(Metrics())
    for seed in range(3):
        personalizer.personalize(OSCAR_RULES, oscar_visit(), listing(seed, created=f"3rd Dec 2026 09:2{seed}"), "text/html")
    assert analysed(personalizer) == (1, 2)


def test_personalizer_reused_listing_gives_the_page_a_fresh_analysis_gives():
    # Sorted cards, a banner and recommendations after the cards: each from the second body, with
    # its own tokens, byte for byte as if that body had been analysed.
    warm = Personalizer(Metrics())
    warm.personalize(OSCAR_RULES, oscar_visit(), listing(1), "text/html")
    second = listing(2, created="3rd Dec 2026 09:21", promotions="Free shipping today")
    reused = warm.personalize(OSCAR_RULES, oscar_visit(), second, "text/html")
    assert analysed(warm) == (1, 1)
    fresh = Personalizer(Metrics()).personalize(OSCAR_RULES, oscar_visit(), second, "text/html")
    assert reused is not None and fresh is not None
    assert set(reused.fired) == {"banner", "sort", "more-games"}
    assert reused.body == fresh.body


def test_personalizer_reused_listing_hides_excluded_cards_with_the_new_body_s_bytes(tmp_path):
    rules_dir = tmp_path / "oscar"
    shutil.copytree(RULESETS / "good" / "oscar", rules_dir)
    rules_file = rules_dir / "rules.toml"
    rules_file.write_text(
        rules_file.read_text().replace('action = "sort"\nblock = "listing"', 'action = "sort"\nblock = "listing"\nexcluded = "hide"')
    )
    rules = load_rules(rules_dir)
    profile = Profile(category_views={"games": 3}, exclusions={"books"})
    view = Visit(profile, rules.site, rules.catalog, "/catalogue/", {}, None, "", time.time(), None)
    warm = Personalizer(Metrics())
    warm.personalize(rules, view, listing(1), "text/html")
    reused = warm.personalize(rules, view, listing(2), "text/html")
    assert analysed(warm) == (1, 1)
    assert reused is not None and b"/basket/add/1/" not in reused.body  # product 1 is a book
    assert reused.body == Personalizer(Metrics()).personalize(rules, view, listing(2), "text/html").body


def test_personalizer_reads_a_card_value_that_changed_from_the_new_body():
    # Card 1's basket form names product 3 (games) in the second body: its category is that of
    # the new body, so the card the visitor likes most leads the sorted list.
    warm = Personalizer(Metrics())
    warm.personalize(OSCAR_RULES, oscar_visit(), listing(1), "text/html")
    second = listing(1).replace(b'action="/basket/add/1/"', b'action="/basket/add/3/"')
    sorted_page = warm.personalize(OSCAR_RULES, oscar_visit(), second, "text/html")
    assert sorted_page is not None
    assert sorted_page.body == Personalizer(Metrics()).personalize(OSCAR_RULES, oscar_visit(), second, "text/html").body
    cards = LexborHTMLParser(sorted_page.body).css("ol.row > li form")
    assert cards[0].attributes["action"] == "/basket/add/3/"


def test_personalizer_analyses_a_listing_whose_token_sits_in_what_a_card_value_reads():
    # Magento-style: the per-view key inside the basket URL that names the product. Its card values
    # are read again by an analysis, never taken from the last body's.
    personalizer = Personalizer(Metrics())
    bodies = [listing(1).replace(b'/basket/add/1/"', b"/basket/add/1/?form_key=" + key + b'"') for key in (b"aaaa", b"bbbb")]
    pages = [personalizer.personalize(OSCAR_RULES, oscar_visit(), body, "text/html") for body in bodies]
    assert analysed(personalizer) == (2, 0)
    assert (
        pages[1] is not None
        and pages[1].body == Personalizer(Metrics()).personalize(OSCAR_RULES, oscar_visit(), bodies[1], "text/html").body
    )


def test_personalizer_gives_the_same_page_from_the_cache():
    personalizer = Personalizer(Metrics())
    first, second, third = (personalizer.personalize(RULES, visit(), HOME, "text/html") for _ in range(3))
    assert first.body == second.body == third.body


def test_personalizer_skips_an_insertion_beside_a_block_another_rule_replaced(tmp_path):
    # The hero's heading is its first child: "before the heading" is the start of the hero's
    # content, which the banner replaces. Inserted anyway, it would sit inside the new banner.
    shutil.copy(PROXY_RULES / "site.toml", tmp_path / "site.toml")
    (tmp_path / "site.toml").write_text((tmp_path / "site.toml").read_text() + '\n[blocks.heading]\nselector = "#hero h1"\n')
    (tmp_path / "banner.html").write_text("<h2>For everyone</h2>")
    (tmp_path / "note.html").write_text("<p>Note</p>")
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "banner"\naction = "banner"\nblock = "hero"\ntemplate = "banner.html"\npriority = 2\n'
        '[[rule]]\nid = "note"\naction = "insert"\nblock = "heading"\nposition = "before"\ntemplate = "note.html"\npriority = 1\n'
    )
    rules = load_rules(tmp_path)
    outcomes: list = []
    result = Personalizer(Metrics()).personalize(rules, visit(), HOME, "text/html", outcomes)
    assert result.fired == ("banner",)
    assert b"<p>Note</p>" not in result.body
    assert [o.reason for o in outcomes if o.rule == "note"] == ["its block overlaps one that another rule already changed"]


def test_personalizer_changes_an_element_once_when_two_block_names_find_it(tmp_path):
    # Two selectors for one carousel: a sort and a label on each name wrote data-etalage-rule twice on it.
    shutil.copy(PROXY_RULES / "site.toml", tmp_path / "site.toml")
    (tmp_path / "site.toml").write_text((tmp_path / "site.toml").read_text() + '\n[blocks.alias]\nselector = "#hero"\n')
    (tmp_path / "banner.html").write_text("<h2>For everyone</h2>")
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "banner"\naction = "banner"\nblock = "hero"\ntemplate = "banner.html"\npriority = 2\n'
        '[[rule]]\nid = "hide"\naction = "hide"\nblock = "alias"\npriority = 1\n'
    )
    outcomes: list = []
    result = Personalizer(Metrics()).personalize(load_rules(tmp_path), visit(), HOME, "text/html", outcomes)
    assert result.fired == ("banner",) and result.body.count(b"data-etalage-rule") == 1
    assert [o.reason for o in outcomes if o.rule == "hide"] == [
        "'alias' is the element rule 'banner' already changed, under another block name"
    ]


def test_personalizer_keeps_a_sort_label_next_to_its_list_after_an_insertion_behind_the_block_before(tmp_path):
    shutil.copy(PROXY_RULES / "site.toml", tmp_path / "site.toml")
    (tmp_path / "after.html").write_text("<p>After the hero</p>")
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "sort"\naction = "sort"\nblock = "popular"\nlabel = "Sorted for you"\npriority = 2\n'
        '[[rule]]\nid = "after"\naction = "insert"\nblock = "hero"\nposition = "after"\ntemplate = "after.html"\npriority = 1\n'
    )
    adjacent = HOME.replace(b"</section>\n<ul", b"</section><ul")  # the list starts where the hero ends
    result = Personalizer(Metrics()).personalize(load_rules(tmp_path), visit(), adjacent, "text/html")
    assert result.fired == ("sort", "after")
    assert b'</section><p>After the hero</p><p class="etalage-label">' in result.body


def visit_at(query: dict[str, list[str]]) -> Visit:
    return Visit(Profile(category_views={"rodents": 2}), RULES.site, RULES.catalog, "/home", query, None, "", time.time(), None)


def test_personalizer_keeps_the_bodies_of_each_address_of_a_page():
    # A long paged list: more distinct bodies than a page keeps, each found again at its own address.
    personalizer = Personalizer(Metrics())
    for _ in range(2):
        for number in range(1, 7):
            personalizer.personalize(
                RULES, visit_at({"page": [str(number)]}), HOME.replace(b"<b>", b"<i></i>" * number + b"<b>"), "text/html"
            )
    assert analysed(personalizer) == (6, 0)


def test_personalizer_finds_a_known_page_at_a_new_address():
    personalizer = Personalizer(Metrics())
    personalizer.personalize(RULES, visit(), HOME, "text/html")
    personalizer.personalize(RULES, visit_at({"utm_source": ["mail"]}), HOME, "text/html")
    assert analysed(personalizer) == (1, 0)


def retained_bytes(work: Callable[[], None]) -> int:
    """Memory still allocated after `work` (what it left behind, e.g. in a cache)."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_personalizer_cache_bound_counts_long_addresses():
    personalizer = Personalizer(Metrics(), layout_cache_bytes=1 << 20)
    personalizer.personalize(RULES, visit(), HOME, "text/html")

    def long_addresses() -> None:
        for index in range(200):
            long_visit = dataclasses.replace(visit(), path=f"/p{index}/" + "x" * 60_000, query={"q": ["y" * 10_000]})
            personalizer.personalize(RULES, long_visit, HOME, "text/html")

    # 200 addresses of 70 KB: 14 MB when the cache keeps them in its keys.
    assert retained_bytes(long_addresses) < 3 << 20


NESTED = HOME.replace(b"<body>\n", b"<body>\n" + b"<div>" * 100_000 + b"</div>" * 100_000)  # issue 13: 93 s of analysis


def test_personalizer_fails_open_on_a_page_too_complex_and_counts_it():
    personalizer = Personalizer(Metrics())
    outcomes: list = []
    assert personalizer.personalize(RULES, visit(), NESTED, "text/html") is None
    assert personalizer.personalize(RULES, visit(), NESTED, "text/html", outcomes) is None
    assert analysed(personalizer) == (1, 0)  # refused once, the refusal cached like a layout
    assert personalizer._metrics.value("etalage_fail_open_total", reason="page_too_complex") == 2
    assert {o.reason for o in outcomes} == {"page not analysed (page too complex: 100016 start tags (limit 30000))"}


def test_personalizer_limits_are_its_own():
    personalizer = Personalizer(Metrics(), max_elements=10)
    assert personalizer.personalize(RULES, visit(), HOME, "text/html") is None
    assert personalizer._metrics.value("etalage_fail_open_total", reason="page_too_complex") == 1


def test_personalizer_async_takes_a_first_look_in_a_worker_thread(monkeypatch):
    from etalage.engine import personalize as personalize_module

    threads = []
    real = personalize_module.analyse
    monkeypatch.setattr(personalize_module, "analyse", lambda *a, **k: threads.append(threading.current_thread()) or real(*a, **k))
    personalizer = Personalizer(Metrics())

    async def views() -> list:
        pages = [HOME.replace(b'href="/"', b'href="/?t=' + token + b'"') for token in (b"aaaa", b"aaaa", b"bbbb")]
        return [await personalizer.personalize_async(RULES, visit(), page, "text/html") for page in pages]

    try:
        first, again, token = asyncio.run(views())
    finally:
        personalizer.close()
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert analysed(personalizer) == (1, 1)  # the token page reused the layout
    expected = Personalizer(Metrics()).personalize(RULES, visit(), HOME.replace(b'href="/"', b'href="/?t=aaaa"'), "text/html")
    assert first.body == again.body == expected.body and token.fired == expected.fired


def test_personalizer_async_shares_a_first_look_between_visitors_who_ask_at_once(monkeypatch):
    from etalage.engine import personalize as personalize_module

    calls = []
    real = personalize_module.analyse
    monkeypatch.setattr(personalize_module, "analyse", lambda *a, **k: calls.append(a) or real(*a, **k))
    personalizer = Personalizer(Metrics())

    async def views() -> list:
        # Both coroutines start before the worker's answer can come back: the second finds the first's look under way.
        return await asyncio.gather(*(personalizer.personalize_async(RULES, visit(), HOME, "text/html") for _ in range(3)))

    try:
        results = asyncio.run(views())
    finally:
        personalizer.close()
    assert len(calls) == 1 and analysed(personalizer) == (1, 0)
    assert len({result.body for result in results}) == 1 and personalizer._first_looks == {}


def test_personalizer_async_fails_open_past_the_first_look_timeout_and_keeps_looking(monkeypatch):
    from etalage.engine import personalize as personalize_module

    release = threading.Event()
    real = personalize_module.analyse
    # Held until the first view is answered (30 s only bound a regression, which would wait for it).
    monkeypatch.setattr(personalize_module, "analyse", lambda *a, **k: (release.wait(30), real(*a, **k))[1])
    personalizer = Personalizer(Metrics(), first_look_timeout=0.001)

    async def views() -> tuple:
        try:
            first = await personalizer.personalize_async(RULES, visit(), HOME, "text/html")  # the analysis is held: past the timeout
        finally:
            release.set()
        await asyncio.gather(*(task for looks in personalizer._first_looks.values() for _, task in looks))
        return first, await personalizer.personalize_async(RULES, visit(), HOME, "text/html")

    try:
        first, second = asyncio.run(views())
    finally:
        personalizer.close()
    assert first is None and personalizer._metrics.value("etalage_fail_open_total", reason="analysis_timeout") == 1
    assert second is not None and analysed(personalizer) == (1, 0)  # the look went on and serves the next visitor


def test_personalizer_counts_a_missing_block_by_reason_and_keeps_its_page():
    personalizer = Personalizer(Metrics())
    without_hero = HOME.replace(b'id="hero"', b'id="elsewhere"')
    for _ in range(2):  # counted once per analysis, not per page view
        personalizer.personalize(RULES, visit(), without_hero, "text/html")
    metrics = personalizer._metrics
    assert metrics.value("etalage_blocks_missed_total", block="hero", reason="not_found") == 1
    assert 'etalage_blocks_missed_total{block="hero",reason="not_found"} 1.0' in metrics.render().decode()
    (miss,) = metrics.recent_misses()
    assert (miss.block, miss.reason, miss.path, miss.detail) == ("hero", "not_found", "/home", "hero: selector matched nothing")


def test_personalizer_keeps_only_the_last_few_block_misses():
    personalizer = Personalizer(Metrics())
    without_hero = HOME.replace(b'id="hero"', b'id="elsewhere"')
    for n in range(RECENT_MISSES + 5):
        personalizer.personalize(RULES, dataclasses.replace(visit(), path=f"/p{n}"), without_hero, "text/html")
    misses = personalizer._metrics.recent_misses()
    assert [miss.path for miss in misses] == [f"/p{n}" for n in reversed(range(5, RECENT_MISSES + 5))]


def test_personalizer_explains_why_nothing_is_inserted_after_a_list_item(tmp_path):
    (tmp_path / "t.html").write_text("<p>Hi</p>")
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.first]\nselector = "li"\n'
        '[[rule]]\nid = "tip"\naction = "insert"\nblock = "first"\nposition = "after"\ntemplate = "t.html"\n'
    )
    ruleset = load_rules(tmp_path)
    seen = Visit(Profile(), ruleset.site, ruleset.catalog, "/", {}, None, "", time.time(), None)
    outcomes: list = []
    body = b"<!DOCTYPE html><html><body><ul><li>a</li><li>b</li></ul></body></html>"
    assert Personalizer(Metrics()).personalize(ruleset, seen, body, "text/html", outcomes) is None
    (outcome,) = outcomes
    assert not outcome.fired and outcome.reason.startswith("no verified place after block 'first' on this page")


# --------------------------------------------------------------------------------------------
# inserted text on a page whose encoding the browser has to guess

WORDS = "— für dich €"
LATE_CHARSET = HOME.replace(b'<meta charset="utf-8">', b"").replace(b"</head>", b"<!--" + b"x" * 1024 + b'--><meta charset="utf-8"></head>')
NO_CHARSET = HOME.replace(b'<meta charset="utf-8">', b"")


def rules_inserting(tmp_path: Path, words: str) -> RuleSet:
    """The proxy rules with a hero that says `words`."""
    shutil.copytree(PROXY_RULES, tmp_path / "rules")
    (tmp_path / "rules" / "templates" / "hero.html").write_text(f"<h1>{{{{ category_label }}}} {words}</h1>", encoding="utf-8")
    return load_rules(tmp_path / "rules")


def hero_text(body: bytes, encoding: str) -> str:
    return LexborHTMLParser(body.decode(encoding)).css_first("#hero").text()


@pytest.mark.parametrize("body", [LATE_CHARSET, NO_CHARSET], ids=["late-charset", "no-charset"])
def test_personalizer_writes_inserted_text_in_ascii_when_the_charset_is_a_guess(tmp_path, body):
    result = Personalizer(Metrics()).personalize(rules_inserting(tmp_path, WORDS), visit(), body, "text/html")
    assert result is not None and "hero" in result.fired
    assert result.body.isascii()
    assert hero_text(result.body, "cp1252") == hero_text(result.body, "utf-8") == f"Rodents {WORDS}"


def test_personalizer_writes_inserted_text_in_utf8_on_a_utf8_page(tmp_path):
    result = Personalizer(Metrics()).personalize(rules_inserting(tmp_path, WORDS), visit(), NO_CHARSET, "text/html; charset=utf-8")
    assert result is not None and f"Rodents {WORDS}".encode() in result.body


class _BrokenAction:
    """An action whose code fails on every page, as a bug in one action would."""

    def apply(self, *args: object) -> list[object]:
        raise RuntimeError("boom")


def test_personalizer_skips_a_failing_rule_and_fires_the_others():
    broken = dataclasses.replace(
        RULES, rules=tuple(dataclasses.replace(r, action=_BrokenAction()) if r.id == "sort" else r for r in RULES.rules)
    )
    personalizer = Personalizer(Metrics())
    result = personalizer.personalize(broken, visit(), HOME, "text/html")
    assert result is not None and result.fired == ("hero", "popin")
    assert personalizer._metrics.value("etalage_rule_errors_total", rule="sort") == 1
