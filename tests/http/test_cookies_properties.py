"""Properties of the Cookie header splitter, which reads whatever a visitor's browser (or anyone) sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from etalage.http.cookies import parse_cookie_header
from tests.support.hypothesis import PROPERTY

# RFC 6265 4.1.1: a cookie name is an RFC 2616 token, a value is cookie-octets, optionally in double quotes.
TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
OCTETS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\')
VALUE = st.text(alphabet=OCTETS, max_size=20)
PAIR = st.tuples(TOKEN, VALUE, st.booleans())
# Text a browser would never send between pairs, with no ';' (which would end it) and no '=' (which would make it a pair).
JUNK = st.text(st.characters(exclude_characters=";="), max_size=10)


def _header(pairs: list[tuple[str, str, bool]]) -> str:
    return "; ".join(f'{name}="{value}"' if quoted else f"{name}={value}" for name, value, quoted in pairs)


def _grouped(pairs: list[tuple[str, str, bool]]) -> dict[str, list[str]]:
    jar: dict[str, list[str]] = {}
    for name, value, _ in pairs:
        jar.setdefault(name, []).append(value)
    return jar


@PROPERTY
@given(st.text())
def test_parse_cookie_header_never_raises(header):
    jar = parse_cookie_header(header)
    assert all(isinstance(name, str) and values and all(isinstance(v, str) for v in values) for name, values in jar.items())


@PROPERTY
@given(st.lists(PAIR, max_size=8))
def test_parse_cookie_header_round_trips_well_formed_pairs(pairs):
    assert parse_cookie_header(_header(pairs)) == _grouped(pairs)


@PROPERTY
@given(TOKEN, st.lists(VALUE, min_size=2, max_size=6), st.lists(PAIR, max_size=6), st.lists(st.integers(0, 6), min_size=6, max_size=6))
def test_parse_cookie_header_keeps_duplicates_in_order(name, values, others, places):
    pairs = [pair for pair in others if pair[0] != name]
    count = len(pairs)
    # The duplicates go in order, anywhere among the other cookies: each after the one before it.
    for shift, (value, place) in enumerate(zip(values, sorted(places))):
        pairs.insert(min(place, count) + shift, (name, value, False))
    assert parse_cookie_header(_header(pairs))[name] == values


@PROPERTY
@given(st.lists(st.tuples(PAIR, JUNK), max_size=6))
def test_parse_cookie_header_junk_never_hides_a_well_formed_pair(pairs_and_junk):
    header = "; ".join(f"{junk}; {name}={value}" for (name, value, _), junk in pairs_and_junk)
    assert parse_cookie_header(header) == _grouped([pair for pair, _ in pairs_and_junk])
