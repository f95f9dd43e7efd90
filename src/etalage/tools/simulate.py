"""`etalage simulate`: simulated visitors through a running Etalage, with a known true uplift, to check
that the experiment's report finds it.

Each visitor is a browser of its own (its own cookies) on the running demo shop, over HTTP: it
accepts the consent banner (`POST /consent`), views a category, and opens the home page, where the
experiment's rules apply (assignment and exposure). Once the store has settled (Redis writes page
views in batches), each comes back, reads its variant from `/.etalage/me.json` and places an order
through the shop's checkout (`POST /checkout`, then the thank-you page, where Etalage learns the
order and its value) with a probability that depends on its variant: `base_rate` for every variant,
`base_rate * (1 + uplift)` for the one under test. Then it reads the report
(`/.etalage/admin/experiments?format=json`, the numbers `etalage report` prints) and says whether the
95% interval of each variant's uplift covers the true one, and whether the report counts exactly the
visitors it exposed and the orders they placed.

The visitors are many at once (`concurrency` connections), each one's choices drawn from its own
random generator seeded by `seed` and its number, so the order in which they finish changes nothing.
Given the server's signing secret, the visitor ids are drawn from the seed too (else the server
issues them), and the same seed gives the same visitors, variants and orders: the same numbers.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from etalage.tokens import VisitorSigner

__all__ = ["SimulationError", "Options", "Visitor", "Check", "Simulation", "simulate"]

RESULTS_PATH = "/.etalage/admin/experiments?format=json"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CATEGORY_LINK = re.compile(r'href="/c/([a-z0-9-]+)"')
_PRODUCT = re.compile(r'data-product-id="([^"]+)"')


class SimulationError(Exception):
    """The simulation cannot run or read its results (no admin token, Etalage unreachable, no experiment)."""


@dataclass(frozen=True, slots=True)
class Options:
    base_url: str
    admin_token: str
    visitors: int = 2000
    concurrency: int = 16
    base_rate: float = 0.2  # every variant's true conversion rate, but the one under test
    uplift: float = 0.25  # the true relative uplift of the variant under test (0.25: +25%)
    experiment: str | None = None  # default: the report's first experiment
    variant: str | None = None  # the variant under test; default: the experiment's second variant
    goal: str = "order"
    seed: int = 1
    signer: VisitorSigner | None = None  # the server's secret: visitor ids from the seed
    cookie_name: str = "etalage_vid"


@dataclass(slots=True)
class Visitor:
    """What one simulated visitor did and was told."""

    variant: str | None = None  # in the experiment; None: not in it (held out, beyond its coverage)
    held_out: bool = False
    exposed: bool = False
    ordered: bool = False
    requests: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One variant as the report has it, against what the simulation did and knows to be true."""

    variant: str
    control: bool
    driven: int  # simulated visitors in the variant
    exposed: int  # of them, exposed (their /.etalage/me.json says so)
    ordered: int  # of the exposed, those who placed an order
    units: int  # what the report counts
    conversions: int
    true_uplift: float
    uplift: float | None
    low: float | None
    high: float | None
    p_value: float | None

    @property
    def covers(self) -> bool | None:
        if self.control or self.low is None or self.high is None:
            return None
        return self.low <= self.true_uplift <= self.high


@dataclass
class Simulation:
    options: Options
    experiment: str
    variant: str
    visitors: list[Visitor]
    seconds: float
    checks: list[Check] = field(default_factory=list)
    srm_p_value: float = 1.0
    srm: bool = False
    counted_before: int = 0  # units the report held before the run (earlier visitors)

    @property
    def target(self) -> Check:
        return next(check for check in self.checks if check.variant == self.variant)

    @property
    def exact(self) -> bool:
        """Whether the report counts exactly the exposures and orders this run made."""
        return all(check.units == check.exposed and check.conversions == check.ordered for check in self.checks)

    def render(self) -> str:
        failed = sum(1 for visitor in self.visitors if visitor.error)
        requests = sum(visitor.requests for visitor in self.visitors)
        held_out = sum(1 for visitor in self.visitors if visitor.held_out)
        # Not drawn: the page went out unpersonalized (load shedding, a slow first look), or beyond the coverage.
        outside = sum(1 for visitor in self.visitors if visitor.variant is None and not visitor.held_out and not visitor.error)
        lines = [
            f"drove {len(self.visitors):,} visitors ({requests:,} requests) through {self.options.base_url} in {self.seconds:.1f} s"
            f" ({len(self.visitors) / max(self.seconds, 1e-9):,.0f} visitors/s); {failed:,} failed, {held_out:,} in the programme holdout,"
            f" {outside:,} not in the experiment",
            f"experiment {self.experiment}, goal {self.options.goal}: true conversion rate {self.options.base_rate:.1%}, "
            f"{self.variant} {self.options.uplift:+.1%} relative",
            f"  {'variant':<16} {'driven':>7} {'exposed':>8} {'orders':>7} {'report':>14}  uplift [95% interval]",
        ]
        for check in self.checks:
            if check.control:
                found = "(control)"
            elif check.uplift is None or check.low is None or check.high is None:
                found = "not yet estimable"
            else:
                verdict = "covers" if check.covers else "MISSES"
                found = (
                    f"{check.uplift:+.1%} [{check.low:+.1%}, {check.high:+.1%}] p={check.p_value or 0:.3f}: "
                    f"{verdict} the true {check.true_uplift:+.1%}"
                )
            report = f"{check.units}/{check.conversions}"
            lines.append(f"  {check.variant:<16} {check.driven:>7,} {check.exposed:>8,} {check.ordered:>7,} {report:>14}  {found}")
        mismatch = "MISMATCH: the split is off" if self.srm else "no mismatch"
        lines.append(f"sample ratio: p={self.srm_p_value:.3g} ({mismatch})")
        if self.exact:
            lines.append("the report counts exactly the visitors this run exposed and the orders they placed (report: units/conversions)")
        elif self.counted_before:
            lines.append(
                f"the report also counts {self.counted_before:,} earlier visitor{'' if self.counted_before == 1 else 's'}: for a clean check, start the demo with a fresh --state-dir"
            )
        else:
            lines.append("the report's counts differ from what this run did (report: units/conversions)")
        covers = self.target.covers
        verdict = "covers" if covers else "does not cover" if covers is False else "cannot estimate"
        lines.append(
            f"verdict: the report's 95% interval for {self.variant} {verdict} the true uplift of {self.options.uplift:+.1%}"
            + ("" if covers else " (a 95% interval misses the truth 1 time in 20: try another --seed or more --visitors)")
        )
        return "\n".join(lines) + "\n"


