"""Etalage's own endpoints under /.etalage/."""

import httpx
import pytest

from etalage import create_app

from .conftest import PROXY_RULES, running, settings_for


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
