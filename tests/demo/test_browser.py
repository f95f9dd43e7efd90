"""The README's quick start walk in a real browser: headless Chromium driven by Playwright, through
Etalage in front of the demo shop.

An HTTP client in a test fetches every page it is asked for; a browser serves what it may from its
cache, so only a browser shows whether every page view of a consenting visitor reaches Etalage (the
shop's catalogue pages say `public, max-age=60`). The browser: tests/support/browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies, empty cache) for each test."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def readme_walk(page: Any, url: str) -> None:
    """The README's walk: accept the cookie banner, open Rodents three times, go back to the home page."""
    from playwright.sync_api import expect

    page.goto(f"{url}/")
    # Accept the shop's own cookie banner; its script posts the choice and removes the banner.
    with page.expect_response(lambda response: response.url == f"{url}/consent"):
        page.locator("#consent-banner").get_by_role("button", name="Accept").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    # Open Rodents three times from the site's navigation, as a person would.
    for _ in range(3):
        with page.expect_navigation():
            page.get_by_role("navigation", name="Categories").get_by_role("link", name="Rodents").click()
    with page.expect_navigation():
        page.locator("a.logo").click()
    assert page.url == f"{url}/"


def test_browser_readme_walk_shows_the_rodent_hero_and_popin(page, shop_etalage):
    from playwright.sync_api import expect

    readme_walk(page, shop_etalage)
    expect(page.locator(".etalage-popin")).to_have_attribute("data-etalage-category", "rodents")
    expect(page.locator(".etalage-popin")).to_contain_text("The Rodents newsletter")
    expect(page.locator("#hero")).to_have_attribute("data-etalage-rule", "hero-by-interest")
    expect(page.locator("#hero")).to_contain_text("Small pets, big personalities")


def test_browser_readme_walk_leads_the_popular_grid_with_rodents_under_its_label(page, shop_etalage):
    from playwright.sync_api import expect

    readme_walk(page, shop_etalage)
    expect(page.locator("#popular")).to_have_attribute("data-etalage-rule", "popular-by-interest")
    expect(page.locator("#popular > li").first).to_have_attribute("data-category", "rodents")
    expect(page.locator(".etalage-label:has(+ #popular)")).to_contain_text("Sorted by your interests")