async def simulate(options: Options) -> Simulation:
    """Drive the visitors, then read the report; raises SimulationError when it cannot."""
    limits = httpx.Limits(max_connections=options.concurrency, max_keepalive_connections=options.concurrency)
    # One connection pool for every visitor; each visitor's cookies are its own (_Browser), none kept here.
    async with httpx.AsyncClient(
        base_url=options.base_url,
        limits=limits,
        timeout=60,
        cookies=CookieJar(policy=_NoCookies()),
        follow_redirects=False,
        trust_env=False,
    ) as client:
        before = await _report(client, options)
        experiment = _experiment(before, options.experiment)
        names = [variant["variant"] for variant in experiment["variants"]]
        variant = options.variant or names[1]
        if variant == names[0]:
            raise SimulationError(f"{variant!r} is the control of {experiment['experiment']!r}: give a variant to test against it")
        if variant not in names:
            raise SimulationError(f"experiment {experiment['experiment']!r} has no variant {variant!r} (it has {', '.join(names)})")
        counted_before = sum(v["units"] for v in experiment["variants"])
        try:
            home = await client.get("/")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SimulationError(f"cannot open the shop's home page: {exc}") from None
        categories = sorted(set(_CATEGORY_LINK.findall(home.text)))
        if not categories:
            raise SimulationError("the home page links to no category page (/c/...): the simulation drives the demo shop")
        site = _Site(experiment["experiment"], variant, categories)
        visitors = [Visitor() for _ in range(options.visitors)]
        browsers = [_Browser(client, visitor, random.Random(f"{options.seed}:{number}")) for number, visitor in enumerate(visitors)]
        start = time.perf_counter()
        await _drive(options, browsers, lambda browser: _browse(browser, options, site))
        # Stores may write a page view's changes a moment after answering it (Redis: in batches), so a
        # visitor's own page could still miss the variant just drawn: the visitors come back to buy
        # once the store has settled, each knowing its variant.
        await _settled(client, options, site.experiment)
        await _drive(options, browsers, lambda browser: _buy(browser, options, site))
        seconds = time.perf_counter() - start
        simulation = Simulation(options, experiment["experiment"], variant, visitors, seconds, counted_before=counted_before)
        for _ in range(40):
            _read(simulation, _experiment(await _report(client, options), experiment["experiment"]))
            if simulation.exact or counted_before:
                break
            await asyncio.sleep(0.25)
        return simulation


@dataclass(frozen=True, slots=True)
class _Site:
    experiment: str
    variant: str  # the one under test
    categories: list[str]  # the category pages' slugs, from the home page's links


async def _drive(options: Options, browsers: list[_Browser], step: Callable[[_Browser], Awaitable[None]]) -> None:
    """`step` for every visitor, `options.concurrency` at once; a visitor that failed once is left out."""
    waiting = iter(browsers)

    async def worker() -> None:
        for browser in waiting:
            if browser.visitor.error is None:
                try:
                    await step(browser)
                except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, IndexError) as exc:
                    browser.visitor.error = f"{type(exc).__name__}: {exc}"

    await asyncio.gather(*(worker() for _ in range(options.concurrency)))


async def _settled(client: httpx.AsyncClient, options: Options, experiment: str) -> None:
    """Wait until the report's exposed units stop changing (at most some seconds)."""
    last = -1
    for _ in range(40):
        units = sum(v["units"] for v in _experiment(await _report(client, options), experiment)["variants"])
        if units == last:
            return
        last = units
        await asyncio.sleep(0.25)


