"""What one request costs Etalage in CPU: the real ASGI app, in process, one request at a time.

    PYTHONPATH=src .venv/bin/python benchmarks/request_cost.py [--requests N] [--instructions] [--profile] [--cases pass,cached,shop]

The app is `etalage.app.create_app()` with Settings as `etalage serve` builds them (from the
environment, load shedding off as the benchmark runs it), the benchmark's 20-rule folder
(`pages.py`), the embedded profile store and the default upstream client, talking over TCP to a small
origin in a separate process (aiohttp.web: the benchmark's pages, as nginx serves them, with the
same headers; the shop-shaped page chunked, its fresh values from a seeded sequence so that runs
repeat), so the origin's work is not counted. Each request is one ASGI call, as uvicorn would make it with wrk's headers (Host and, for a
personalized view, the Cookie), followed by the profile write it leaves in the background; the ASGI
server's own HTTP parsing and writing (uvicorn) is not included. Three cases, the 100 KB page:

- `pass`: a visitor without consent on /list/100k: the page streams through unchanged;
- `cached`: a consenting visitor (bench.CONSENT, a signed etalage_vid cookie got from Etalage, the
  profile warmed as the benchmark warms it: rodents 4 views, cats 2) on /list/100k: banner, sort,
  pop-in, the page's layout known (identical bytes);
- `shop`: the same visitor on /shop/list/100k, a fresh 64-character token in every card and a
  render time in the head (as pages.py's shop-shaped variant under nginx's SSI): the layout reused.

Every case is warmed up (20 requests: the first look and the reuse's settling) before it is
measured. Printed: CPU time (process_time) per request, min of 5 rounds of --requests (default
200). The machine is shared, so --instructions also counts instructions per request under
valgrind's callgrind (200 requests after the warm-up, only they collected, PYTHONHASHSEED=0, the
setup frozen out of the garbage collector; a minute or two per case), which repeat within a
fraction of a percent whatever else runs. The driver's own `drain()`, the wait for the view's
profile write, counts too: a small constant.
--profile prints cProfile's top functions (CPU time) per case.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import pages  # noqa: E402

CASES = {"pass": ("/list/100k", False), "cached": ("/list/100k", True), "shop": ("/shop/list/100k", True)}
WARM_UP = 20
INSTRUCTION_REQUESTS = 200  # requests counted under callgrind per case
SECRET = "request-cost-benchmark-secret-0123456789"
CONSENT = (  # bench.CONSENT (OneTrust, groups C0001 and C0004), not imported: bench.py needs the kit's venv
    "isGpcEnabled=0&datestamp=Sat+Nov+01+2025+10%3A00%3A00+GMT%2B0000+(Coordinated+Universal+Time)"
    "&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
)


# -- the origin (its own process) -------------------------------------------------------------------


def serve_origin() -> None:
    """Serve the benchmark's pages on a free port, print it, run until killed."""
    from aiohttp import web

    static = {f"/list/{key}": pages.list_page(cards, pages.STATIC_NONCE).encode() for key, cards in pages.PAGE_SIZES.items()}
    static |= {f"/c/{slug}": pages.category_page(slug).encode() for slug in pages.LABELS}
    shop = pages.list_page(pages.PAGE_SIZES["100k"], pages.SSI_NONCE, shop_shaped=True)
    html = "text/html; charset=utf-8"
    # Fresh tokens, the same sequence in every run: where a token's characters agree with the known
    # body's by chance decides how a view's differences are found, and so what it costs.
    tokens = random.Random(0)

    async def page(request: web.Request) -> web.StreamResponse:
        if request.path == "/shop/list/100k":
            # As nginx's SSI fills it in: $request_id, twice per card ($card_token), $msec; sent chunked.
            request_id = f"{tokens.getrandbits(128):032x}"
            body = (
                shop.replace(pages.SSI_CARD_TOKEN, request_id * 2)
                .replace(pages.SSI_NONCE, request_id)
                .replace(pages.SSI_RENDER_TIME, f"{1_764_763_200 + tokens.random() * 1000:.3f}")  # as $msec
                .encode()
            )
            response = web.StreamResponse(headers={"Content-Type": html})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(body)
            await response.write_eof()
            return response
        body = static.get(request.path)
        if body is None:
            return web.Response(status=404)
        # nginx's headers for a static file.
        validators = {"Last-Modified": "Thu, 03 Dec 2026 12:00:00 GMT", "ETag": f'"6750f0c0-{len(body):x}"', "Accept-Ranges": "bytes"}
        return web.Response(body=body, headers={"Content-Type": html, **validators})

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def start_origin() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, "--origin"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    with proc.stdout:  # it prints its port, nothing else
        return proc, int(proc.stdout.readline())


# -- Etalage, in process ------------------------------------------------------------------------------


