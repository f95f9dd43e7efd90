"""Hostile requests and pages against Etalage: does one visitor's request stall everyone else?

    .venv/bin/python benchmarks/attacks.py [--seconds S] [--grace G] [--out FILE]

Starts a small origin (the demo shop's pages as it renders them, a tiny static file and two
pathological pages; a thread per connection and no limit on request heads, so attacks cost Etalage,
not the origin). Then, per row, a fresh `etalage serve` in front of it (this checkout's src/, the
project's rules/, the embedded profile store, default settings, one worker) with a consenting
visitor who viewed rodents three times; one client sends the attack's requests while another fetches
the tiny static page through Etalage in a loop. The table gives the worst latency of that small
request while the attack ran (a stalled event loop stalls every visitor), Etalage's RSS before, at
its peak during and after the attack, the status codes the attack got (and how many of its pages
were personalized), and Etalage's fail-open counters. The rows "idle" and "normal page views" are
the floor to read the others against.

An attack stops sending after --seconds (default 4; the 100 cookies get 30) or its request count;
then the run waits up to --grace seconds (default 20) for its last answers and for the small request
to get through again, and reports a stall still going on then as ">= N". A run takes about three
minutes. Every process it starts runs in its own process group and is stopped at the end, also on
Ctrl-C; all traffic stays on 127.0.0.1. The table goes to stdout and to
benchmarks/results/attacks-<commit>.md (git-ignored), Etalage's logs next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

CONSENT = (
    "isGpcEnabled=0"
    f"&datestamp={quote_plus('Sat Nov 01 2025 10:00:00 GMT+0000 (Coordinated Universal Time)', safe='()')}"
    "&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
)
PROBE_PATH = "/static/probe.txt"
# A hung request gives up after this long (the probe's worst stall then reads ">= REQUEST_TIMEOUT").
REQUEST_TIMEOUT = 30.0
MIB = 1024 * 1024


# --- the origin (a subprocess: `attacks.py --origin PORT`) ----------------------------------------------


def nested_divs_page(depth: int = 100_000) -> bytes:
    """1.1 MB of <div>s nested `depth` deep after a normal hero block."""
    head = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Deep</title></head><body><section id="hero"><h1>Hi</h1></section>'
    return head + b"<div>" * depth + b"</div>" * depth + b"</body></html>"


def list_items_page(count: int = 70_000) -> bytes:
    """The home page's sortable block (#popular) with `count` product cards, under max_page_bytes (4 MiB)."""
    categories = (b"dogs", b"cats", b"rodents", b"birds", b"fish")
    cards = b"".join(b'<li data-product-id="p%d" data-category="%s">x</li>' % (i, categories[i % 5]) for i in range(count))
    return (
        b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Many</title></head><body>'
        b'<section id="hero"><h1>Hi</h1></section><ul id="popular">' + cards + b"</ul></body></html>"
    )


