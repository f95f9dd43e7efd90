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


@pytest.mark.parametrize(
    "literal",
    [
        "{a:\x1c1}",  # \x1c-\x1f and NEL are whitespace to re's \s, not to JavaScript
        "{a:1}\x85",
        "{a:\u0661}",  # an Arabic-Indic digit, which re's \d takes
        "{a:\uff11}",
        "{-1:1}",  # a number key has no sign
        "{a:'x\ny'}",  # no line break inside quotes
        "{a:'x\ry'}",
        "{a:'e\\xplicit'}",  # \x needs two hex digits in JavaScript; it is not an x
        "{a:'\\u0065'}",
        "{a:'\\01'}",
        "{a:'\\1'}",
        "{a:'x\\\ny'}",
    ],
)
def test_parse_js_object_refuses_what_javascript_would_not_read(literal):
    with pytest.raises(ValueError):
        parse_js_object(literal)


def test_parse_js_object_reads_javascript_whitespace_and_escapes():
    literal = "\u2028{\xa0a:\u30001,\tb\u2029:'\\'\\0\\n'}\ufeff"
    assert parse_js_object(literal) == {"a": 1, "b": "'\0\n"}
