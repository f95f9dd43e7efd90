"""A scriptable origin for proxy tests: each path answers in a way a test wants to see forwarded."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from dataclasses import dataclass, field

import brotli

from etalage.types import RawHeaders, Receive, Scope, Send

HOME = (
    b"<!DOCTYPE html>\n<html lang='nl'><head><meta charset=\"utf-8\"><title>Shop &amp; Co</title>"
    b'<noscript><img src="/p.gif"></noscript><link rel=canonical href="/"></head>\n<body>\n'
    b'<section id="hero" class=hero><h1>Welkom</h1></section>\n'
    b'<ul id="popular">\n'
    b'  <li data-product-id="d1" data-category="dogs">Dog kibble</li>\n'
    b'  <li data-product-id="c1" data-category="cats">Cat tower</li>\n'
    b'  <li data-product-id="r1" data-category="rodents">Hay&nbsp;5&euro;</li>\n'
    b'  <li data-product-id="r2" data-category="rodents">Hamster wheel</li>\n'
    b"</ul>\n<p>5&nbsp;&euro; <b>bold</p>\n</body>\n</html>\n"
)


# What a shop that announces orders in a response header ([orders] header) sends with a completed checkout.
ORDER_HEADER = b'{"order": "100023", "products": ["d1", "d1", "r1"], "value": "25.98", "currency": "EUR"}'

GATED_CHUNKS = (b"first chunk;" * 100, b"second chunk;" * 100, b"third chunk;" * 100)


class Gate:
    """Holds the origin back until the test opens it, from the test's own thread.

    The origin runs its own event loop in a server thread: opening wakes its waiters there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def open(self) -> None:
        with self._lock:
            self._opened = True
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            if self._opened:
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()


@dataclass
class OriginApp:
    """An ASGI origin; `seen` keeps every request it received (method, target, headers, body).

    /gated sends its first chunk, then waits for `gate` to open before sending the rest."""

    seen: list[dict[str, object]] = field(default_factory=list)
    gate: Gate = field(default_factory=Gate)

    def reset(self) -> None:
        """Forget earlier requests and close the gate again: a fresh origin for the next test."""
        self.gate.open()  # a request still waiting from an earlier test may finish
        self.seen.clear()
        self.gate = Gate()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        record = {
            "method": scope["method"],
            "target": (scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")).decode(),
            "headers": [(k.decode(), v.decode()) for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
        }
        self.seen.append(record)
        path = scope["path"]
        if path.startswith("/c/") or path == "/newsletter":
            path = "/home"
        handler = getattr(self, "page_" + path.strip("/").replace("/", "_").replace("-", "_").replace(".", "_"), None)
        if handler is None:
            await _answer(send, 200, [(b"content-type", b"application/json")], json.dumps(record).encode())
            return
        await handler(scope, receive, send)

    async def page_home(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(
            send, 200, [(b"content-type", b"text/html; charset=utf-8"), (b"etag", b'"v1"'), (b"cache-control", b"public, max-age=60")], HOME
        )

    async def page_gzip(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")], gzip.compress(HOME))

    async def page_br(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, [(b"content-type", b"text/html"), (b"content-encoding", b"br")], brotli.compress(HOME))

    async def page_bomb(self, scope: Scope, receive: Receive, send: Send) -> None:
        # 64 MiB of zeros in a few KiB: over any sane decompression cap.
        await _answer(
            send, 200, [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")], gzip.compress(HOME + b"\0" * (64 << 20))
        )

    async def page_zstd(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, [(b"content-type", b"text/html"), (b"content-encoding", b"zstd")], b"\x28\xb5\x2f\xfd not really zstd")

    async def page_latin1(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = HOME.replace(b"Welkom", b"Caf\xe9 \x80").replace(b'charset="utf-8"', b'charset="windows-1252"')
        await _answer(send, 200, [(b"content-type", b"text/html; charset=windows-1252")], page)

    async def page_late_charset(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Declared past the first 1024 bytes, where browsers no longer look: they guess.
        late = b"<!--" + b"x" * 1024 + b'--><meta charset="utf-8"></head>'
        await _answer(send, 200, [(b"content-type", b"text/html")], HOME.replace(b'<meta charset="utf-8">', b"").replace(b"</head>", late))

    async def page_no_charset(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, [(b"content-type", b"text/html")], HOME.replace(b'<meta charset="utf-8">', b""))

    async def page_not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 404, [(b"content-type", b"text/html")], HOME)

    async def page_range(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 206, [(b"content-type", b"text/html"), (b"content-range", b"bytes 0-9/%d" % len(HOME))], HOME[:10])

    async def page_style_css(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 200, [(b"content-type", b"text/css")], b"body{color:red}")

    async def page_redirect(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope["headers"]).get(b"host", b"")
        await _answer(send, 302, [(b"location", b"http://" + _own_host(scope) + b"/c/dogs?x=1"), (b"x-host-seen", host)], b"")

    async def page_order_placed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A checkout completed: a redirect to the thank-you page, announcing the order."""
        await _answer(send, 303, [(b"location", b"/home"), (b"x-shop-order", ORDER_HEADER)], b"")

    async def page_order_thanks(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A thank-you page that announces its order itself."""
        await _answer(send, 200, [(b"content-type", b"text/html; charset=utf-8"), (b"x-shop-order", ORDER_HEADER)], HOME)

    async def page_order_garbled(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 303, [(b"location", b"/home"), (b"x-shop-order", b'{"order": "100024", "value": "lots"}')], b"")

    async def page_elsewhere(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 302, [(b"location", b"https://payments.example/pay")], b"")

    async def page_cookies(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(
            send, 200, [(b"content-type", b"text/plain"), (b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")], b"ok"
        )

    async def page_hop(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/plain"),
            (b"connection", b"x-secret-hop"),
            (b"x-secret-hop", b"1"),
            (b"keep-alive", b"timeout=5"),
            (b"upgrade", b"h2c"),
            (b"x-end-to-end", b"kept"),
        ]
        await _answer(send, 200, headers, b"ok")

    async def page_hang(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Never answers; the proxy's read timeout must fire. Ends when the proxy hangs up.
        while (await receive())["type"] != "http.disconnect":
            pass

    async def page_gated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GATED_CHUNKS, the first one at once, the others only after the test opened `gate`."""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
        first, *rest = GATED_CHUNKS
        await send({"type": "http.response.body", "body": first, "more_body": True})
        await self.gate.wait()
        for chunk in rest:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def lifespan(scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer the ASGI lifespan protocol; True when `scope` was a lifespan scope."""
    if scope["type"] != "lifespan":
        return False
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})
    return True


def _own_host(scope: Scope) -> bytes:
    host, port = scope["server"]
    return f"{host}:{port}".encode()


async def _answer(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
