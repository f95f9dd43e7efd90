"""What a first look at a page costs: etalage.html.page.analyse() in full, no layout reused.

    PYTHONPATH=src .venv/bin/python benchmarks/first_look.py [--runs N] [--instructions] [--profile]

Two pages, each with the blocks its rules ask for:

- `100k`: the benchmark's 100 KB list page (benchmarks/pages.py, 120 cards, the static variant),
  with the blocks the benchmark's 20-rule folder uses on it (#hero, #popular with its cards'
  data attributes), loaded through the rules loader as Etalage loads them;
- `oscar`: a Django Oscar-shaped listing (20 cards `ol.row > li > article.product_pod`, each with
  an add-to-basket form holding a fresh 64-character `csrfmiddlewaretoken`, a render time in the
  head), one item block whose product ids come from the cards' links, as real-shops.md describes.

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

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

import pages  # noqa: E402
from etalage.html.page import BlockSpec, PageLayout, analyse  # noqa: E402
from etalage.rules.loader import load_rules  # noqa: E402

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

_OSCAR_CARD = """\
<li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">
    <article class="product_pod">
        <div class="image_container">
            <a href="/catalogue/{slug}_{pk}/"><img src="/media/cache/{pk:x}/{slug}.jpg" alt="{title}" class="thumbnail"></a>
        </div>
        <p class="star-rating {stars}">
            <i class="icon-star"></i><i class="icon-star"></i><i class="icon-star"></i><i class="icon-star"></i><i class="icon-star"></i>
        </p>
        <h3><a href="/catalogue/{slug}_{pk}/" title="{title}">{title}</a></h3>
        <div class="product_price">
            <p class="price_color">&pound;{price}</p>
            <p class="instock availability"><i class="icon-ok"></i> In stock</p>
            <form action="/basket/add/{pk}/" method="post">
                <input type="hidden" name="csrfmiddlewaretoken" value="{token}">
                <input type="hidden" name="quantity" value="1">
                <button type="submit" class="btn btn-primary btn-block" data-loading-text="Adding...">Add to basket</button>
            </form>
        </div>
    </article>
</li>"""

_OSCAR_PAGE = """\
<!DOCTYPE html>
<html lang="en-gb" class="no-js">
<head>
    <title>All products | Oscar - Sandbox</title>
    <meta http-equiv="content-type" content="text/html; charset=UTF-8">
    <meta name="created" content="{created}">
    <meta name="description" content="">
    <meta name="viewport" content="width=device-width">
    <meta name="robots" content="NOARCHIVE,NOCACHE">
    <link rel="shortcut icon" href="/static/oscar/favicon.ico">
    <link rel="stylesheet" type="text/css" href="/static/oscar/css/styles.css">
    <link rel="stylesheet" href="/static/oscar/js/bootstrap-datetimepicker/bootstrap-datetimepicker.css">
</head>
<body id="default" class="default">
<header class="header container-fluid">
    <div class="page_inner">
        <div class="row">
            <div class="col-sm-7 h1"><a href="/">Oscar</a><small> Domain-driven e-commerce for Django</small></div>
            <div class="basket-mini pull-right hidden-xs">
                <strong>Basket total:</strong> &pound;0.00
                <span class="btn-group"><a class="btn btn-default" href="/basket/">View basket</a></span>
            </div>
        </div>
    </div>
</header>
<div class="navbar primary navbar-static-top navbar-inverse">
    <div class="container-fluid">
        <div class="navbar-header pull-right">
            <button type="button" class="navbar-toggle" data-toggle="collapse" data-target=".primary-collapse">
                <span class="icon-bar"></span><span class="icon-bar"></span><span class="icon-bar"></span>
            </button>
        </div>
        <div class="navbar-collapse primary-collapse collapse">
            <ul id="browse" class="nav navbar-nav">
                <li class="dropdown active open">
                    <a href="#" class="dropdown-toggle" data-toggle="dropdown">Browse store <b class="caret"></b></a>
                    <ul class="dropdown-menu" data-navigation="dropdown-menu">
{navigation}
                    </ul>
                </li>
            </ul>
            <form method="get" action="/search/" class="navbar-form navbar-right">
                <div class="form-group"><input type="search" name="q" id="id_q" class="form-control" placeholder="Search"></div>
                <input type="submit" value="Search" class="btn btn-default">
            </form>
        </div>
    </div>
