"""The JavaScript object literal reader Cookiebot's cookie needs."""

from __future__ import annotations

import pytest

from etalage.consent import parse_js_object


def test_parse_js_object_reads_cookiebots_literal():
    assert parse_js_object("{stamp:'a+b/c==',necessary:true,marketing:false,method:'explicit',ver:1,utc:1745620490943,region:'pl'}") == {
        "stamp": "a+b/c==",
        "necessary": True,
        "marketing": False,
        "method": "explicit",
        "ver": 1,
        "utc": 1745620490943,
        "region": "pl",
    }


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("", "the value ends too early"),
        ("{marketing:true,method:'explicit'", "the value ends too early"),
        ("{marketing:true,method:'explicit'}garbage", "unexpected text at position 34"),
        ("{marketing:true method:'explicit'}", "expected '}' at position 16"),
        ("{marketing:true,marketing:false,method:'explicit'}", "key 'marketing' appears twice"),
        ("{marketing:yes,method:'explicit'}", "unexpected 'y' at position 11"),
        ("{method:'explicit,marketing:true}", "a quoted text is not closed"),
        ("[true]", "not an object literal"),
        ("{a:" * 20 + "1" + "}" * 20, "nested too deeply"),
    ],
    ids=["empty", "unclosed", "trailing", "no-comma", "duplicate-key", "bare-word", "open-quote", "array", "deep"],
)
def test_parse_js_object_malformed_literal_says_what_is_wrong(literal, message):
    with pytest.raises(ValueError) as caught:
        parse_js_object(literal)
    assert str(caught.value) == message
