"""What a crash loses on Redis: page views recorded before Etalage is killed with SIGKILL.

    .venv/bin/python benchmarks/crash_loss.py [--visitors 60] [--views 5] [--delays 0,0.05,0.5] [--rounds 3]

Per write delay (ETALAGE_REDIS_WRITE_DELAY) and round: a throwaway redis-server and `etalage demo
--redis-url` (the demo shop and Etalage in one process group, this checkout's src/), then --visitors
consenting visitors at once, each viewing a category page --views times in a row. The moment the last
response has arrived, the process group gets SIGKILL: no shutdown, no flush. The script then reads each
visitor's profile from Redis and counts the category views it holds. A view is lost when its response
went out but the process died before writing it: the write-behind queue holds at most
ETALAGE_REDIS_WRITE_DELAY seconds of views (deploy/README.md), so the losses grow with the delay and are
the views of about the last delay's worth of traffic. Prints a table; about 10 s per round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from etalage.profiles.redis import RedisStore  # noqa: E402

CONSENT = (
    "isGpcEnabled=0"
    f"&datestamp={quote_plus('Sat Nov 01 2025 10:00:00 GMT+0000 (Coordinated Universal Time)', safe='()')}"
    "&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
)
CATEGORIES = ("dogs", "cats", "rodents")


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/.etalage/health", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answered on port {port} within {timeout:.0f} s")


async def browse(port: int, visitors: int, views: int) -> list[str]:
    """Each visitor's id, after all its views were answered."""

    async def visitor(n: int) -> str:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies={"OptanonConsent": CONSENT}) as client:
            for _ in range(views):
                response = await client.get(f"/c/{CATEGORIES[n % len(CATEGORIES)]}")
                response.raise_for_status()
            return client.cookies["etalage_vid"].split(".")[0]

    return list(await asyncio.gather(*(visitor(n) for n in range(visitors))))


async def recorded(redis_url: str, ids: list[str]) -> list[int]:
    store = RedisStore(redis_url, retention=86400)
    try:
        counts = []
        for visitor_id in ids:
            profile = await store.load(visitor_id)
            counts.append(sum(profile.category_views.values()) if profile is not None else 0)
        return counts
    finally:
        await store.aclose()


def one_round(delay: float, visitors: int, views: int) -> tuple[int, int]:
    """(views lost, visitors who lost any)."""
    with tempfile.TemporaryDirectory() as state:
        redis_port, port, shop_port = harness.free_port(), harness.free_port(), harness.free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", state],
            stdout=subprocess.DEVNULL,
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "ETALAGE_REDIS_WRITE_DELAY": str(delay)}
        demo = subprocess.Popen(
            [sys.executable, "-m", "etalage", "demo", "--port", str(port), "--shop-port", str(shop_port)]
            + ["--state-dir", state, "--redis-url", redis_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            ids = asyncio.run(browse(port, visitors, views))
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
            counts = asyncio.run(recorded(redis_url, ids))
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
            redis.terminate()
            redis.wait()
    return sum(views - count for count in counts), sum(count < views for count in counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--delays", default="0,0.05,0.5", help="write delays in seconds, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    total = args.visitors * args.views
    print(f"{args.visitors} visitors x {args.views} views = {total} views per round, SIGKILL after the last response\n")
    print("| write delay | views lost per round | visitors who lost views |")
    print("|---:|---|---|")
    for delay in (float(text) for text in args.delays.split(",")):
        rounds = [one_round(delay, args.visitors, args.views) for _ in range(args.rounds)]
        lost = ", ".join(f"{views}" for views, _ in rounds)
        who = ", ".join(f"{people}" for _, people in rounds)
        print(f"| {delay:g} s | {lost} (of {total}) | {who} (of {args.visitors}) |", flush=True)


if __name__ == "__main__":
    main()
