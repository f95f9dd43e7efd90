"""Issue 13: a first look at a page (its analysis) holds up no other request, and a page too
complex to analyse goes out as the origin sent it, counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.engine import personalize as personalize_module
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import HOME, OriginApp, lifespan
from tests.support.servers import running

# 100,000 nested <div>s, 1.1 MB: 93 s of analysis on the event loop before issue 13.
NESTED = HOME.replace(b"<body>\n", b"<body>\n" + b"<div>" * 100_000 + b"</div>" * 100_000)
# What a test waits for at most before it fails instead of hanging (never reached when it passes).
HANG = 30


async def origin_app(scope: Scope, receive: Receive, send: Send) -> None:
    """/home: the nested page; anything else: a small JSON answer."""
    if await lifespan(scope, receive, send):
        return
    page = scope["path"] == "/home"
    content_type = b"text/html; charset=utf-8" if page else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": NESTED if page else b"{}"})


@pytest.fixture
def origin() -> Iterator[str]:
    with running(origin_app) as url:
        yield url


def test_proxy_first_look_leaves_the_loop_free_and_a_too_complex_page_unchanged(origin, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = personalize_module.analyse

    def held(*args, **kwargs):
        started.set()
        release.wait()  # the test sets it on every way out
        return real(*args, **kwargs)

    monkeypatch.setattr(personalize_module, "analyse", held)
    app = create_app(settings_for(origin, PROXY_RULES))
    heavy: list[httpx.Response] = []
    with running(app) as url:
        visitor = threading.Thread(
            target=lambda: heavy.append(httpx.get(url + "/home", cookies={"OptanonConsent": ACCEPT_ONETRUST}, timeout=HANG))
        )
        visitor.start()
        try:
            assert started.wait(HANG)
            small = httpx.get(url + "/api", timeout=HANG)  # answered while the analysis is held
            answered_during_analysis = not release.is_set() and not heavy
        finally:
            release.set()
            visitor.join(HANG)
    assert small.status_code == 200 and small.content == b"{}" and answered_during_analysis
    assert heavy[0].status_code == 200 and heavy[0].content == NESTED
    assert app.metrics.value("etalage_fail_open_total", reason="page_too_complex") == 1


def test_proxy_page_limits_come_from_the_settings():
    with running(OriginApp()) as shop:
        app = create_app(settings_for(shop, PROXY_RULES, max_page_elements=5))
        with running(app) as url:
            response = httpx.get(url + "/home", cookies={"OptanonConsent": ACCEPT_ONETRUST})
    assert response.content == HOME
    assert app.metrics.value("etalage_fail_open_total", reason="page_too_complex") == 1


def test_proxy_first_look_past_the_timeout_serves_the_origin_page_meanwhile(origin, monkeypatch):
    release = threading.Event()
    real = personalize_module.analyse
    monkeypatch.setattr(personalize_module, "analyse", lambda *a, **k: (release.wait(HANG), real(*a, **k))[1])
    app = create_app(settings_for(origin, PROXY_RULES, analysis_timeout=0.001))
    with running(app) as url:
        try:
            response = httpx.get(url + "/home", cookies={"OptanonConsent": ACCEPT_ONETRUST}, timeout=HANG)
            answered_during_analysis = not release.is_set()
        finally:
            release.set()
    assert response.status_code == 200 and response.content == NESTED and answered_during_analysis
    assert app.metrics.value("etalage_fail_open_total", reason="analysis_timeout") == 1
