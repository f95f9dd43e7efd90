"""The per-request cost benchmark (benchmarks/request_cost.py) measures what its cases say: the
pass-through page goes out unpersonalized, the consenting visitor's pages personalized and private."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.benchmarks import benchmark

request_cost = benchmark("request_cost")


@pytest.fixture(scope="module")
def origin_port() -> Iterator[int]:
    origin, port = request_cost.start_origin()
    try:
        yield port
    finally:
        origin.terminate()
        origin.wait()


@pytest.mark.parametrize("case", list(request_cost.CASES))
def test_request_cost_case_serves_what_it_measures(origin_port: int, case: str) -> None:
    # Driver.case() exits when a page is not personalized as the case says, or a personalized one is cacheable.
    assert request_cost.cpu_per_request(origin_port, case, requests=2, rounds=1) > 0
