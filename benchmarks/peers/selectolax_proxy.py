"""The straightforward selectolax proxy a Python shop would write: fetch, parse, edit, serialize.

Starlette + one shared aiohttp session; every 200 text/html page is parsed with selectolax (lexbor),
gets a banner in #hero, its #popular cards sorted by the visitor's interest, a newsletter pop-in
before </body>, and is serialized again. The visitor's profile is a fixed in-memory dict (no cookie,
consent or store work at all), so this peer does strictly less than Etalage per request.

Run: UPSTREAM=http://127.0.0.1:8080 uvicorn selectolax_proxy:app --loop uvloop --http httptools
"""

from __future__ import annotations

import contextlib
import os

import aiohttp
from selectolax.lexbor import LexborHTMLParser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:8080").rstrip("/")
# The visitor's profile: category -> views (rodents 4, cats 2), as Etalage's benchmark visitor has.
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
    tree = LexborHTMLParser(html)
    hero = tree.css_first("#hero")
    if hero is not None:
        hero.inner_html = BANNER
    grid = tree.css_first("#popular")
    if grid is not None:
        cards = grid.css("li[data-product-id]")
        ranked = sorted(cards, key=lambda card: -PROFILE.get(card.attributes.get("data-category"), 0))
        for card in ranked:
            grid.insert_child(card, move=True)
        grid.attrs["data-peer-rule"] = "sort"
    body = tree.body
    if body is not None:
        popin = LexborHTMLParser(POPIN).body.child
        body.insert_child(popin)
    return tree.html.encode("utf-8")


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
