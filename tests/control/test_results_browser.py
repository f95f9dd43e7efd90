"""The experiments page in a real browser: Debian's Chromium driven by Playwright (tests/support/browser.py
says how it skips, or fails under ETALAGE_REQUIRE_BROWSER=1, without them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from tests.control.test_results_page import AUTH, TOKEN, filled
from tests.support.browser import chromium
from tests.support.config import PROJECT_RULES, settings_for
from tests.support.servers import running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_results_browser_renders_the_table_without_errors(browser, origin):
    store = MemoryStore(retention=3600)
    # Playwright's sync API runs an event loop in this thread: the store is filled from another one.
    filling = threading.Thread(target=filled, args=(store,))
    filling.start()
    filling.join()
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token=TOKEN), store=store)) as url:
        context = browser.new_context(extra_http_headers=AUTH)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{url}/.etalage/admin/experiments")
            rate = page.locator('section[data-experiment="hero-banner"] table[data-goal="order"] tr[data-variant="one-template"] td.rate')
            assert rate.inner_text() == "25.0%"
            # The interval bar is drawn: the SVG has a size in the laid-out page.
            bar = page.locator('table[data-goal="order"] tr[data-variant="one-template"] td.bar svg').first
            box = bar.bounding_box()
            assert box is not None and box["width"] > 0
            assert errors == []
        finally:
            context.close()
