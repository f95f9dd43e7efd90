"""/.etalage/admin/experiments: the results of `etalage report` as a page, behind the admin token."""

import asyncio
import json

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from etalage.app import create_app
from etalage.cli import main
from etalage.control.results.view import _uplift
from etalage.engine.stats import Metric, effect
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from tests.support.config import PROJECT_RULES, settings_for
from tests.support.servers import running
from tests.support.workers import free_port

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# hero-banner (version 1): per-category (the control), one-template, none; 200 visitors exposed in each.
# Orders of 30.00: 20 in the control, 50 with one-template, 20 with none.
ORDERS = {"per-category": 20, "one-template": 50, "none": 20}
EXPOSED = 200


def visitor_events(variant: str, ordered: bool) -> list[Event]:
    data = {"variant": variant, "version": 1}
    events = [Event("assigned", "hero-banner", 1.0, data), Event("exposed", "hero-banner", 2.0, data)]
    if ordered:
        events.append(Event("converted", "hero-banner", 3.0, {**data, "goal": "order", "value": 30.0, "order": "o"}))
    return events


def filled(store: MemoryStore, split: dict[str, int] | None = None) -> None:
    async def fill() -> None:
        for variant, units in (split or dict.fromkeys(ORDERS, EXPOSED)).items():
            for number in range(units):
                await store.record(f"{variant}-{number}", visitor_events(variant, number < ORDERS[variant]))

    asyncio.run(fill())


@pytest.fixture
def store(tmp_path) -> MemoryStore:
    return MemoryStore(retention=3600, path=tmp_path / "profiles.json")


@pytest.fixture
def admin(origin, store):
    with running(create_app(settings_for(origin, PROJECT_RULES, admin_token=TOKEN), store=store)) as url:
        yield url


def page(url: str) -> HTMLParser:
    response = httpx.get(f"{url}/.etalage/admin/experiments", headers=AUTH)
    assert response.status_code == 200
    return HTMLParser(response.text)


def cell(tree: HTMLParser, goal: str, variant: str, column: str) -> str:
    found = tree.css_first(f'section[data-experiment="hero-banner"] table[data-goal="{goal}"] tr[data-variant="{variant}"] td.{column}')
    assert found is not None, (goal, variant, column)
    return found.text(strip=True)


def interval(control_total: float, variant_total: float, proportion: bool) -> str:
    squares = (control_total, variant_total) if proportion else (control_total * 30.0, variant_total * 30.0)
    found = effect(Metric(EXPOSED, control_total, squares[0], proportion), Metric(EXPOSED, variant_total, squares[1], proportion))
    return f"{found.uplift:+.1%} [{found.low:+.1%}, {found.high:+.1%}]"


def test_results_page_shows_each_variant_s_numbers(admin, store):
    filled(store)
    tree = page(admin)
    row = {
        column: cell(tree, "order", "one-template", column)
        for column in ("units", "conversions", "rate", "uplift", "value-per-visitor", "average-value")
    }
    assert row == {
        "units": "200",
        "conversions": "50",
        "rate": "25.0%",
        "uplift": interval(20, 50, proportion=True),
        "value-per-visitor": "7.50",
        "average-value": "30.00",
    }
    assert interval(20, 50, proportion=True).startswith("+150.0% [")
    assert cell(tree, "order", "one-template", "value-uplift") == interval(600.0, 1500.0, proportion=False)
    assert cell(tree, "order", "per-category", "uplift") == "control"
    assert cell(tree, "order", "none", "rate") == "10.0%"


def test_results_page_draws_an_interval_bar_per_variant(admin, store):
    filled(store)
    tree = page(admin)
    bars = tree.css('section[data-experiment="hero-banner"] table[data-goal="order"] tr[data-variant="one-template"] svg rect')
    assert [bar.attributes["class"] for bar in bars] == ["better", "better"]


def test_results_page_says_each_verdict_in_words(admin, store):
    # The bar's colour alone says nothing to a colour-blind reader or on a printout.
    filled(store)
    tree = page(admin)
    verdicts = tree.css('section[data-experiment="hero-banner"] table[data-goal="order"] tr[data-variant="one-template"] span.verdict')
    assert [verdict.text() for verdict in verdicts] == ["better", "better"]


def test_results_page_cuts_an_interval_at_minus_100_percent():
    # A normal approximation on few visitors reached "-180.6%": no variant loses more than everything.
    found = effect(Metric(3, 1, 1, True), Metric(3, 2, 2, True))
    assert found.low is not None and found.low < -1.0
    assert _uplift(found).partition("[")[2].startswith("-100.0%, ")


def test_results_page_shows_the_holdout_against_everyone_else(admin, store):
    filled(store)
    tree = page(admin)
    holdout = tree.css_first('section[data-experiment="@holdout"] h2')
    assert holdout is not None and "holdout" in holdout.text() and "5%" in holdout.text()


def test_results_page_warns_of_a_skewed_split_and_too_few_visitors(admin, store):
    filled(store, {"per-category": 120, "one-template": 40, "none": 20})
    tree = page(admin)
    section = tree.css_first('section[data-experiment="hero-banner"]')
    assert section.css_first(".srm") is not None and section.css_first(".too-early") is not None


def test_results_page_labels_results_before_the_planned_sample(admin, store):
    filled(store)
    label = page(admin).css_first('section[data-experiment="hero-banner"] .horizon')
    assert label is not None and "early" in label.attributes["class"]
    assert label.text(strip=True) == "fixed horizon: 600 of 6,000 units, do not stop early"


def test_results_page_json_is_the_report_s(admin, store, tmp_path, capsys):
    filled(store)
    answer = httpx.get(f"{admin}/.etalage/admin/experiments?format=json", headers=AUTH).json()
    asyncio.run(store.save())
    assert main(["report", "--rules", str(PROJECT_RULES), "--profiles-file", str(tmp_path / "profiles.json"), "--format", "json"]) == 0
    assert answer == json.loads(capsys.readouterr().out)


def test_results_page_needs_the_admin_token(admin):
    assert httpx.get(f"{admin}/.etalage/admin/experiments").status_code == 401
    assert httpx.get(f"{admin}/.etalage/admin/experiments?format=json", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_results_page_allows_no_script(admin, store):
    response = httpx.get(f"{admin}/.etalage/admin/experiments", headers=AUTH)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and response.headers["cache-control"] == "private, no-store"


def test_results_page_answers_503_when_the_store_is_down(origin):
    # Nothing listens on that port: the store cannot answer.
    settings = settings_for(origin, PROJECT_RULES, admin_token=TOKEN, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with running(create_app(settings)) as url:
        response = httpx.get(f"{url}/.etalage/admin/experiments", headers=AUTH)
    assert response.status_code == 503 and "profile store unavailable" in response.text
