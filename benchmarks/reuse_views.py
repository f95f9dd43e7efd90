"""Per-view cost of Personalizer.personalize() on a shop-shaped listing whose every view differs.

The page is tests/support/oscar_page.py's stock Django Oscar listing (a fresh 64-character CSRF
token in every card's basket form, a render time in the head), the rules tests/rulesets/good/oscar
(a banner, the cards sorted, two products recommended after them). Each view gets a body with new
tokens, as the shop serves it; the figure is the CPU time (process_time: on a shared machine wall time
also measures the neighbours) of personalize() per view once the page's first body has been analysed,
beside a plain selectolax parse, edit and serialize of the same body. Single process, no server: this
isolates what the layout reuse (etalage.html.reuse) saves.

    PYTHONPATH=src .venv/bin/python benchmarks/reuse_views.py [--cards 20] [--views 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from etalage.engine.personalize import Personalizer  # noqa: E402
from etalage.metrics import Metrics  # noqa: E402
from etalage.profiles.profile import Profile  # noqa: E402
from etalage.rules.conditions import Visit  # noqa: E402
from etalage.rules.loader import load_rules  # noqa: E402
from tests.support.oscar_page import listing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--views", type=int, default=300)
    args = parser.parse_args()
    rules = load_rules(ROOT / "tests" / "rulesets" / "good" / "oscar")
    bodies = [listing(seed, args.cards) for seed in range(args.views + 1)]
    profile = Profile(category_views={"games": 3, "books": 1})
    visit = Visit(profile, rules.site, rules.catalog, "/catalogue/", {}, None, "", time.time(), None)
    metrics = Metrics()
    personalizer = Personalizer(metrics)
    personalizer.personalize(rules, visit, bodies[0], "text/html; charset=utf-8")  # the first look
    times = []
    for body in bodies[1:]:
        start = time.process_time()
        personalizer.personalize(rules, visit, body, "text/html; charset=utf-8")
        times.append(time.process_time() - start)
    peer = []
    for body in bodies[1:]:
        start = time.process_time()
        tree = LexborHTMLParser(body)
        cards = tree.css("ol.row > li")
        if len(cards) > 1:
            cards[0].insert_after(cards[-1])  # one card moved, as a sort would
        out = (tree.html or "").encode()
        peer.append(time.process_time() - start)
        assert out
    reused = metrics.value("etalage_layouts_total", source="reused")
    analysed = metrics.value("etalage_layouts_total", source="analysed")
    print(f"page {len(bodies[0]) / 1024:.1f} KiB, {args.cards} cards, {args.views} views with fresh tokens")
    print(f"layouts: {analysed:.0f} analysed, {reused:.0f} reused")
    print(f"personalize() CPU per view: median {_ms(statistics.median(times))}, minimum {_ms(min(times))}")
    print(f"selectolax parse, move one card, serialize, CPU: median {_ms(statistics.median(peer))}, minimum {_ms(min(peer))}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


if __name__ == "__main__":
    main()
