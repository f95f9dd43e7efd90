from etalage.http.cookies import parse_cookie_header, visitor_cookie


def test_cookies_survive_a_malformed_neighbour():
    assert parse_cookie_header("x=a b; vid=3; junk; =nameless")["vid"] == ["3"]


def test_cookies_keep_duplicates_in_order():
    assert parse_cookie_header("a=1; a=2")["a"] == ["1", "2"]


def test_cookies_unquote_quoted_values():
    assert parse_cookie_header('a="x y"')["a"] == ["x y"]


def test_cookies_keep_equals_signs_in_values():
    assert parse_cookie_header("OptanonConsent=groups=C0004:1&x=y")["OptanonConsent"] == ["groups=C0004:1&x=y"]


def test_cookies_strip_only_spaces_and_tabs():
    jar = parse_cookie_header("a= 1\t; \tb=\xa02; c=3\x1c; \x85d=4")
    assert jar == {"a": ["1"], "b": ["\xa02"], "c": ["3\x1c"], "\x85d": ["4"]}


def test_visitor_cookie_has_the_same_attributes_everywhere():
    assert visitor_cookie("etalage_vid", "v", 60, False) == b"etalage_vid=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    assert visitor_cookie("etalage_vid", "", 0, True) == b"etalage_vid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure"


def test_visitor_cookie_without_max_age_lasts_the_session():
    assert visitor_cookie("etalage_preview", "t", None, True) == b"etalage_preview=t; Path=/; HttpOnly; SameSite=Lax; Secure"


def test_visitor_cookie_with_a_host_prefix_is_secure_even_over_http():
    assert (
        visitor_cookie("__Host-etalage_vid", "v", 60, False) == b"__Host-etalage_vid=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    )
