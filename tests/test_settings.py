from pathlib import Path

import pytest

from etalage.settings import Settings, SettingsError


def test_settings_read_etalage_variables():
    settings = Settings.from_env({"ETALAGE_PORT": "9001", "ETALAGE_UPSTREAM": "http://shop:8080", "ETALAGE_PRESERVE_HOST": "false"})
    assert (settings.port, settings.upstream, settings.preserve_host) == (9001, "http://shop:8080", False)


def test_settings_flags_win_over_variables():
    settings = Settings.from_env({"ETALAGE_RULES_DIR": "/a"}, rules_dir=Path("/b"))
    assert settings.rules_dir == Path("/b")


def test_settings_name_the_variable_with_a_bad_value():
    with pytest.raises(SettingsError, match="ETALAGE_PORT"):
        Settings.from_env({"ETALAGE_PORT": "eighty"})


def test_settings_refuse_an_upstream_with_a_path():
    with pytest.raises(SettingsError, match="upstream"):
        Settings.from_env({}, upstream="http://shop:8080/shop")


def test_settings_parse_a_key_ring_newest_first():
    settings = Settings.from_env({"ETALAGE_SECRET": "k2:0123456789abcdefXY,k1:abcdefghijklmnopqr"})
    assert [key_id for key_id, _ in settings.secret] == ["k2", "k1"]


def test_settings_refuse_a_short_secret():
    with pytest.raises(SettingsError, match="ETALAGE_SECRET"):
        Settings.from_env({"ETALAGE_SECRET": "short"})


def test_settings_do_not_show_secrets_in_repr():
    settings = Settings.from_env({"ETALAGE_SECRET": "0123456789abcdefXYZ", "ETALAGE_ADMIN_TOKEN": "tok-123-for-the-tests"})
    assert "0123456789abcdef" not in repr(settings) and "tok-123-for-the-tests" not in repr(settings)


def test_settings_accept_a_host_prefixed_cookie_name():
    assert Settings.from_env({"ETALAGE_COOKIE_NAME": "__Host-etalage_vid"}).cookie_name == "__Host-etalage_vid"


@pytest.mark.parametrize("name", ["etalage vid", "etalage;vid", "vid=1", "", "etalåge", "__Host-"])
def test_settings_refuse_a_cookie_name_that_is_not_a_token(name):
    with pytest.raises(SettingsError, match="cookie_name"):
        Settings.from_env({"ETALAGE_COOKIE_NAME": name})


def test_settings_refuse_the_preview_cookie_s_name_for_visitors():
    with pytest.raises(SettingsError, match="cookie_name"):
        Settings.from_env({"ETALAGE_COOKIE_NAME": "etalage_preview"})


@pytest.mark.parametrize("name", ["ETALAGE_MAX_REQUEST_HEADER_BYTES", "ETALAGE_MAX_REQUEST_HEADERS"])
def test_settings_refuse_request_limits_that_are_not_positive(name):
    with pytest.raises(SettingsError, match=name.removeprefix("ETALAGE_").lower()):
        Settings.from_env({name: "0"})


def test_settings_read_the_page_complexity_limits():
    settings = Settings.from_env({"ETALAGE_MAX_PAGE_ELEMENTS": "5000", "ETALAGE_MAX_PAGE_DEPTH": "100"})
    assert (settings.max_page_elements, settings.max_page_depth) == (5000, 100)
    with pytest.raises(SettingsError, match="max_page_depth"):
        Settings.from_env({"ETALAGE_MAX_PAGE_DEPTH": "0"})


def test_settings_redis_write_delay_may_be_zero_but_not_negative():
    assert Settings.from_env({"ETALAGE_REDIS_WRITE_DELAY": "0"}).redis_write_delay == 0
    with pytest.raises(SettingsError, match="redis_write_delay"):
        Settings.from_env({"ETALAGE_REDIS_WRITE_DELAY": "-1"})


def test_settings_accept_a_sentinel_url_naming_a_service():
    url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/shop/0"
    assert Settings.from_env({"ETALAGE_REDIS_URL": url}).redis_url == url