def origin_pages() -> dict[str, tuple[bytes, bytes]]:
    """target -> (content type, body): the demo shop's pages as it renders them, plus the attack pages."""
    import httpx

    sys.path.insert(0, str(REPO / "src"))
    from etalage.demo.shop import create_shop_app

    async def snapshot() -> dict[str, bytes]:
        transport = httpx.ASGITransport(app=create_shop_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            pages = {}
            for path in ("/", "/c/dogs", "/c/cats", "/c/rodents", "/c/birds", "/c/fish"):
                response = await client.get(path)
                response.raise_for_status()
                pages[path] = response.content
            return pages

    html = b"text/html; charset=utf-8"
    pages = {target: (html, body) for target, body in asyncio.run(snapshot()).items()}
    pages[PROBE_PATH] = (b"text/plain", b"ok\n")
    pages["/?attack=nested-divs"] = (html, nested_divs_page())
    pages["/?attack=list-items"] = (html, list_items_page())
    return pages


def serve_origin(port: int) -> None:
    """A thread per connection, keep-alive, no limit on request heads: it answers by request target
    (falling back to the path), so the attack's headers cost Etalage, not the origin."""
    pages = origin_pages()
    server = socket.create_server(("127.0.0.1", port), backlog=512)

    def answer(target: bytes) -> bytes:
        text = target.decode("latin-1")
        page = pages.get(text) or pages.get(text.split("?", 1)[0])
        status, (content_type, body) = (b"200 OK", page) if page else (b"404 Not Found", (b"text/plain", b"not found\n"))
        return b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (status, content_type, len(body), body)

    def handle(conn: socket.socket) -> None:
        buffer = bytearray()
        scanned = 0
        with conn:
            while True:
                end = buffer.find(b"\r\n\r\n", max(0, scanned - 3))
                if end < 0:
                    scanned = len(buffer)
                    chunk = conn.recv(1 << 20)
                    if not chunk:
                        return
                    buffer += chunk
                    continue
                request_line = bytes(buffer[: buffer.find(b"\r\n")])
                del buffer[: end + 4]
                scanned = 0
                parts = request_line.split(b" ")
                conn.sendall(answer(parts[1] if len(parts) == 3 else b"/"))

    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


# --- a raw HTTP/1.1 client: exact bytes out, whatever comes back ----------------------------------------


@dataclass
class Reply:
    status: str  # "200", or what went wrong: "timeout", "reset", "closed" (no HTTP answer), an OSError's name
    head: bytes = b""
    body: bytes = b""
    seconds: float = 0.0

    def cookie(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"set-cookie" and value.strip().startswith(name.encode() + b"="):
                return value.strip().split(b";", 1)[0].split(b"=", 1)[1].decode("latin-1")
        return None


def request_bytes(target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send(port: int, raw: bytes, timeout: float = REQUEST_TIMEOUT) -> Reply:
    """One request on a fresh connection, read to EOF (Connection: close)."""
    started = time.perf_counter()
    chunks = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            try:
                conn.sendall(raw)
            except OSError:
                pass  # the server may answer (413, 431, ...) and close before it read everything
            while chunk := conn.recv(1 << 20):
                chunks.append(chunk)
    except TimeoutError:
        return Reply("timeout", seconds=time.perf_counter() - started)
    except ConnectionResetError:
        if not chunks:
            return Reply("reset", seconds=time.perf_counter() - started)
    except OSError as exc:  # refused, ...: Etalage is gone
        return Reply(type(exc).__name__, seconds=time.perf_counter() - started)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ")
    status = status_line[1].decode() if len(status_line) > 1 and status_line[0].startswith(b"HTTP/") else "closed"
    return Reply(status, head, body, time.perf_counter() - started)


# --- one Etalage, with the small request in a loop and its memory sampled -------------------------------


class Probe(threading.Thread):
    """Fetches the tiny static page in a loop; keeps (started, finished) per fetch, and when the fetch
    under way started."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.samples: list[tuple[float, float]] = []
        self.current: float | None = None
        self.halt = threading.Event()
        self.changed = threading.Condition()

    def run(self) -> None:
        raw = request_bytes(PROBE_PATH, [("User-Agent", "probe")])
        while not self.halt.is_set():
            with self.changed:
                self.current = time.perf_counter()
            send(self.port, raw, timeout=600)  # a stall is measured however long it lasts (the run gives up first)
            with self.changed:
                self.samples.append((self.current, time.perf_counter()))
                self.current = None
                self.changed.notify_all()

    def wait_past(self, moment: float, until: float) -> bool:
        """Wait (up to perf_counter() == until) for a fetch that started after `moment` to finish:
        then a stall that outlasted the attack has been seen whole. False if none did in time."""
        with self.changed:
            return self.changed.wait_for(
                lambda: any(began > moment for began, _ in self.samples), timeout=max(0.0, until - time.perf_counter())
            )

    def worst(self, start: float, end: float) -> tuple[float, float, int, bool]:
        """(worst ms, median ms, fetches) of the fetches that overlapped [start, end]; the fetch under way
        counts with its time so far, and the flag says the worst is such a lower bound."""
        now = time.perf_counter()
        with self.changed:
            latencies = [(done - began) * 1000 for began, done in self.samples if began <= end and done >= start]
            ongoing = (now - self.current) * 1000 if self.current is not None and self.current <= end else None
        worst = max(latencies, default=0.0)
        if ongoing is not None and ongoing > worst:
            return ongoing, statistics.median(latencies) if latencies else ongoing, len(latencies) + 1, True
        return worst, statistics.median(latencies) if latencies else float("nan"), len(latencies), False


class Memory(threading.Thread):
    """Samples a process tree's RSS every 20 ms, for the peak during an attack."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.halt = threading.Event()

    def now_kib(self) -> int:
        return harness.rss_kib(harness.tree(self.pid))

    def run(self) -> None:
        while not self.halt.wait(0.02):
            self.peak_kib = max(self.peak_kib, self.now_kib())


@dataclass
class Etalage:
    """`etalage serve` (this checkout's src/, the project's rules/, the embedded store, default
    settings) in front of the origin, with a consenting visitor who viewed rodents three times."""

    registry: harness.Registry
    name: str
    origin_port: int
    pin: bool
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = 0
    proc: harness.Proc | None = None
    visitor: str = ""
    probe: Probe = field(init=False)
    memory: Memory = field(init=False)

    def start(self) -> None:
        self.port = harness.free_port()
        env = {
            "PYTHONPATH": str(REPO / "src"),
            "ETALAGE_SECRET": secrets.token_urlsafe(32),
            "ETALAGE_ADMIN_TOKEN": self.admin_token,
            "ETALAGE_LOG_LEVEL": "warning",
            "ETALAGE_WORKERS": "1",
        }
        argv = [sys.executable, "-m", "etalage", "serve", "--upstream", f"http://127.0.0.1:{self.origin_port}"]
        argv += ["--rules", str(REPO / "rules"), "--port", str(self.port)]
        self.proc = self.registry.start(self.name, argv, env=env, core=harness.SUT_CORE if self.pin else None)
        why = harness.wait_ready(self.proc, self.port, "/.etalage/health")
        if why:
            raise SystemExit(f"Etalage did not start: {why}")
        self.visitor = self.fresh_visitor()
        for _ in range(3):
            send(self.port, request_bytes("/c/rodents", [("Cookie", self.visitor)]))
        check = send(self.port, request_bytes("/", [("Cookie", self.visitor)]))
        if check.status != "200" or b"data-etalage-rule" not in check.body:
            raise SystemExit("the consenting visitor's home page is not personalized: the attacks would not measure the personalizing path")
        self.probe = Probe(self.port)
        self.memory = Memory(self.proc.pid)
        self.memory.peak_kib = self.memory.now_kib()
        self.probe.start()
        self.memory.start()

    def fresh_visitor(self) -> str:
        """The Cookie header of a new consenting visitor (one page view, a first visit)."""
        reply = send(self.port, request_bytes("/c/dogs", [("Cookie", f"OptanonConsent={CONSENT}")]))
        vid = reply.cookie("etalage_vid")
        if vid is None:
            raise SystemExit(f"Etalage set no visitor cookie for a consenting visitor (status {reply.status})")
        return f"OptanonConsent={CONSENT}; etalage_vid={vid}"

    def fail_opens(self) -> Counter[str]:
        """Etalage's etalage_fail_open_total counters by reason."""
        reply = send(self.port, request_bytes("/.etalage/metrics", [("Authorization", f"Bearer {self.admin_token}")]), timeout=5)
        counts: Counter[str] = Counter()
        for line in reply.body.decode("latin-1").splitlines():
            if line.startswith("etalage_fail_open_total{"):
                labels, _, value = line.rpartition(" ")
                counts[labels.split('reason="', 1)[1].split('"', 1)[0]] = int(float(value))
        return counts

    def stop(self) -> None:
        self.probe.halt.set()
        self.memory.halt.set()
        if self.proc is not None:
            self.registry.stop(self.proc, timeout=3)  # a stalled event loop never handles SIGTERM: SIGKILL then


# --- the attacks ------------------------------------------------------------------------------------------


@dataclass
class Attack:
    name: str
    build: Callable[[Etalage, int], bytes]  # request number -> the request's bytes
    count: int
    concurrency: int
    seconds: float | None = None  # how long it may keep sending (default: --seconds)


@dataclass
class Row:
    attack: str
    sent: int
    worst_ms: float
    at_least: bool  # the worst fetch had not finished when the run gave up waiting
    median_ms: float
    probes: int
    rss_before: float
    rss_peak: float
    rss_after: float
    statuses: str
    fail_opens: str


def dotted_referrer(size: int, salt: int) -> str:
    """A referrer URL of about `size` characters whose host has thousands of labels and ends in a search engine's."""
    prefix, suffix = f"https://x{salt}.", "google.com/"
    return prefix + "a." * ((size - len(prefix) - len(suffix)) // 2) + suffix


def padded(prefix: str, size: int) -> str:
    return prefix + "a" * max(0, size - len(prefix))


USER_AGENT = ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")


def page(target: str, cookie: str, *extra: tuple[str, str]) -> bytes:
    headers = [("Cookie", cookie), *extra]
    if not any(name == "User-Agent" for name, _ in extra):
        headers.append(USER_AGENT)
    return request_bytes(target, headers)


def attacks() -> list[Attack]:
    many = [(f"X-Attack-{i}", "1") for i in range(100_000)]
    many_size = len(request_bytes("/", many))
    searchers: dict[int, str] = {}

    def searcher(etalage: Etalage) -> str:
        # A first visit from a search engine is what the referrer rule (first-visit-from-search) is for.
        if id(etalage) not in searchers:
            searchers[id(etalage)] = etalage.fresh_visitor()
        return searchers[id(etalage)]

    return [
        Attack("normal page views (personalized home page)", lambda e, i: page("/", e.visitor), 40, 2),
        Attack(
            "Referer 64 KB, 32,000 host labels (referrer-host rule)",
            lambda e, i: page("/", searcher(e), ("Referer", dotted_referrer(64 * 1024, i))),
            40,
            2,
        ),
        Attack(
            "Referer 256 KB, 131,000 host labels (referrer-host rule)",
            lambda e, i: page("/", searcher(e), ("Referer", dotted_referrer(256 * 1024, i))),
            40,
            2,
        ),
        Attack(
            "User-Agent 1 MB (device rule: /?utm_campaign=spring-sale)",
            lambda e, i: page("/?utm_campaign=spring-sale", e.visitor, ("User-Agent", padded(f"Mozilla/5.0 (iPhone; {i}) ", MIB))),
            20,
            2,
        ),
        Attack(
            "100 distinct 4 MB Cookie headers",
            lambda e, i: page("/", f"{e.visitor}; junk{i}=" + padded(str(i), 4 * MIB)),
            100,
            2,
            seconds=30.0,
        ),
        Attack(
            f"100,000 headers ({many_size / MIB:.1f} MB head)",
            lambda e, i: request_bytes("/", [("Cookie", e.visitor), USER_AGENT, *many]),
            5,
            1,
        ),
        Attack("one 8 MB header line", lambda e, i: page("/", e.visitor, ("X-Attack", "a" * (8 * MIB))), 5, 1),
        Attack(
            f"origin page of 100,000 nested <div>s ({len(nested_divs_page()) / 1e6:.1f} MB)",
            lambda e, i: page("/?attack=nested-divs", e.visitor),
            10,
            1,
        ),
        Attack(
            f"origin page of 70,000 list items in #popular ({len(list_items_page()) / 1e6:.1f} MB)",
            lambda e, i: page("/?attack=list-items", e.visitor),
            10,
            1,
        ),
    ]


def run_attack(etalage: Etalage, attack: Attack | None, seconds: float, grace: float) -> Row:
    """Send the attack (None: nothing, the idle floor) until its count or its time is up; then wait up
    to `grace` seconds for its last answers and for the small request to get through again."""
    probe, memory = etalage.probe, etalage.memory
    rss_before = memory.now_kib()
    memory.peak_kib = rss_before
    before = etalage.fail_opens()
    replies: list[Reply] = []
    sent = 0
    start = time.perf_counter()
    if attack is None:
        time.sleep(seconds)  # the idle floor: a window with nothing but the small request
        end = time.perf_counter()
        give_up = end + grace
    else:
        deadline = start + (attack.seconds or seconds)
        give_up = deadline + grace
        numbers = iter(range(attack.count))
        lock = threading.Lock()

        def worker() -> None:
            nonlocal sent
            while time.perf_counter() < deadline:
                with lock:
                    number = next(numbers, None)
                    sent += number is not None
                if number is None:
                    return
                raw = attack.build(etalage, number)
                replies.append(send(etalage.port, raw, timeout=max(1.0, give_up - time.perf_counter())))

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(attack.concurrency)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(max(0.0, give_up - time.perf_counter()))
        end = time.perf_counter()
    recovered = probe.wait_past(end, give_up)
    worst, median, probes, at_least = probe.worst(start, end if recovered else time.perf_counter())
    rss_after = memory.now_kib()
    answered = list(replies)  # a worker given up on may still append
    statuses = Counter(reply.status for reply in answered)
    if sent > len(answered):
        statuses[f"no answer in {grace:g} s"] = sent - len(answered)
    text = ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items())) or "-"
    personalized = sum(1 for reply in answered if reply.status == "200" and b"data-etalage-rule" in reply.body)
    if statuses.get("200"):
        text += f" ({personalized} personalized)"
    if recovered:
        opened = etalage.fail_opens() - before
        fail_opens = ", ".join(f"{reason} x{n}" for reason, n in sorted(opened.items())) or "-"
    else:
        fail_opens = f"(still stalled {grace:g} s after the attack: not read)"
    return Row(
        attack.name if attack else "idle (the small request alone)",
        sent,
        worst,
        at_least,
        median,
        probes,
        rss_before / 1024,
        max(memory.peak_kib, rss_after) / 1024,
        rss_after / 1024,
        text,
        fail_opens,
    )


# --- running it all ---------------------------------------------------------------------------------------


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--", "src", "rules") else "")


def table(rows: list[Row]) -> str:
    lines = [
        "| attack | requests sent | worst stall of the small request, ms | its median, ms (fetches) | Etalage RSS before / peak / after, MB | status codes seen | Etalage's fail-opens |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        worst = f"{'>= ' if row.at_least else ''}{row.worst_ms:,.0f}"
        lines.append(
            f"| {row.attack} | {row.sent} | {worst} | {row.median_ms:,.1f} ({row.probes}) | "
            f"{row.rss_before:.0f} / {row.rss_peak:.0f} / {row.rss_after:.0f} | {row.statuses} | {row.fail_opens} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--origin", type=int, help=argparse.SUPPRESS)  # internal: run the origin on this port
    parser.add_argument("--seconds", type=float, default=4.0, help="longest time an attack keeps sending (default 4)")
    parser.add_argument("--grace", type=float, default=20.0, help="longest wait for Etalage to answer again after an attack (default 20)")
    parser.add_argument("--out", type=Path, help="where the table goes (default benchmarks/results/attacks-<commit>.md)")
    args = parser.parse_args(argv)
    if args.origin:
        serve_origin(args.origin)
        return 0

    revision = commit()
    out = args.out or HERE / "results" / f"attacks-{revision}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    logs = out.parent / f"attacks-{revision}-logs"
    logs.mkdir(exist_ok=True)
    registry = harness.Registry(logs)
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        origin_port = harness.free_port()
        origin = registry.start("origin", [sys.executable, str(Path(__file__).resolve()), "--origin", str(origin_port)], core=None)
        if harness.wait_ready(origin, origin_port, PROBE_PATH):
            raise SystemExit(f"the origin did not start: {origin.log_tail()}")
        if pin:
            subprocess.run(["taskset", "-a", "-p", "-c", harness.LOAD_CORE, str(origin.pid)], capture_output=True, check=False)
        rows = []
        plan: list[Attack | None] = [None, *attacks()]
        for number, attack in enumerate(plan):
            etalage = Etalage(registry, f"etalage-{number}", origin_port, pin)
            etalage.start()
            try:
                rows.append(run_attack(etalage, attack, min(args.seconds, 2.0) if attack is None else args.seconds, args.grace))
            finally:
                etalage.stop()
            row = rows[-1]
            worst = f"{'>= ' if row.at_least else ''}{row.worst_ms:,.0f}"
            print(f"{row.attack}: worst stall {worst} ms, RSS {row.rss_before:.0f} -> {row.rss_after:.0f} MB, {row.statuses}", flush=True)
        load = os.getloadavg()
        report = "\n".join(
            [
                f"# Attacks on Etalage at {revision}",
                "",
                f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on a {os.cpu_count()}-core machine (Python {platform.python_version()}), "
                f"{time.monotonic() - started:.0f} s in all; load average afterwards {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)"
                + ("; Etalage pinned to core 0, the origin to core 1." if pin else "."),
                f"A fresh `etalage serve` per row. Each attack sends until its request count or {args.seconds:g} s (the cookies: 30 s); "
                f"the small request is `GET {PROBE_PATH}` through Etalage, in a loop; `>=`: still stalled {args.grace:g} s after the attack.",
                "",
                table(rows),
                "",
            ]
        )
        out.write_text(report)
        print()
        print(report)
        print(f"written to {out}")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        registry.stop_all()


if __name__ == "__main__":
    sys.exit(main())
