"""The straightforward BeautifulSoup proxy: fetch, parse (lxml), edit, serialize.

Same work as selectolax_proxy.py (banner in #hero, #popular cards sorted by interest, pop-in before
</body>) with the library most Python developers reach for first.

Run: UPSTREAM=http://127.0.0.1:8080 uvicorn bs4_proxy:app --loop uvloop --http httptools
"""

from __future__ import annotations

import contextlib
import os

import aiohttp
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:8080").rstrip("/")
PROFILE = {"rodents": 4, "cats": 2}
FAVOURITE = max(PROFILE, key=PROFILE.get)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "trailer",
    "content-length",
    "content-encoding",
}

BANNER = (
    f'<div class="hero-inner hero-{FAVOURITE}" data-peer-rule="banner"><h1>Small pets, big personalities</h1>'
    "<p>Hay, hideouts and wheels for rabbits, guinea pigs, hamsters and rats.</p>"
    f'<a class="button" href="/c/{FAVOURITE}">Shop {FAVOURITE}</a></div>'
)
POPIN = (
    '<div class="etalage-popin" data-peer-rule="popin"><aside class="popin" role="dialog">'
    f"<h2>The {FAVOURITE} newsletter</h2><p>Tips, new arrivals and offers, once a month.</p>"
    '<form method="post" action="/newsletter"><button type="submit">Subscribe</button></form></aside></div>'
)

session: aiohttp.ClientSession | None = None


@contextlib.asynccontextmanager
async def lifespan(app):
    global session
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000), auto_decompress=False)
    yield
    await session.close()


def personalize(html: bytes) -> bytes:
    soup = BeautifulSoup(html, "lxml")
    hero = soup.select_one("#hero")
    if hero is not None:
        hero.clear()
        hero.append(BeautifulSoup(BANNER, "html.parser"))
    grid = soup.select_one("#popular")
    if grid is not None:
        cards = [card.extract() for card in grid.select("li[data-product-id]")]
        cards.sort(key=lambda card: -PROFILE.get(card.get("data-category"), 0))
        for card in cards:
            grid.append(card)
        grid["data-peer-rule"] = "sort"
    if soup.body is not None:
        soup.body.append(BeautifulSoup(POPIN, "html.parser"))
    return str(soup).encode("utf-8")


async def proxy(request: Request) -> Response:
    assert session is not None
    url = UPSTREAM + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
    async with session.request(request.method, url, headers=headers, data=await request.body() or None, allow_redirects=False) as upstream:
        body = await upstream.read()
        status = upstream.status
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
    if status == 200 and request.method == "GET" and out_headers.get("Content-Type", "").startswith("text/html"):
        body = personalize(body)
        for stale in ("ETag", "Last-Modified"):
            out_headers.pop(stale, None)
    return Response(body, status_code=status, headers=out_headers)


app = Starlette(routes=[Route("/{path:path}", proxy, methods=["GET", "HEAD", "POST"])], lifespan=lifespan)
