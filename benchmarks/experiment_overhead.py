"""Personalized throughput with an experiment running, against the same page without it.

    PYTHONPATH=src .venv/bin/python benchmarks/experiment_overhead.py [--requests 200] [--rounds 20] [--concurrency 8]

Two `etalage serve` processes in front of one demo shop (three processes, on loopback ports):
**with** the project's rules (the hero-banner experiment running, its goals, the 5% programme
holdout) and **without** (the same folder without rules/experiments.toml and without the holdout).
The visitors are returning ones with consent and an interest in rodents, whose ids draw the
experiment's control (`per-category`) and not the holdout, so both servers send them the very same
page (banner, sorted grid, pop-in; the script checks the bytes are equal): what differs is only the
experiment's work per view (the holdout draw, the variant's choice from the stored assignment, the
conversion goals). Their first home page view, where they are assigned and exposed, comes before the
measurement.

Rounds alternate between the two servers; each sends `--requests` home page views at
`--concurrency` over keep-alive connections. The figure is the server's CPU time per view
(the scheduler's count for its threads, /proc/<pid>/task/*/schedstat, so the load generator and the
neighbours on a shared machine weigh less), whose inverse is the throughput of one saturated core; wall-clock requests per
second are shown too. The ratio is the throughput with / without (1.00: no cost; 0.90: 10% less), the
median of the rounds' pairs (a round disturbed by a neighbour does not decide it) and of the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from etalage.demo.shop import onetrust_consent_value  # noqa: E402
from etalage.rules.bucketing import position  # noqa: E402
from etalage.rules.experiments import HOLDOUT_SEED  # noqa: E402
from etalage.rules.loader import load_rules  # noqa: E402
from etalage.settings import parse_key_ring  # noqa: E402
from etalage.tokens import VisitorSigner  # noqa: E402

RULES = ROOT / "rules"
SECRET = "experiment-overhead-benchmark-secret"
VISITORS = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="home page views per round (default 200)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds per server (default 20)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        without = _rules_without_experiments(Path(work) / "rules")
        with _process(_shop_command()) as (shop, _), _etalage(shop, RULES) as (on, on_pid), _etalage(shop, without) as (off, off_pid):
            visitors = _control_visitors()
            asyncio.run(_prepare(on, off, visitors))
            cpu: dict[str, list[float]] = {"with": [], "without": []}
            rate: dict[str, list[float]] = {"with": [], "without": []}
            for _ in range(args.rounds):
                for name, url, pid in (("with", on, on_pid), ("without", off, off_pid)):
                    seconds, wall = asyncio.run(_round(url, pid, visitors, args.requests, args.concurrency))
                    cpu[name].append(seconds / args.requests)
                    rate[name].append(args.requests / wall)
    per_view = {name: sum(values) / len(values) for name, values in cpu.items()}
    pairs = sorted(off / on for on, off in zip(cpu["with"], cpu["without"], strict=True))
    print(f"home page views of returning visitors in the control, {args.rounds} rounds of {args.requests} at c{args.concurrency}")
    print(f"{'':<30}{'CPU us/view':>12}{'views/s per core':>18}{'wall req/s':>12}")
    for name, label in (("without", "without the experiment"), ("with", "with the experiment running")):
        print(f"{label:<30}{per_view[name] * 1e6:>12,.0f}{1 / per_view[name]:>18,.0f}{statistics.median(rate[name]):>12,.0f}")
    print(
        f"throughput with / without (CPU per view): median of the rounds {statistics.median(pairs):.3f}, of the totals"
        f" {per_view['without'] / per_view['with']:.3f}, rounds {pairs[0]:.3f} to {pairs[-1]:.3f} (target: at least 0.90)"
    )
    print(
        f"wall req/s with / without (medians; the load generator shares the machine): {statistics.median(rate['with']) / statistics.median(rate['without']):.3f}"
    )


def _rules_without_experiments(target: Path) -> Path:
    """The project's rules without the experiment (and its goals) and without the programme holdout."""
    shutil.copytree(RULES, target)
    (target / "experiments.toml").unlink()
    site = target / "site.toml"
    site.write_text("\n".join(line for line in site.read_text().splitlines() if not line.startswith("holdout")) + "\n")
    ruleset = load_rules(target)
    assert not ruleset.experiments and not ruleset.site.holdout
    return target