class Driver:
    """create_app() as `etalage serve` builds it, called with ASGI scopes as uvicorn makes them."""

    def __init__(self, origin_port: int, folder: Path) -> None:
        from etalage.app import create_app
        from etalage.settings import Settings

        # Load shedding off as in the benchmark; a first look may take its time (under callgrind it is
        # some 50 times slower than the 0.5 s a visitor waits for it), since only views after it count.
        environ = {
            "ETALAGE_SECRET": SECRET,
            "ETALAGE_OVERLOAD_LAG": "3600",
            "ETALAGE_ANALYSIS_TIMEOUT": "600",
            "ETALAGE_LOG_LEVEL": "warning",
        }
        rules = pages.write_rules(folder, 20, REPO / "rules" / "templates")
        self.settings = Settings.from_env(environ, upstream=f"http://127.0.0.1:{origin_port}", rules_dir=rules, port=8000)
        self.app = create_app(self.settings)
        self.cookie = ""

    async def get(self, path: str, cookie: str = "") -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        headers = [(b"host", b"127.0.0.1:8000")] + ([(b"cookie", cookie.encode())] if cookie else [])
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": "GET",
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "state": {},
        }
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        await self.app.proxy.drain()  # the view's profile write, which the event loop runs after the response
        # The body's chunks as sent: joining them here would count a copy of the page that no server makes.
        return sent[0]["status"], sent[0]["headers"], [message.get("body", b"") for message in sent[1:]]

    async def close(self) -> None:
        """What the app's lifespan does at shutdown for the parts used here (the lifespan is not run: its
        background timers, the load shedder's 10 ms lag sample among them, would count as request work)."""
        await self.app.proxy.drain()
        self.app.proxy.close()
        await self.app.proxy._upstream.aclose()

    async def visitor(self) -> None:
        """A signed visitor cookie from Etalage itself and a warmed profile, as bench.establish_visitor()."""
        _, headers, _ = await self.get("/list/24k", f"OptanonConsent={CONSENT}")
        vid = next(value.split(b";", 1)[0].split(b"=", 1)[1].decode() for name, value in headers if name == b"set-cookie")
        self.cookie = f"OptanonConsent={CONSENT}; etalage_vid={vid}"
        for path in ["/c/rodents"] * 4 + ["/c/cats"] * 2:
            await self.get(path, self.cookie)

    async def case(self, name: str) -> None:
        """Set the case up and warm it; fails when it does not measure what it says."""
        path, personalized = CASES[name]
        if personalized:
            await self.visitor()
        for _ in range(WARM_UP):
            status, headers, chunks = await self.request(name)
        rules = b"".join(chunks).count(b"data-etalage-rule")
        if status != 200 or (rules >= 3) != personalized:
            raise SystemExit(f"{name}: status {status}, {rules} data-etalage-rule attributes: not what the case measures")
        if personalized and (b"cache-control", b"private, no-store") not in headers:
            raise SystemExit(f"{name}: the personalized page is not private, no-store")

    async def request(self, name: str) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        path, personalized = CASES[name]
        return await self.get(path, self.cookie if personalized else "")

    async def requests(self, name: str, count: int) -> float:
        """Make `count` requests; the CPU seconds they took."""
        started = time.process_time()
        for _ in range(count):
            await self.request(name)
        return time.process_time() - started


def runner() -> asyncio.Runner:
    import uvloop  # etalage serve runs on uvloop

    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def cpu_per_request(origin_port: int, name: str, requests: int, rounds: int = 5) -> float:
    """Seconds of CPU per request, the minimum of `rounds` rounds of `requests`."""
    with tempfile.TemporaryDirectory() as tmp, runner() as run:
        driver = Driver(origin_port, Path(tmp))
        run.run(driver.case(name))
        best = min(run.run(driver.requests(name, requests)) for _ in range(rounds))
        run.run(driver.close())
        return best / requests


def instructions(origin_port: int, name: str) -> float:
    """Instructions per request of `name`, counted by callgrind over INSTRUCTION_REQUESTS requests.

    Only the measured requests count: callgrind collects while the interpreter is inside
    functools.reduce (--toggle-collect), which the child calls once around them, so neither the
    start-up nor the warm-up (a first look in a worker thread, whose wait on the event loop varies
    from run to run by some tens of millions of instructions) reaches the figure."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--collect-atstart=no"]
    argv += ["--toggle-collect=functools_reduce", sys.executable, __file__, "--child", name, str(INSTRUCTION_REQUESTS), str(origin_port)]
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None or int(found.group(1)) == 0:
        raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1)) / INSTRUCTION_REQUESTS


def child(name: str, requests: int, origin_port: int) -> None:
    """Under callgrind: set up and warm up, freeze the setup out of the garbage collector, then make
    `requests` inside functools.reduce, the one call callgrind collects in (instructions())."""
    with tempfile.TemporaryDirectory() as tmp, runner() as run:
        driver = Driver(origin_port, Path(tmp))
        run.run(driver.case(name))
        gc.collect()
        gc.freeze()
        functools.reduce(lambda _, __: run.run(driver.requests(name, requests)), [None, None])
        run.run(driver.close())


def profile(origin_port: int, name: str, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, runner() as run:
        driver = Driver(origin_port, Path(tmp))
        run.run(driver.case(name))
        profiler = cProfile.Profile(time.process_time)  # CPU, as the rest: wall time would count the origin too
        profiler.enable()
        run.run(driver.requests(name, requests))
        profiler.disable()
        run.run(driver.close())
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions per case")
    parser.add_argument("--origin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("CASE", "REQUESTS", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.origin:
        serve_origin()
        return 0
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    names = [name for name in args.cases.split(",") if name]
    unknown = set(names) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    origin, port = start_origin()
    try:
        print("| case | CPU us/request (min of 5 rounds)" + (" | instructions/request |" if args.instructions else " |"))
        print("|---|---:" + ("|---:|" if args.instructions else "|"))
        for name in names:
            row = f"| {name} | {cpu_per_request(port, name, args.requests) * 1e6:.0f}"
            if args.instructions:
                row += f" | {instructions(port, name) / 1e6:.3f} M"
            print(row + " |", flush=True)
        if args.profile:
            for name in names:
                print(f"\n## {name}")
                profile(port, name, args.requests)
    finally:
        origin.terminate()
        origin.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
