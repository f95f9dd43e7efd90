"""The benchmark kit's recorder and replay (benchmarks/replay.py): a shop's pages recorded twice keep
what changes on every view, and the replay turns each such value into fresh characters."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.benchmarks import benchmark
from tests.support.servers import running

replay = benchmark("replay")

FRESH = re.compile(rb'<!--# echo var="(request_id|rid_(\d+))" -->')


def _listing(render_time: str, extra: str = "") -> bytes:
    cards = "".join(
        f'<li class="card"><form action="/basket/add/{n}/"><input type="hidden" name="csrfmiddlewaretoken" '
        f'value="{secrets.token_urlsafe(48)}"></form><p>Card {n}</p></li>\n'
        for n in range(20)
    )
    return f'<html><head><meta name="created" content="{render_time}"></head><body><ul>{cards}{extra}</ul></body></html>'.encode()


def _fresh_length(template: bytes) -> int:
    return sum(32 if m.group(1) == b"request_id" else int(m.group(2)) for m in FRESH.finditer(template))


def test_differing_spans_realign_after_a_value_that_changed_length() -> None:
    a = b'<meta content="9:59:59"><p>' + b"x" * 100 + b'</p><input value="aaaa"><p>end</p>'
    b = b'<meta content="10:00:00"><p>' + b"x" * 100 + b'</p><input value="bbbb"><p>end</p>'

    spans = replay.differing_spans(a, b)

    assert [(a[s[0] : s[1]], b[s[2] : s[3]]) for s in spans] == [(b"9:59:59", b"10:00:00"), (b"aaaa", b"bbbb")]


def test_template_makes_every_value_fresh_and_keeps_markup_as_fetched() -> None:
    a = _listing("1733212345.123")
    b = _listing("1733212346.456", extra='<li class="new">New!</li>')
    spans = replay.differing_spans(a, b)

    template, pattern, lengths, kept = replay.template(a, [(s[0], s[1]) for s in spans])

    # 20 tokens of 64 characters and the timestamp's changed digits, each as long as fetched
    assert len(FRESH.findall(template)) >= 21
    assert len(FRESH.sub(b"", template)) + _fresh_length(template) == len(a)
    assert kept == 0  # the extra card is in the second fetch only: nothing of it in the first
    assert pattern.fullmatch(a)
    assert not pattern.fullmatch(a.replace(b"Card 3", b"Card 4"))
    assert all(0 < n < 32 for n in lengths)
    _, _, _, kept_b = replay.template(b, [(s[2], s[3]) for s in spans])
    assert kept_b == 1


def test_record_fetches_each_page_twice_and_skips_what_cannot_be_replayed(tmp_path: Path) -> None:
    async def listing(request: Request) -> Response:
        return HTMLResponse(_listing("1733212345.123"))

    async def moved(request: Request) -> Response:
        return RedirectResponse("/c/cats", status_code=301)

    async def image(request: Request) -> Response:
        return Response(b"GIF89a", media_type="image/gif")

    app = Starlette(routes=[Route("/c/cats", listing), Route("/cats", moved), Route("/p.gif", image)])
    with running(app) as url:
        urls = [f"{url}/c/cats?page=2", f"{url}/cats", f"{url}/p.gif", f"{url}/missing"]
        manifest = replay.record(urls, tmp_path, log=lambda _: None)

    pages, skipped = replay.load(tmp_path)
    assert [page.path for page in pages] == ["/c/cats?page=2"]
    first, second = pages[0].bodies
    assert first != second and len(replay.differing_spans(first, second)) >= 20
    assert [entry["url"] for entry in skipped] == urls[1:]
    assert "redirect to /c/cats" in skipped[0]["why"] and "not HTML" in skipped[1]["why"] and "404" in skipped[2]["why"]
    assert manifest["pages"][0]["bytes"] == [len(first), len(second)]