def _control_visitors() -> list[str]:
    """Visitor ids in the hero-banner's control and outside the holdout: their page is the one without experiments."""
    ruleset = load_rules(RULES)
    hero = next(experiment for experiment in ruleset.experiments if experiment.id == "hero-banner")
    found = []
    for number in range(100_000):
        unit = f"bench{number:017d}"
        variant = hero.draw(unit)
        if position(HOLDOUT_SEED, unit) >= ruleset.site.holdout and variant is not None and variant.id == hero.control.id:
            found.append(unit)
            if len(found) == VISITORS:
                return found
    raise RuntimeError("not enough visitor ids in the control")


def _cookies(visitor: str) -> dict[str, str]:
    """The Cookie header of a visitor who accepted the demo shop's banner (OneTrust's cookie, as its banner writes it)."""
    signer = VisitorSigner(parse_key_ring(SECRET))
    consent = onetrust_consent_value("accept", datetime.now(UTC))
    return {"cookie": f"OptanonConsent={consent}; etalage_vid={signer.sign(visitor)}"}


async def _prepare(on: str, off: str, visitors: list[str]) -> None:
    """Each visitor's interest (rodents, three views) on both servers, then a first home page view
    (assignment and exposure on the server with the experiment); both must send the same page."""
    async with httpx.AsyncClient(timeout=60) as client:
        for visitor in visitors:
            for url in (on, off):
                for _ in range(3):
                    (await client.get(f"{url}/c/rodents", headers=_cookies(visitor))).raise_for_status()
        for visitor in visitors:
            for url in (on, off):
                (await client.get(f"{url}/", headers=_cookies(visitor))).raise_for_status()
            pages = [await client.get(f"{url}/", headers=_cookies(visitor)) for url in (on, off)]
            if pages[0].content != pages[1].content or b'data-etalage-rule="hero-by-interest"' not in pages[0].content:
                import difflib

                diff = difflib.unified_diff(pages[0].text.splitlines(), pages[1].text.splitlines(), lineterm="", n=0)
                rules = [page.text.count("data-etalage-rule") for page in pages]
                raise RuntimeError(f"the two servers do not send the same personalized page ({rules}):\n" + "\n".join(list(diff)[:40]))
        me = (await client.get(f"{on}/.etalage/me.json", headers=_cookies(visitors[0]))).json()
        assert [(line["experiment"], line["variant"], line["exposed_at"] is not None) for line in me["experiments"]] == [
            ("hero-banner", "per-category", True)
        ], me["experiments"]


async def _round(url: str, pid: int, visitors: list[str], requests: int, concurrency: int) -> tuple[float, float]:
    """The server's CPU seconds and the wall seconds for `requests` home page views."""
    jars = [_cookies(visitor) for visitor in visitors]
    numbers = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for number in numbers:
                answer = await client.get("/", headers=jars[number % len(jars)])
                if answer.status_code != 200 or b"data-etalage-rule" not in answer.content:
                    raise RuntimeError(f"{url}/ answered {answer.status_code} without personalizing")

        await client.get("/")  # connections open before the clock starts
        start_cpu, start = _cpu(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return _cpu(pid) - start_cpu, time.perf_counter() - start


def _cpu(pid: int) -> float:
    """The CPU seconds of every thread of the process, in nanoseconds as the scheduler counts them
    (/proc/<pid>/stat's clock ticks of 10 ms are too coarse for rounds of a fraction of a second)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _shop_command() -> list[str]:
    code = "import sys, uvicorn; from etalage.demo.shop import create_shop_app; uvicorn.run(create_shop_app(), port=int(sys.argv[1]), log_level='warning')"
    return [sys.executable, "-c", code]


@contextmanager
def _etalage(shop: str, rules: Path) -> Iterator[tuple[str, int]]:
    command = [sys.executable, "-m", "etalage", "serve", "--upstream", shop, "--rules", str(rules), "--workers", "1"]
    with _process(command, port_flag="--port") as served:
        yield served


@contextmanager
def _process(command: list[str], port_flag: str | None = None) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "ETALAGE_SECRET": SECRET,
        # Measure personalization, not load shedding or a first look given up on a busy machine.
        "ETALAGE_OVERLOAD_LAG": "3600",
        "ETALAGE_ANALYSIS_TIMEOUT": "60",
        "ETALAGE_LOG_LEVEL": "warning",
    }
    arguments = [*command, port_flag, str(port)] if port_flag else [*command, str(port)]
    process = subprocess.Popen(arguments, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/.etalage/health" if port_flag else url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command)} did not start") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
