"""A bare pass-through proxy for comparing upstream HTTP clients, nothing else.

PEER_CLIENT=httpx | httpx-aiohttp | aiohttp chooses how the origin is fetched:
  httpx          httpx.AsyncClient (its own httpcore pool), as Etalage's upstream.py has it
  httpx-aiohttp  httpx.AsyncClient over httpx_aiohttp.AiohttpTransport (aiohttp's pool and parser)
  aiohttp        aiohttp.ClientSession directly
The response is streamed through chunk by chunk, as Etalage streams pass-through pages.

Run: UPSTREAM=http://127.0.0.1:8080 PEER_CLIENT=aiohttp uvicorn bare_proxy:app --loop uvloop --http httptools
"""

from __future__ import annotations

import os

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:8080").rstrip("/")
CLIENT = os.environ.get("PEER_CLIENT", "httpx")
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"trailer", b"host"}


def _filter(headers):
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


if CLIENT in ("httpx", "httpx-aiohttp"):
    import httpx

    if CLIENT == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport()
    else:
        transport = None
    client = httpx.AsyncClient(
        transport=transport, limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100), trust_env=False
    )

    async def fetch(method, target, headers, send):
        request = httpx.Request(method, UPSTREAM + target, headers=_filter(headers))
        response = await client.send(request, stream=True)
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": _filter(response.headers.raw)})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

elif CLIENT == "aiohttp":
    import aiohttp

    session = None

    async def fetch(method, target, headers, send):
        global session
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000), auto_decompress=False)
        hdrs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in _filter(headers)]
        async with session.request(method, UPSTREAM + target, headers=hdrs, allow_redirects=False) as response:
            out = [(k, v) for k, v in response.raw_headers if k.lower() not in HOP_BY_HOP]
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

else:
    raise SystemExit(f"PEER_CLIENT={CLIENT!r}: expected httpx, httpx-aiohttp or aiohttp")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    target = scope["raw_path"].decode("latin-1") + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
    await fetch(scope["method"], target, scope["headers"], send)
