import asyncio
import logging

import httpx
import pytest

from etalage.app import create_app
from etalage.http.shedding import LoadShedder
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import HOME
from tests.support.servers import running

TARGET = 0.005


def behind(shedder: LoadShedder, lag: float, samples: int) -> None:
    for _ in range(samples):
        shedder.observe(lag)


def test_shedder_skips_nothing_while_the_lag_stays_under_the_target():
    shedder = LoadShedder(TARGET)
    behind(shedder, TARGET * 0.9, 1000)
    assert shedder.share == 0 and not any(shedder.skip() for _ in range(100))


def test_shedder_gives_way_gradually():
    shedder = LoadShedder(TARGET)
    shedder.observe(1.0)  # a second behind: as far behind as it gets
    assert 0 < shedder.share <= 0.05


def test_shedder_skips_every_view_while_the_loop_stays_behind():
    shedder = LoadShedder(TARGET)
    behind(shedder, TARGET * 3, 100)
    assert shedder.share == 1 and all(shedder.skip() for _ in range(100))


def test_shedder_personalizes_again_once_the_loop_caught_up():
    shedder = LoadShedder(TARGET)
    behind(shedder, TARGET * 3, 100)
    behind(shedder, 0.0, 100)
    assert shedder.share == 0 and not any(shedder.skip() for _ in range(100))


def test_shedder_skips_its_share_evenly():
    shedder = LoadShedder(TARGET)
    shedder.share = 0.25
    skipped = [shedder.skip() for _ in range(100)]
    assert sum(skipped) == 25 and not any(a and b for a, b in zip(skipped, skipped[1:], strict=False))


def test_shedder_settles_where_the_lag_meets_the_target():
    # A loop twice the target behind when it personalizes everything, whose lag falls with the share
    # skipped (a passed-through page costs 40% of a personalized one): the lag meets the target at 5/6.
    shedder = LoadShedder(TARGET)
    shares = []
    for _ in range(1000):
        shedder.observe(2 * TARGET * (1 - 0.6 * shedder.share))
        shares.append(shedder.share)
    assert abs(shares[-1] - 5 / 6) < 0.01 and max(shares[-200:]) - min(shares[-200:]) < 0.01


def test_shedder_logs_an_episode_once(caplog):
    shedder = LoadShedder(TARGET)
    with caplog.at_level(logging.INFO, logger="etalage.shedding"):
        behind(shedder, TARGET * 3, 40)
        views = [shedder.skip() for _ in range(10)]
        behind(shedder, 0.0, 40)
        caught_up = shedder.share
        behind(shedder, TARGET * 3, 5)  # behind again within the quiet second: the same episode
        behind(shedder, 0.0, 300)
    assert any(views) and caught_up == 0 and [record.levelname for record in caplog.records] == ["WARNING", "INFO"]


def test_shedder_logs_nothing_while_no_page_goes_out_unpersonalized(caplog):
    # A start-up's busy first samples logged "serving a share of pages unpersonalized" with no visitor around.
    shedder = LoadShedder(TARGET)
    with caplog.at_level(logging.INFO, logger="etalage.shedding"):
        behind(shedder, TARGET * 3, 10)
        behind(shedder, 0.0, 300)
    assert caplog.records == []


class ClockStopped(Exception):
    pass


@pytest.mark.anyio
async def test_shedder_samples_how_late_its_timer_fires():
    ticks = iter([0.0, 0.5, 1.0, 1.25])  # the first sleep of 0 s took half a second, the second a quarter

    def clock() -> float:
        for tick in ticks:
            return tick
        raise ClockStopped

    shedder = LoadShedder(TARGET, interval=0.0, clock=clock)
    samples: list[float] = []
    shedder.observe = samples.append  # type: ignore[method-assign]
    with pytest.raises(ClockStopped):
        await asyncio.wait_for(shedder.run(), 5)
    assert samples == [0.5, 0.25]


def test_shedding_serves_the_origin_page_and_counts_it(origin):
    app = create_app(settings_for(origin, PROXY_RULES, overload_lag=TARGET))
    force = app.shedder.observe
    app.shedder.observe = lambda lag: None  # the signal is forced below; the running sampler would move it
    with running(app) as url, httpx.Client(base_url=url, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
        client.get("/c/rodents")
        for _ in range(100):
            force(TARGET * 3)
        response = client.get("/home")
    assert response.content == HOME and app.metrics.value("etalage_shed_total") == 1
