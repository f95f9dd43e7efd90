"""`etalage simulate` against the demo shop behind Etalage (in this process, on a loopback port, the
project's rules: the hero-banner experiment and a 5% holdout): a few hundred visitors over HTTP, with
visitor ids drawn from the seed (the server's secret is known here), so the run repeats exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from etalage.app import create_app
from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.tokens import VisitorSigner
from etalage.tools.simulate import Options, Simulation, SimulationError, simulate
from tests.support.config import SECRET, settings_for
from tests.support.servers import running

TOKEN = "simulation-admin-token-0123456789"


@pytest.fixture(scope="module")
def etalage(shop: str) -> Iterator[str]:
    settings = settings_for(shop, experiments=True, admin_token=TOKEN)
    with running(create_app(settings, store=MemoryStore(retention=3600))) as url:
        yield url


@pytest.fixture(scope="module")
def simulation(etalage: str) -> Simulation:
    options = Options(etalage, TOKEN, visitors=300, concurrency=8, base_rate=0.3, uplift=0.5, seed=3, signer=VisitorSigner(SECRET))
    return asyncio.run(simulate(options))


def test_simulate_report_counts_every_exposed_visitor_and_order_once(simulation):
    assert not any(visitor.error for visitor in simulation.visitors)
    assert sum(check.exposed for check in simulation.checks) > 200  # not an empty run
    assert simulation.exact, simulation.render()


def test_simulate_report_interval_covers_the_true_uplift(simulation):
    assert (simulation.variant, simulation.target.true_uplift) == ("one-template", 0.5)
    assert simulation.target.covers, simulation.render()
    assert not simulation.srm


def test_simulate_refuses_a_wrong_admin_token(etalage):
    with pytest.raises(SimulationError, match="admin token"):
        asyncio.run(simulate(Options(etalage, "not-the-token-0123456789", visitors=1)))


def test_simulate_command_needs_the_admin_token(monkeypatch, capsys):
    monkeypatch.delenv("ETALAGE_ADMIN_TOKEN", raising=False)
    assert main(["simulate", "http://127.0.0.1:9"]) == 2
    assert "ETALAGE_ADMIN_TOKEN" in capsys.readouterr().err


def test_simulate_command_prints_the_verdict(etalage, monkeypatch, capsys):
    monkeypatch.setenv("ETALAGE_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("ETALAGE_SECRET", ",".join(f"{key}:{secret.decode()}" for key, secret in SECRET))
    status = main(["simulate", etalage, "--visitors", "20", "--concurrency", "4", "--seed", "5"])
    out = capsys.readouterr().out
    assert status in (0, 1) and "verdict: the report's 95% interval for one-template" in out
