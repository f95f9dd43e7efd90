"""`etalage rules check --against`: the blocks of real pages, fetched from a small origin."""

from collections.abc import Iterator

import pytest

from etalage.rules.loader import load_rules
from etalage.tools.blocks import check_pages, render_table
from tests.support.servers import closed_port_url, running

RULES = """\
[site]
categories = { dogs = "Dogs" }

[blocks.hero]
selector = "#hero"

[blocks.popular]
selector = "#popular"
items = "li"
item_category = "data-category"

[[rule]]
id = "home-hero"
action = "hide"
block = "hero"
pages = ['^/$']

[[rule]]
id = "sorted"
action = "sort"
block = "popular"
pages = ['^/$', '^/c/']
"""

PAGES = {
    "/": b'<!doctype html><body><div id="hero">Hi</div><ul id="popular"><li data-category="dogs">a</li><li>b</li></ul></body>',
    # No hero here, and no rule needs one; the sort rule's block is missing.
    "/c/dogs": b'<!doctype html><body><div id="grid"></div></body>',
    "/broken": b'<!doctype html><body><div id="hero"><b>a</div>b</b></body>',
}


async def origin(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = PAGES.get(scope["path"])
    status, content_type = (200, b"text/html; charset=utf-8") if body is not None else (200, b"text/css")
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body if body is not None else b"p {}"})


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with running(origin) as url:
        yield url


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "site.toml").write_text(RULES)
    return load_rules(folder)


def test_check_pages_says_which_blocks_each_page_has(site, rules):
    home, dogs = check_pages(rules, [f"{site}/", f"{site}/c/dogs"])
    assert (home.cell("hero"), home.cell("popular")) == ("found", "found, 2 item(s)")
    assert (dogs.cell("hero"), dogs.cell("popular")) == ("not found", "not found")


def test_check_pages_reports_a_rule_whose_block_is_not_on_its_page(site, rules):
    (dogs,) = check_pages(rules, [f"{site}/c/dogs"])
    assert dogs.problems == ["rule 'sorted' changes block 'popular', which is not on this page: popular: selector matched nothing"]


def test_check_pages_finds_no_problem_where_every_rule_has_its_block(site, rules):
    (home,) = check_pages(rules, [f"{site}/"])
    assert home.problems == []


def test_check_pages_tells_a_block_too_broken_to_edit(site, rules):
    (broken,) = check_pages(rules, [f"{site}/broken"])
    assert broken.cell("hero") == "unverified" and broken.problems == []


def test_check_pages_notes_a_page_that_is_not_html(site, rules):
    (css,) = check_pages(rules, [f"{site}/shop.css"])
    assert css.cell("hero") == "-" and "only 200 text/html pages" in css.note and css.problems == []


def test_check_pages_reports_a_page_it_cannot_fetch(rules):
    (gone,) = check_pages(rules, [closed_port_url() + "/"])
    assert gone.status is None and gone.problems and gone.problems[0].startswith("could not be fetched")


def test_render_table_shows_blocks_by_page(site, rules):
    table = render_table(rules, check_pages(rules, [f"{site}/", f"{site}/c/dogs"]))
    assert table.splitlines()[3:] == [
        "blocks:",
        "  block    [1]               [2]",
        "  hero     found             not found",
        "  popular  found, 2 item(s)  not found",
        "1 problem(s):",
        "  [2] rule 'sorted' changes block 'popular', which is not on this page: popular: selector matched nothing",
    ]
