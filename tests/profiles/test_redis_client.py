"""Which Redis a store URL names: the Sentinel form, split and refused as documented (as a settings error by create_store)."""

from __future__ import annotations

import pytest

from etalage.app import create_store
from etalage.profiles.redis_client import SentinelURL, parse_cluster_url, parse_sentinel_url
from etalage.settings import Settings, SettingsError


def test_redis_client_parses_sentinels_service_and_database():
    url = "redis+sentinel://:s3cret@10.0.0.1:26379,sentinel-b:26380,[::1]:26381/shop/2"
    assert parse_sentinel_url(url) == SentinelURL([("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381)], "shop", 2, None, "s3cret")


def test_redis_client_sentinel_database_defaults_to_zero_and_credentials_to_none():
    assert parse_sentinel_url("redis+sentinel://127.0.0.1:26379/shop") == SentinelURL([("127.0.0.1", 26379)], "shop", 0, None, None)


def test_redis_client_sentinel_username_and_password_are_the_masters():
    parsed = parse_sentinel_url("redis+sentinel://etalage:p%40ss@127.0.0.1:26379/shop")
    assert (parsed.username, parsed.password) == ("etalage", "p@ss")


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service
        "redis+sentinel://127.0.0.1:26379/",
        "redis+sentinel://127.0.0.1/shop",  # no port
        "redis+sentinel://127.0.0.1:26379,:1/shop",
        "redis+sentinel://127.0.0.1:99999/shop",
        "redis+sentinel://127.0.0.1:26379/shop/zero",
        "redis+sentinel://127.0.0.1:26379/shop/0/more",
        "redis://127.0.0.1:6379/0",
    ],
)
def test_redis_client_refuses_a_malformed_sentinel_url(url):
    with pytest.raises(ValueError):
        parse_sentinel_url(url)


def test_redis_client_parses_cluster_nodes_and_credentials():
    assert parse_cluster_url("redis+cluster://etalage:pw@10.0.0.1:7000,10.0.0.2:7001") == (
        [("10.0.0.1", 7000), ("10.0.0.2", 7001)],
        "etalage",
        "pw",
    )


@pytest.mark.parametrize("url", ["redis+cluster://10.0.0.1:7000/0", "redis+cluster://10.0.0.1", "redis+sentinel://10.0.0.1:7000/shop"])
def test_redis_client_refuses_a_malformed_cluster_url(url):
    with pytest.raises(ValueError):
        parse_cluster_url(url)


def test_create_store_reports_a_malformed_sentinel_url_as_a_settings_error():
    settings = Settings(redis_url="redis+sentinel://127.0.0.1/shop").validated()
    with pytest.raises(SettingsError, match="redis_url: node '127.0.0.1'"):
        create_store(settings)
