"""etalage.http.forwarding: the scheme and host the browser used, believed only from trusted proxies."""

from etalage.http.forwarding import public_origin
from etalage.settings import TrustedProxies

TRUSTED = TrustedProxies(frozenset({"10.0.0.1"}))
FORWARDED = [(b"host", b"etalage:8000"), (b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"shop.example")]


def test_public_origin_is_the_connection_s_own_without_a_trusted_peer():
    assert public_origin("http", FORWARDED, "203.0.113.9", TRUSTED, b"upstream") == ("http", b"etalage:8000")


def test_public_origin_takes_x_forwarded_proto_and_host_from_a_trusted_peer():
    assert public_origin("http", FORWARDED, "10.0.0.1", TRUSTED, b"upstream") == ("https", b"shop.example")


def test_public_origin_takes_the_first_hop_of_multi_hop_values():
    headers = [(b"host", b"etalage"), (b"x-forwarded-proto", b"https, http"), (b"x-forwarded-host", b"shop.example, lb.internal")]
    assert public_origin("http", headers, "10.0.0.1", TRUSTED, b"upstream") == ("https", b"shop.example")


def test_public_origin_falls_back_to_the_upstream_host_without_a_host_header():
    assert public_origin("http", [], None, TRUSTED, b"upstream:8080") == ("http", b"upstream:8080")


def test_public_origin_ignores_empty_forwarded_values():
    headers = [(b"host", b"etalage"), (b"x-forwarded-proto", b""), (b"x-forwarded-host", b" , x")]
    assert public_origin("http", headers, "10.0.0.1", TRUSTED, b"upstream") == ("http", b"etalage")


def test_public_origin_believes_a_peer_in_a_trusted_network():
    # Ingress pods change their addresses: a network is what can be listed for them.
    trusted = TrustedProxies(frozenset({"10.1.0.0/16", "fd00::/8"}))
    assert [public_origin("http", FORWARDED, peer, trusted, b"upstream")[0] for peer in ("10.1.2.3", "fd00::1", "10.2.0.1", "x")] == [
        "https",
        "https",
        "http",
        "http",
    ]
