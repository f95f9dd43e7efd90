import httpx

from etalage.app import create_app
from etalage.http.shedding import LoadShedder
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import HOME
from tests.support.servers import running


def test_shedding_starts_above_the_budget():
    shedder = LoadShedder(budget=0.1)
    shedder.observe(0.2)
    assert shedder.overloaded


def test_shedding_holds_until_the_lag_halves():
    shedder = LoadShedder(budget=0.1)
    shedder.observe(0.2)
    shedder.observe(0.07)
    assert shedder.overloaded


def test_shedding_ends_below_half_the_budget():
    shedder = LoadShedder(budget=0.1)
    shedder.observe(0.2)
    shedder.observe(0.04)
    assert not shedder.overloaded


def test_shedding_serves_the_origin_page_and_counts_it(origin):
    app = create_app(settings_for(origin, PROXY_RULES))
    app.shedder.observe = lambda lag: None  # keep the state set below; the sampler would clear it
    with running(app) as url, httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        client.get("/c/rodents")
        app.shedder.overloaded = True
        response = client.get("/home")
    assert response.content == HOME and app.metrics.value("etalage_fail_open_total", reason="overload") == 1