</div>
<div class="container-fluid page">
    <div class="page_inner">
        <ul class="breadcrumb">
            <li><a href="/">Home</a></li>
            <li class="active">All products</li>
        </ul>
        <div class="row">
            <aside class="sidebar col-sm-4 col-md-3">
                <div id="promotions_left"></div>
                <div class="side_categories">
                    <ul class="nav nav-list">
                        <li><a href="/catalogue/category/books_1/">Books</a>
                            <ul>
{sidebar}
                            </ul>
                        </li>
                    </ul>
                </div>
            </aside>
            <div class="col-sm-8 col-md-9">
                <div class="page-header action"><h1>All products</h1></div>
                <div id="messages"></div>
                <div id="promotions"></div>
                <form method="get" class="form-horizontal">
                    <div style="display:none"><input type="hidden" name="q" value=""></div>
                    <strong>{count}</strong> results - showing <strong>1</strong> to <strong>20</strong>.
                </form>
                <section>
                    <div>
                        <ol class="row">
{cards}
                        </ol>
                        <div>
                            <ul class="pager">
                                <li class="current">Page 1 of {pages}</li>
                                <li class="next"><a href="?page=2">next</a></li>
                            </ul>
                        </div>
                    </div>
                </section>
            </div>
        </div>
    </div>
</div>
<footer class="footer container-fluid"></footer>
<script src="/static/oscar/js/jquery/jquery.min.js"></script>
<script src="/static/oscar/js/bootstrap3/bootstrap.min.js"></script>
<script src="/static/oscar/js/oscar/ui.js"></script>
<script>
    $(function() {{
        oscar.init();
        oscar.search.init();
    }});
</script>
</body>
</html>
"""

_TITLES = [
    "The Shellcoder's Handbook",
    "Hacking Exposed Wireless",
    "Coders at Work",
    "Reversing: Secrets of Reverse Engineering",
    "Google Hacking for Penetration Testers",
    "Gray Hat Hacking",
    "The Art of Deception",
    "Hacking: The Art of Exploitation",
    "Silence on the Wire",
    "Applied Cryptography",
]
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def oscar_page(variant: int) -> bytes:
    """A stock-Oscar-shaped listing: the same 20 products, a fresh token per card per variant."""
    products = random.Random(20)
    tokens = random.Random(1000 + variant)
    cards = []
    for n in range(20):
        title = products.choice(_TITLES) + f" ({n + 1}th edition)"
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        cards.append(
            _OSCAR_CARD.format(
                slug=slug,
                pk=100 + n,
                title=title.replace("'", "&#39;"),
                stars=products.choice(["One", "Two", "Three", "Four", "Five"]),
                price=f"{products.randrange(5, 60)}.{products.randrange(100):02d}",
                token="".join(tokens.choice(_TOKEN_CHARS) for _ in range(64)),
            )
        )
    categories = [f"Category {chr(65 + n)}" for n in range(12)]
    navigation = "\n".join(f'<li><a href="/catalogue/category/c{n}_{n + 2}/">{c}</a></li>' for n, c in enumerate(categories))
    sidebar = "\n".join(f'<li><a href="/catalogue/category/books/c{n}_{n + 2}/">{c}</a></li>' for n, c in enumerate(categories))
    created = f"24th Nov 2026 10:{variant // 60:02d}:{variant % 60:02d}"
    page = _OSCAR_PAGE.format(created=created, navigation=navigation, sidebar=sidebar, cards="\n".join(cards), count=213, pages=11)
    return page.encode()


def cases() -> dict[str, tuple[list[bytes], tuple[BlockSpec, ...]]]:
    return {"100k": (list_pages(), list_page_specs()), "oscar": ([oscar_page(n) for n in range(VARIANTS)], OSCAR_SPECS)}


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
