"""Debian's Chromium driven by Playwright, for tests that need a real browser.

Chromium is Debian's package at /usr/bin/chromium (Playwright's own browser download is never used).
Without the playwright package or that binary the tests skip and say why; CI sets
ETALAGE_REQUIRE_BROWSER=1, which makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "chromium"]

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: test machines and containers run as root, where Chromium refuses its sandbox. The rest keeps
# the browser from calling out to Google's services while it runs.
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    """Skip, or fail where CI promised the browser (ETALAGE_REQUIRE_BROWSER=1)."""
    if os.environ.get("ETALAGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (ETALAGE_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser), closed at the end."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed: pip install playwright")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian/Ubuntu)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()
