"""Etalage's own endpoints under /.etalage/."""

import shutil

import httpx
import pytest

from etalage.app import create_app
from tests.support.config import ACCEPT_ONETRUST, PROXY_RULES, settings_for
from tests.support.servers import running


@pytest.fixture
def with_token(origin):
    with running(create_app(settings_for(origin, PROXY_RULES, admin_token="s3cret-token-for-tests"))) as url:
        yield url


def test_control_health_answers_without_touching_the_shop(etalage, origin_app):
    assert httpx.get(f"{etalage}/.etalage/health").text == "ok\n" and origin_app.seen == []


def test_control_metrics_are_off_without_an_admin_token(etalage):
    assert httpx.get(f"{etalage}/.etalage/metrics").status_code == 404


def test_control_metrics_need_the_admin_token(with_token):
    assert httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_control_metrics_count_proxied_requests(with_token):
    httpx.get(f"{with_token}/echo")
    text = httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "Bearer s3cret-token-for-tests"}).text
    assert 'etalage_requests_total{outcome="passed"} 1' in text


def test_control_reserved_paths_are_never_forwarded(etalage, origin_app):
    assert httpx.get(f"{etalage}/.etalage/anything").status_code == 404 and origin_app.seen == []


def test_control_admin_rules_shows_the_page_and_reason_of_a_missed_block(origin, tmp_path):
    rules = shutil.copytree(PROXY_RULES, tmp_path / "rules")
    site = rules / "site.toml"
    site.write_text(site.read_text().replace('selector = "#hero"', 'selector = "#nowhere"'))
    with running(create_app(settings_for(origin, rules, admin_token="s3cret-token-for-tests"))) as url:
        httpx.get(f"{url}/c/rodents", cookies={"OptanonConsent": ACCEPT_ONETRUST})
        status = httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": "Bearer s3cret-token-for-tests"}).json()
    (miss,) = status["blocks_missed"]
    assert (miss["block"], miss["reason"], miss["path"]) == ("hero", "not_found", "/c/rodents")


@pytest.mark.parametrize("path", ["/.etalage/metrics", "/.etalage/admin/rules"])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic s3cret-token-for-tests",
        "Bearer s3cret-token-for-test",
        "Bearer s3cret-token-for-tests-and-more",
        "Bearer S3CRET-TOKEN-FOR-TESTS",
        "Bearer s3crét-token-for-tests".encode(),
        "s3cret-token-for-tests",
    ],
)
def test_control_admin_endpoints_refuse_every_wrong_authorization(with_token, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{with_token}{path}", headers=headers)
    assert response.status_code == 401 and "s3cret" not in response.text


def test_control_admin_endpoints_refuse_the_shop_backends_api_key(origin):
    # The shop's servers hold the API key: it must open the API only, never the admin endpoints.
    with running(
        create_app(settings_for(origin, PROXY_RULES, admin_token="s3cret-token-for-tests", api_key="backend-key-for-tests"))
    ) as url:
        assert httpx.get(f"{url}/.etalage/admin/rules", headers={"Authorization": "Bearer backend-key-for-tests"}).status_code == 401


METRICS_TOKEN = "metrics-token-for-the-scraper"


def test_control_metrics_token_opens_the_metrics_and_nothing_else(origin):
    # The scraper's token: a Prometheus that holds it cannot export or erase a customer.
    settings = settings_for(origin, PROXY_RULES, admin_token="s3cret-token-for-tests", metrics_token=METRICS_TOKEN)
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    with running(create_app(settings)) as url:
        statuses = [httpx.get(f"{url}{path}", headers=scraper).status_code for path in ("/.etalage/metrics", "/.etalage/admin/rules")]
        admin = httpx.get(f"{url}/.etalage/metrics", headers={"Authorization": "Bearer s3cret-token-for-tests"}).status_code
    assert (statuses, admin) == ([200, 401], 200)


def test_control_metrics_token_alone_turns_the_metrics_on(origin):
    with running(create_app(settings_for(origin, PROXY_RULES, metrics_token=METRICS_TOKEN))) as url:
        scraped = httpx.get(f"{url}/.etalage/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code
        anonymous = httpx.get(f"{url}/.etalage/metrics").status_code
    assert (scraped, anonymous) == (200, 401)


def test_control_admin_endpoints_take_the_right_token_whatever_the_scheme_s_case(with_token):
    assert httpx.get(f"{with_token}/.etalage/metrics", headers={"Authorization": "bearer s3cret-token-for-tests"}).status_code == 200