def test_settings_accept_a_cluster_url():
    url = "redis+cluster://10.0.0.1:6379,10.0.0.2:6379"
    assert Settings.from_env({"ETALAGE_REDIS_URL": url}).redis_url == url


def test_settings_refuse_a_sentinel_url_without_a_service():
    with pytest.raises(SettingsError, match="redis_url"):
        Settings.from_env({"ETALAGE_REDIS_URL": "redis+sentinel://10.0.0.1:26379"})


def test_settings_refuse_an_unknown_log_format():
    with pytest.raises(SettingsError, match="log_format"):
        Settings.from_env({"ETALAGE_LOG_FORMAT": "xml"})


def test_settings_refuse_an_api_key_that_is_the_admin_token():
    with pytest.raises(SettingsError, match="api_key: must differ from admin_token"):
        Settings.from_env({"ETALAGE_API_KEY": "same-long-token-0123", "ETALAGE_ADMIN_TOKEN": "same-long-token-0123"})


@pytest.mark.parametrize("variable", ["ETALAGE_ADMIN_TOKEN", "ETALAGE_API_KEY"])
def test_settings_refuse_a_token_shorter_than_16_characters(variable):
    # The admin token signs preview links: a short one could be guessed offline from one of them.
    with pytest.raises(SettingsError, match="shorter than 16 characters"):
        Settings.from_env({variable: "a" * 15})


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_settings_read_the_webhook_endpoint_and_secret():
    settings = Settings.from_env({"ETALAGE_WEBHOOK_URL": "https://hooks.example/etalage", "ETALAGE_WEBHOOK_SECRET": WEBHOOK_SECRET})
    assert (settings.webhook_url, settings.webhook_secret) == ("https://hooks.example/etalage", WEBHOOK_SECRET)


@pytest.mark.parametrize("secret", ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_not base64!"])
def test_settings_refuse_a_webhook_secret_that_is_no_whsec_key(secret):
    with pytest.raises(SettingsError, match="webhook_secret"):
        Settings.from_env({"ETALAGE_WEBHOOK_URL": "https://hooks.example/etalage", "ETALAGE_WEBHOOK_SECRET": secret})


def test_settings_refuse_a_webhook_url_that_is_no_http_url():
    with pytest.raises(SettingsError, match="webhook_url"):
        Settings.from_env({"ETALAGE_WEBHOOK_URL": "hooks.example/etalage", "ETALAGE_WEBHOOK_SECRET": WEBHOOK_SECRET})


def test_settings_refuse_a_redis_takeover_sooner_than_an_attempt_may_take():
    with pytest.raises(SettingsError, match="webhook_reclaim_after"):
        Settings.from_env(
            {
                "ETALAGE_WEBHOOK_URL": "https://hooks.example/",
                "ETALAGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "ETALAGE_REDIS_URL": "redis://r:6379/0",
            },
            webhook_timeout=30.0,
            webhook_reclaim_after=10.0,
        )


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_settings_refuse_a_timeout_that_is_no_positive_number(value):
    # nan passed a `<= 0` check and made every request a 502.
    with pytest.raises(SettingsError, match="connect_timeout: must be a positive number"):
        Settings.from_env({"ETALAGE_CONNECT_TIMEOUT": value})


def test_settings_refuse_an_unknown_log_level():
    with pytest.raises(SettingsError, match="log_level: 'verbose'"):
        Settings.from_env({"ETALAGE_LOG_LEVEL": "verbose"})


def test_settings_refuse_a_redis_database_that_is_no_number():
    with pytest.raises(SettingsError, match="redis_url: the database"):
        Settings.from_env({"ETALAGE_REDIS_URL": "redis://127.0.0.1:6379/abc"})


def test_settings_refuse_a_trusted_proxy_that_is_no_address_or_network():
    with pytest.raises(SettingsError, match="trusted_proxies: 'ingress' is not an IP address or network"):
        Settings.from_env({"ETALAGE_TRUSTED_PROXIES": "10.0.0.0/8, ingress"})
