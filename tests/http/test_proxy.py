"""The proxy over real sockets: Etalage in front of a scriptable origin, driven by a real client."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from etalage.app import create_app
from etalage.settings import UPSTREAM_CLIENTS
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.origin import GATED_CHUNKS, HOME
from tests.support.servers import closed_port_url, raw_request, running

CONSENT = {"OptanonConsent": ACCEPT_ONETRUST}


@pytest.fixture(scope="module", params=UPSTREAM_CLIENTS)
def upstream_client(request: pytest.FixtureRequest) -> str:
    """Every proxy behaviour holds whichever client talks to the upstream."""
    return request.param


def echo(response: httpx.Response) -> dict:
    return json.loads(response.content)


def sent_headers(record: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in record["headers"]:
        out.setdefault(name, []).append(value)
    return out


def test_proxy_forwards_method_path_query_and_body(etalage):
    record = echo(httpx.put(f"{etalage}/echo/a%20b?x=1&y=%2F", content=b"payload"))
    assert (record["method"], record["target"], record["body"]) == ("PUT", "/echo/a%20b?x=1&y=%2F", "payload")


def test_proxy_streams_chunked_request_bodies(etalage):
    def chunks():
        yield b"one,"
        yield b"two"

    assert echo(httpx.post(f"{etalage}/echo", content=chunks()))["body"] == "one,two"


def test_proxy_never_treats_a_double_slash_path_as_another_host(etalage, origin_app):
    httpx.get(f"{etalage}//evil.example/x")
    assert origin_app.seen[-1]["target"] == "//evil.example/x"


def test_proxy_sends_absolute_form_targets_only_to_the_configured_upstream(etalage, origin_app):
    raw_request(etalage, b"GET http://evil.example/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert origin_app.seen[-1]["target"] == "/x"


def test_proxy_rejects_asterisk_targets(etalage, origin_app):
    answer = raw_request(etalage, b"OPTIONS * HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and origin_app.seen == []


def test_proxy_strips_hop_by_hop_request_headers(etalage, origin_app):
    raw_request(
        etalage,
        b"GET /echo HTTP/1.1\r\nHost: shop.example\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n"
        b"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nX-End-To-End: kept\r\n\r\n",
    )
    headers = sent_headers(origin_app.seen[-1])
    assert not {"x-secret-hop", "keep-alive", "te", "proxy-authorization"} & set(headers)
    assert headers["x-end-to-end"] == ["kept"]


def test_proxy_strips_hop_by_hop_response_headers(etalage):
    response = httpx.get(f"{etalage}/hop")
    assert "x-secret-hop" not in response.headers and "keep-alive" not in response.headers and "upgrade" not in response.headers
    assert response.headers["x-end-to-end"] == "kept"


def test_proxy_overwrites_forwarded_headers_from_untrusted_clients(etalage, origin_app):
    httpx.get(f"{etalage}/echo", headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    headers = sent_headers(origin_app.seen[-1])
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [etalage.removeprefix("http://")]


CLIENT_CLAIMS = {"X-Real-IP": "6.6.6.6", "True-Client-IP": "6.6.6.6", "X-Forwarded-Port": "1", "X-Original-URL": "/admin"}


def test_proxy_drops_client_address_and_url_claims_from_untrusted_clients(etalage, origin_app):
    # A shop behind nginx's real_ip_header X-Real-IP would take the spoofed address; old Symfony or IIS
    # set-ups take X-Original-URL for the path.
    httpx.get(f"{etalage}/echo", headers=CLIENT_CLAIMS)
    headers = sent_headers(origin_app.seen[-1])
    assert [name for name in map(str.lower, CLIENT_CLAIMS) if name in headers] == []


def test_proxy_passes_client_address_claims_of_trusted_proxies(origin, origin_app, upstream_client):
    settings = settings_for(origin, PROXY_RULES, upstream_client=upstream_client, trusted_proxies=frozenset({"127.0.0.1"}))
    with running(create_app(settings)) as url:
        httpx.get(f"{url}/echo", headers=CLIENT_CLAIMS)
    headers = sent_headers(origin_app.seen[-1])
    assert [name for name in map(str.lower, CLIENT_CLAIMS) if name in headers] == list(map(str.lower, CLIENT_CLAIMS))


def test_proxy_extends_forwarded_headers_from_trusted_proxies(origin, origin_app, upstream_client):
    settings = settings_for(origin, PROXY_RULES, upstream_client=upstream_client, trusted_proxies=frozenset({"127.0.0.1"}))
    with running(create_app(settings)) as url:
        httpx.get(
            f"{url}/echo", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"}
        )
    headers = sent_headers(origin_app.seen[-1])
    assert headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]
    assert (headers["x-forwarded-proto"], headers["x-forwarded-host"]) == (["https"], ["shop.example"])


def test_proxy_passes_the_client_host_by_default(etalage, origin_app):
    httpx.get(f"{etalage}/echo", headers={"Host": "www.shop.example"})
    assert sent_headers(origin_app.seen[-1])["host"] == ["www.shop.example"]


def test_proxy_sends_the_upstream_host_when_configured(origin, origin_app, upstream_client):
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client, preserve_host=False))) as url:
        httpx.get(f"{url}/echo", headers={"Host": "www.shop.example"})
    assert sent_headers(origin_app.seen[-1])["host"] == [origin.removeprefix("http://")]


def test_proxy_does_not_follow_redirects_and_rewrites_upstream_locations(origin, upstream_client):
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client, preserve_host=False))) as url:
        response = httpx.get(f"{url}/redirect")
    assert response.status_code == 302
    assert response.headers["location"] == f"{url}/c/dogs?x=1"


def test_proxy_leaves_foreign_locations_alone(etalage):
    assert httpx.get(f"{etalage}/elsewhere").headers["location"] == "https://payments.example/pay"


def test_proxy_keeps_every_set_cookie_header(etalage):
    assert httpx.get(f"{etalage}/cookies").headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_proxy_streams_non_html_untouched(etalage, origin_app):
    first = GATED_CHUNKS[0]
    try:
        with httpx.stream("GET", f"{etalage}/gated", cookies=CONSENT) as response:
            chunks = response.iter_raw()
            received = b""
            # The origin sends the rest only once the first chunk came through: a proxy that buffered
            # the body would keep it, and this read would time out.
            while len(received) < len(first):
                received += next(chunks)
            origin_app.gate.open()
            received += b"".join(chunks)
    finally:
        origin_app.gate.open()
    assert received == b"".join(GATED_CHUNKS)


def test_proxy_maps_an_upstream_timeout_to_504(origin, upstream_client):
    with running(create_app(settings_for(origin, PROXY_RULES, upstream_client=upstream_client, read_timeout=0.2))) as url:
        response = httpx.get(f"{url}/hang")
    assert response.status_code == 504 and "no-store" in response.headers["cache-control"]


def test_proxy_maps_a_refused_connection_to_502(upstream_client):
    with running(create_app(settings_for(closed_port_url(), PROXY_RULES, upstream_client=upstream_client))) as url:
        response = httpx.get(f"{url}/")
    assert response.status_code == 502


def test_proxy_error_pages_show_no_internals(upstream_client):
    with running(create_app(settings_for(closed_port_url(), PROXY_RULES, upstream_client=upstream_client))) as url:
        body = httpx.get(f"{url}/").text
    assert "Traceback" not in body and "httpx" not in body and "127.0.0.1" not in body and "Connect" not in body


def test_proxy_head_passes_through_without_a_body(etalage):
    response = httpx.head(f"{etalage}/home", cookies=CONSENT)
    assert response.status_code == 200 and response.content == b"" and "data-etalage" not in response.text


def test_proxy_forwards_conditional_headers_without_consent(etalage, origin_app):
    httpx.get(f"{etalage}/echo", headers={"If-None-Match": '"v1"'})
    assert sent_headers(origin_app.seen[-1])["if-none-match"] == ['"v1"']


def test_proxy_drops_conditional_headers_for_pages_it_may_personalize(etalage, origin_app):
    httpx.get(f"{etalage}/echo", headers={"If-None-Match": '"v1"'}, cookies=CONSENT)
    assert "if-none-match" not in sent_headers(origin_app.seen[-1])


def test_proxy_compressed_pages_pass_through_byte_identical_without_consent(etalage, origin):
    with httpx.stream("GET", f"{etalage}/gzip") as response:
        raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw) == HOME and response.headers["content-encoding"] == "gzip"
