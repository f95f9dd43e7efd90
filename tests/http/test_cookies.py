from etalage.http.cookies import parse_cookie_header


def test_cookies_survive_a_malformed_neighbour():
    assert parse_cookie_header("x=a b; vid=3; junk; =nameless")["vid"] == ["3"]


def test_cookies_keep_duplicates_in_order():
    assert parse_cookie_header("a=1; a=2")["a"] == ["1", "2"]


def test_cookies_unquote_quoted_values():
    assert parse_cookie_header('a="x y"')["a"] == ["x y"]


def test_cookies_keep_equals_signs_in_values():
    assert parse_cookie_header("OptanonConsent=groups=C0004:1&x=y")["OptanonConsent"] == ["groups=C0004:1&x=y"]
