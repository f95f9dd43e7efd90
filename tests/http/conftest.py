"""Fixtures of the HTTP tests: both HTTP/1.1 parsers uvicorn can run Etalage with, for tests of what each hands the application.

`etalage serve` runs uvicorn's default, httptools when installed (uvicorn[standard]), else h11; the
two differ in what they refuse and in what they put in the ASGI scope, so request-side tests hold
for both.
"""

from __future__ import annotations

import functools

import pytest
import uvicorn

PARSERS = ("httptools", "h11")


@pytest.fixture(params=PARSERS)
def http_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Servers that tests.support.servers.running starts during the test use this parser."""
    monkeypatch.setattr(uvicorn, "Config", functools.partial(uvicorn.Config, http=request.param))
    return request.param
