"""Every html5lib tree-construction case, served as an origin page through the running proxy.

With a pop-in that fires on every page where it can land inside <body>, taking the inserted
fragment out again must give back the origin's bytes exactly, and no case may cause an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etalage.app import create_app
from etalage.types import Receive, Scope, Send
from tests.support.config import ACCEPT_ONETRUST, RULESETS, settings_for
from tests.support.corpus import DAT_FILES, PARAMS, cases, corpus_file
from tests.support.origin import lifespan
from tests.support.servers import running

RULES = RULESETS / "good" / "corpus"
POPIN = re.compile(
    rb'<div class="etalage-popin" data-etalage-rule="popin" data-etalage-category="dogs"><aside>The Dogs newsletter</aside>\n?</div>'
)
PAGE = b"<!DOCTYPE html><html><head><title>dogs</title></head><body><p>dogs</p></body></html>"


class CorpusOrigin:
    """Serves case N of .dat file F at /f/F/N, and a plain category page at /c/dogs."""

    def __init__(self) -> None:
        self.pages = {f"/f/{f}/{n}": data for f, path in enumerate(DAT_FILES) for n, data in enumerate(cases(path))}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await lifespan(scope, receive, send):
            return
        body = PAGE if scope["path"] == "/c/dogs" else self.pages[scope["path"]]
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def browser() -> Iterator[httpx.Client]:
    """A consenting visitor who viewed Dogs once, through Etalage in front of the corpus origin."""
    with running(CorpusOrigin()) as origin, running(create_app(settings_for(origin, RULES))) as proxy:
        with httpx.Client(base_url=proxy, cookies={"OptanonConsent": ACCEPT_ONETRUST}) as client:
            assert client.get("/c/dogs").status_code == 200
            yield client


@pytest.mark.parametrize(**PARAMS)
def test_corpus_proxy_changes_nothing_but_the_inserted_popin(path: Path | None, browser: httpx.Client) -> None:
    index = DAT_FILES.index(corpus_file(path))
    for number, data in enumerate(cases(path)):
        response = browser.get(f"/f/{index}/{number}")
        assert response.status_code == 200, (path.name, number)
        assert POPIN.sub(b"", response.content, count=1) == data, (path.name, number)
