"""What a first look at a page costs: etalage.html.page.analyse() in full, no layout reused.

    PYTHONPATH=src .venv/bin/python benchmarks/first_look.py [--runs N] [--instructions] [--profile]

Two pages, each with the blocks its rules ask for:

- `100k`: the benchmark's 100 KB list page (benchmarks/pages.py, 120 cards, the static variant),
  with the blocks the benchmark's 20-rule folder uses on it (#hero, #popular with its cards'
  data attributes), loaded through the rules loader as Etalage loads them;
- `oscar`: the Django Oscar-shaped listing of tests/support/oscar_page.py (20 cards
  `ol.row > li > article.product_pod`, each with an add-to-basket form holding a fresh 64-character
  `csrfmiddlewaretoken`, a render time in the head), one item block whose product ids come from the
  cards' links, as real-shops.md describes.

For each page: analyse() and, as the peer, a plain selectolax parse + serialize of the same bytes
(what the straightforward proxy does per view), timed --runs times each (default 300) after a
warm-up; min and median in ms. Every run gets a different body (fresh tokens), as on a shop whose
pages change on every view. The machine is shared: compare medians of one run, or better the
instruction counts of --instructions, which runs each case under valgrind's callgrind (about half
a minute): the instructions of K calls minus those of none, divided by K, with PYTHONHASHSEED=0,
so that they repeat to a fraction of a percent whatever else runs. --profile prints cProfile's
top functions of analyse() per page.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

import pages  # noqa: E402
from etalage.html.page import BlockSpec, PageLayout, analyse  # noqa: E402
from etalage.rules.loader import load_rules  # noqa: E402
from tests.support.oscar_page import listing  # noqa: E402

VARIANTS = 16  # distinct bodies per page, used in turn
INSTRUCTION_CALLS = 10  # analyse() calls counted under callgrind per case


def list_page_specs() -> tuple[BlockSpec, ...]:
    """The blocks the benchmark's 20-rule folder uses on /list/100k, as the loader builds them."""
    with tempfile.TemporaryDirectory() as tmp:
        ruleset = load_rules(pages.write_rules(Path(tmp), 20, REPO / "rules" / "templates"))
    names = sorted({rule.block for rule in ruleset.rules_for("/list/100k") if rule.block})
    return tuple(ruleset.blocks[name].spec for name in names)


def list_pages() -> list[bytes]:
    return [pages.list_page(120, f"{random.Random(n).getrandbits(128):032x}").encode() for n in range(VARIANTS)]


OSCAR_SPECS = (BlockSpec("products", "ol.row", "li", (), item_links=True),)


def cases() -> dict[str, tuple[list[bytes], tuple[BlockSpec, ...]]]:
    return {"100k": (list_pages(), list_page_specs()), "oscar": ([listing(n) for n in range(VARIANTS)], OSCAR_SPECS)}


def check(name: str, layout: PageLayout, specs: tuple[BlockSpec, ...]) -> None:
    """The case measures what it should: every block located and verified."""
    if layout.problems or len(layout.blocks) != len(specs) or layout.body_end is None:
        raise SystemExit(f"{name}: analyse() did not verify every block: {layout.problems}")


def peer(body: bytes) -> str:
    """The straightforward proxy's work per view: parse the page, serialize it."""
    return LexborHTMLParser(body).html or ""


def timed(call: Callable[[bytes], object], bodies: list[bytes], runs: int) -> tuple[float, float]:
    """(min, median) of `runs` calls, in ms."""
    for body in bodies[:4]:
        call(body)
    samples = []
    for n in range(runs):
        body = bodies[n % len(bodies)]
        start = time.perf_counter_ns()
        call(body)
        samples.append(time.perf_counter_ns() - start)
    return min(samples) / 1e6, statistics.median(samples) / 1e6


def instructions(case: str, what: str) -> float:
    """Instructions per call of `what` (analyse / peer) on `case`, counted by callgrind."""
    counts = []
    for calls in (0, INSTRUCTION_CALLS):
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            case,
            what,
            str(calls),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / INSTRUCTION_CALLS


def child(case: str, what: str, calls: int) -> None:
    """Under callgrind: set up, warm up with two calls, then `calls` more. The setup's objects are
    frozen out of the garbage collector, so that its full collections count what the calls made."""
    bodies, specs = cases()[case]
    call: Callable[[bytes], object] = peer if what == "peer" else (lambda body: analyse(body, specs))
    for body in bodies[:2]:
        call(body)
    gc.collect()
    gc.freeze()
    for n in range(calls):
        call(bodies[n % len(bodies)])


def profile(bodies: list[bytes], specs: tuple[BlockSpec, ...]) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(200):
        analyse(bodies[n % len(bodies)], specs)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of analyse()")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "WHAT", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    print("| page | size | analyse() min / median ms | selectolax parse+serialize min / median ms | ratio (medians) |")
    print("|---|---:|---:|---:|---:|")
    found = cases()
    for name, (bodies, specs) in found.items():
        check(name, analyse(bodies[0], specs), specs)
        mine = timed(lambda body, specs=specs: analyse(body, specs), bodies, args.runs)
        theirs = timed(peer, bodies, args.runs)
        size = f"{len(bodies[0]) / 1024:.1f} KiB"
        print(f"| {name} | {size} | {mine[0]:.3f} / {mine[1]:.3f} | {theirs[0]:.3f} / {theirs[1]:.3f} | {mine[1] / theirs[1]:.2f}x |")
    if args.instructions:
        print()
        print("| page | analyse() instructions | selectolax parse+serialize instructions | ratio |")
        print("|---|---:|---:|---:|")
        for name in found:
            mine_i, theirs_i = instructions(name, "analyse"), instructions(name, "peer")
            print(f"| {name} | {mine_i / 1e6:.2f} M | {theirs_i / 1e6:.2f} M | {mine_i / theirs_i:.2f}x |")
    if args.profile:
        for name, (bodies, specs) in found.items():
            print(f"\n## {name}")
            profile(bodies, specs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
