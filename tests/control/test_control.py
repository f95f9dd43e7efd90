"""Etalage's own endpoints under /.etalage/."""

import asyncio
import shutil

import httpx
import pytest

from etalage.app import create_app
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.tokens import VisitorSigner
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, SECRET, settings_for
from tests.support.servers import running


@pytest.fixture
def with_token(origin):
    with running(create_app(settings_for(origin, PROXY_RULES, admin_token="s3cret-token"))) as url:
        yield url


def test_control_health_answers_without_touching_the_shop(etalage, origin_app):
    assert httpx.get(f"{etalage}/.etalage/health").text == "ok\n" and origin_app.seen == []


def test_control_metrics_are_off_without_an_admin_token(etalage):
    assert httpx.get(f"{etalage}/.etalage/metrics").status_code == 404


def test_control_metrics_need_the_admin_token(with_token):
    assert httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_control_metrics_count_proxied_requests(with_token):
    httpx.get(f"{with_token}/echo")
    text = httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "Bearer s3cret-token"}).text
    assert 'etalage_requests_total{outcome="passed"} 1' in text


def test_control_reserved_paths_are_never_forwarded(etalage, origin_app):
    assert httpx.get(f"{etalage}/.etalage/anything").status_code == 404 and origin_app.seen == []


SIGNER = VisitorSigner(SECRET)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(retention=3600)


@pytest.fixture
def linking(origin, store):
    with running(create_app(settings_for(origin, PROXY_RULES, admin_token="s3cret-token"), store=store)) as url:
        yield url


def api_link(url: str, cookie_value: str, customer: str = "cust-42") -> httpx.Response:
    return httpx.post(
        f"{url}/.etalage/api/link", json={"visitor": cookie_value, "customer": customer}, headers={"Authorization": "Bearer s3cret-token"}
    )


def anonymous_visitor(store: MemoryStore) -> str:
    visitor = SIGNER.new_id()
    asyncio.run(store.record(visitor, [Event("category_view", "dogs", 1.0)]))
    return visitor


def test_control_api_link_ties_a_signed_visitor_to_a_customer(linking, store):
    response = api_link(linking, SIGNER.sign(anonymous_visitor(store)))
    assert response.status_code == 200 and asyncio.run(store.load_customer("cust-42")).category_views == {"dogs": 1}


def test_control_api_link_hands_a_new_id_linked_to_the_customer(linking, store):
    visitor = anonymous_visitor(store)
    answer = api_link(linking, SIGNER.sign(visitor)).json()
    new_id = SIGNER.redeem(answer["visitor"], visitor)
    profile = asyncio.run(store.load(new_id))
    assert answer["cookie"] == "etalage_vid" and new_id != visitor and profile.customer_id == "cust-42"


def test_control_api_link_leaves_the_named_id_linked_to_nothing(linking, store):
    visitor = anonymous_visitor(store)
    api_link(linking, SIGNER.sign(visitor))
    assert asyncio.run(store.load(visitor)) is None


def test_control_api_link_refuses_an_unsigned_visitor_id(with_token):
    response = httpx.post(
        f"{with_token}/.etalage/api/link",
        json={"visitor": "AAAAAAAAAAAAAAAAAAAAAA", "customer": "cust-42"},
        headers={"Authorization": "Bearer s3cret-token"},
    )
    assert response.status_code == 403


def test_control_api_link_needs_the_admin_token(with_token):
    assert httpx.post(f"{with_token}/.etalage/api/link", json={"visitor": "x", "customer": "y"}).status_code == 401


def test_control_api_link_explains_a_malformed_body(with_token):
    response = httpx.post(f"{with_token}/.etalage/api/link", content=b"nope", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 400 and "visitor" in response.text


def test_control_admin_rules_shows_the_page_and_reason_of_a_missed_block(origin, tmp_path):
    rules = shutil.copytree(PROXY_RULES, tmp_path / "rules")
    site = rules / "site.toml"
    site.write_text(site.read_text().replace('selector = "#hero"', 'selector = "#nowhere"'))
    with running(create_app(settings_for(origin, rules, admin_token="s3cret-token"))) as url:
        httpx.get(f"{url}/c/rodents", cookies={"OptanonConsent": ACCEPT_ONETRUST})
        status = httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": "Bearer s3cret-token"}).json()
    (miss,) = status["blocks_missed"]
    assert (miss["block"], miss["reason"], miss["path"]) == ("hero", "not_found", "/c/rodents")


@pytest.mark.parametrize("path", ["/.etalage/metrics", "/.etalage/admin/rules"])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic s3cret-token",
        "Bearer s3cret-toke",
        "Bearer s3cret-token-and-more",
        "Bearer S3CRET-TOKEN",
        "Bearer s3crét-token".encode(),
        "s3cret-token",
    ],
)
def test_control_admin_endpoints_refuse_every_wrong_authorization(with_token, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{with_token}{path}", headers=headers)
    assert response.status_code == 401 and "s3cret" not in response.text


def test_control_api_link_refuses_every_wrong_authorization(with_token):
    for authorization in ("Bearer wrong", "Bearer s3cret-toke", "Basic s3cret-token", "Bearer s3crét-token".encode()):
        response = httpx.post(
            f"{with_token}/.etalage/api/link", headers={"Authorization": authorization}, json={"visitor": "x", "customer": "C-1"}
        )
        assert response.status_code == 401


def test_control_admin_endpoints_take_the_right_token_whatever_the_scheme_s_case(with_token):
    assert httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "bearer s3cret-token"}).status_code == 200