async def _browse(browser: _Browser, options: Options, site: _Site) -> None:
    """Consent, a category (an interest), then the experiment's page, where it is assigned and exposed."""
    if options.signer is not None:
        browser.jar[options.cookie_name] = options.signer.sign("".join(browser.rng.choice(_ID_ALPHABET) for _ in range(22)))
    await browser.send("POST", "/consent", data={"choice": "accept"})
    listing = await browser.get(f"/c/{browser.rng.choice(site.categories)}")
    browser.products = _PRODUCT.findall(listing.text)
    await browser.get("/")


async def _buy(browser: _Browser, options: Options, site: _Site) -> None:
    """The visitor's variant from its own page, then an order with its variant's probability."""
    me = (await browser.get("/.etalage/me.json")).json()
    visitor = browser.visitor
    visitor.held_out = bool((me.get("holdout") or {}).get("in_holdout"))
    for line in me["experiments"]:
        if line["experiment"] == site.experiment:
            visitor.variant, visitor.exposed = line["variant"], line["exposed_at"] is not None
    rate = options.base_rate * (1 + options.uplift) if visitor.variant == site.variant else options.base_rate
    if browser.rng.random() < rate:
        answer = await browser.send("POST", "/checkout", data={"product": browser.rng.choice(browser.products)})
        await browser.get(answer.headers["location"])
        visitor.ordered = True


class _NoCookies(DefaultCookiePolicy):
    """The shared client keeps no cookie: each visitor's are in its _Browser."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


class _Browser:
    """One visitor's cookies over the shared client: kept from Set-Cookie, sent back as Cookie."""

    def __init__(self, client: httpx.AsyncClient, visitor: Visitor, rng: random.Random) -> None:
        self.client = client
        self.visitor = visitor
        self.rng = rng  # the visitor's own choices, so the order visitors run in changes none
        self.jar: dict[str, str] = {}
        self.products: list[str] = []  # on the category page it viewed

    async def get(self, path: str) -> httpx.Response:
        return await self.send("GET", path)

    async def send(self, method: str, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        headers = {"cookie": "; ".join(f"{name}={value}" for name, value in self.jar.items())} if self.jar else {}
        response = await self.client.request(method, path, data=data, headers=headers)
        self.visitor.requests += 1
        if response.status_code >= 400:
            raise ValueError(f"{method} {path} answered {response.status_code}")
        for header in response.headers.get_list("set-cookie"):
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.replace(" ", "").lower():
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return response


async def _report(client: httpx.AsyncClient, options: Options) -> list[dict[str, Any]]:
    try:
        answer = await client.get(RESULTS_PATH, headers={"authorization": f"Bearer {options.admin_token}"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SimulationError(f"cannot reach Etalage at {options.base_url}: {exc}") from None
    if answer.status_code in (401, 403, 404):
        raise SimulationError(f"{RESULTS_PATH} answered {answer.status_code}: give the admin token Etalage runs with (ETALAGE_ADMIN_TOKEN)")
    if answer.status_code != 200:
        raise SimulationError(f"{RESULTS_PATH} answered {answer.status_code}: {answer.text[:200]}")
    found: list[dict[str, Any]] = answer.json()
    return found


def _experiment(report: list[dict[str, Any]], experiment_id: str | None) -> dict[str, Any]:
    experiments = [e for e in report if not e["experiment"].startswith("@")]  # "@holdout": the programme holdout
    for experiment in experiments:
        if experiment_id is None or experiment["experiment"] == experiment_id:
            return experiment
    known = ", ".join(e["experiment"] for e in experiments) or "none"
    raise SimulationError(
        f"no experiment {experiment_id!r} in the report (the rules have: {known})" if experiment_id else "no experiment in the rules"
    )


def _read(simulation: Simulation, experiment: dict[str, Any]) -> None:
    """The report's numbers for the experiment, beside the simulation's own tally."""
    options = simulation.options
    driven = Counter(visitor.variant for visitor in simulation.visitors)
    exposed = Counter(visitor.variant for visitor in simulation.visitors if visitor.exposed)
    ordered = Counter(visitor.variant for visitor in simulation.visitors if visitor.exposed and visitor.ordered)
    simulation.checks = []
    for index, found in enumerate(experiment["variants"]):
        name = found["variant"]
        goal = next((g for g in found["goals"] if g["goal"] == options.goal), None)
        if goal is None:
            raise SimulationError(f"the report has no goal {options.goal!r}: the rules' goals are {[g['goal'] for g in found['goals']]}")
        effect = goal["rate_effect"] or {}
        true_uplift = options.uplift if name == simulation.variant else 0.0
        simulation.checks.append(
            Check(
                name,
                index == 0,
                driven[name],
                exposed[name],
                ordered[name],
                found["units"],
                goal["units"],
                true_uplift,
                effect.get("uplift"),
                effect.get("low"),
                effect.get("high"),
                effect.get("p_value"),
            )
        )
    simulation.srm_p_value = experiment["srm_p_value"]
    simulation.srm = experiment["srm"]
