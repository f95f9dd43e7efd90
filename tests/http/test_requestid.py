"""Every request gets an id that goes upstream as X-Request-Id and names the request's log lines."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from etalage.app import create_app
from etalage.logs import JsonFormatter
from tests.support.config import PROXY_RULES, settings_for
from tests.support.origin import OriginApp
from tests.support.servers import closed_port_url, running


def id_seen(origin_app: OriginApp) -> list[str]:
    (request,) = origin_app.seen
    headers: list[tuple[str, str]] = request["headers"]  # type: ignore[assignment]
    return [value for name, value in headers if name == "x-request-id"]


@pytest.fixture
def behind_trusted_proxy(origin: str) -> Iterator[str]:
    """Etalage that trusts its loopback peer as the proxy in front (as behind nginx)."""
    with running(create_app(settings_for(origin, PROXY_RULES, trusted_proxies=frozenset({"127.0.0.1"})))) as url:
        yield url


def test_requestid_is_made_and_sent_upstream(etalage, origin_app):
    httpx.get(f"{etalage}/echo")
    (value,) = id_seen(origin_app)
    assert re.fullmatch(r"[0-9a-f]{32}", value)


def test_requestid_is_new_for_each_request(etalage, origin_app):
    httpx.get(f"{etalage}/echo")
    (first,) = id_seen(origin_app)
    origin_app.seen.clear()
    httpx.get(f"{etalage}/echo")
    assert id_seen(origin_app) != [first]


def test_requestid_from_an_untrusted_client_is_replaced(etalage, origin_app):
    httpx.get(f"{etalage}/echo", headers={"X-Request-Id": "chosen-by-the-client"})
    assert id_seen(origin_app) != ["chosen-by-the-client"] and len(id_seen(origin_app)) == 1


def test_requestid_from_a_trusted_proxy_is_kept(behind_trusted_proxy, origin_app):
    httpx.get(f"{behind_trusted_proxy}/echo", headers={"X-Request-Id": "7f3a9c2e41b04d8e9a1f0c6b2d5e8a71"})
    assert id_seen(origin_app) == ["7f3a9c2e41b04d8e9a1f0c6b2d5e8a71"]


@pytest.mark.parametrize("value", ["two words", "x" * 129, "<script>", ""])
def test_requestid_that_is_no_id_is_replaced_even_from_a_trusted_proxy(behind_trusted_proxy, origin_app, value):
    httpx.get(f"{behind_trusted_proxy}/echo", headers={"X-Request-Id": value})
    (seen,) = id_seen(origin_app)
    assert seen != value and re.fullmatch(r"[0-9a-f]{32}", seen)


def test_requestid_names_the_log_lines_of_its_request():
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("etalage")
    logger.addHandler(handler)
    try:
        # The shop is down: the proxy logs a warning while handling the request.
        with running(create_app(settings_for(closed_port_url(), PROXY_RULES, trusted_proxies=frozenset({"127.0.0.1"})))) as url:
            assert httpx.get(f"{url}/page", headers={"X-Request-Id": "req-42"}).status_code == 502
    finally:
        logger.removeHandler(handler)
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(r["request_id"], r["level"]) for r in records if "/page" in r["message"]] == [("req-42", "WARNING")]
