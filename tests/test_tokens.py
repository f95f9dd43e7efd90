from etalage.tokens import VisitorSigner

RING = (("k2", b"new-secret-0123456789"), ("k1", b"old-secret-0123456789"))


def test_signing_round_trip_returns_the_id():
    signer = VisitorSigner(RING)
    visitor_id = signer.new_id()
    verified = signer.verify(signer.sign(visitor_id))
    assert verified is not None and verified.visitor_id == visitor_id and not verified.stale_key


def test_signing_rejects_a_tampered_id():
    signer = VisitorSigner(RING)
    value = signer.sign(signer.new_id())
    forged = ("A" if value[0] != "A" else "B") + value[1:]
    assert signer.verify(forged) is None


def test_signing_rejects_a_tampered_mac():
    signer = VisitorSigner(RING)
    value = signer.sign(signer.new_id())
    assert signer.verify(value[:-1] + ("A" if value[-1] != "A" else "B")) is None


def test_signing_rejects_a_value_signed_with_another_key():
    other = VisitorSigner((("k2", b"someone-elses-secret-00"),))
    assert VisitorSigner(RING).verify(other.sign(other.new_id())) is None


def test_signing_accepts_an_old_key_and_marks_it_stale():
    old = VisitorSigner(RING[1:])
    value = old.sign(old.new_id())
    verified = VisitorSigner(RING).verify(value)
    assert verified is not None and verified.stale_key


def test_signing_rejects_malformed_values():
    signer = VisitorSigner(RING)
    for value in ("", "abc", "a.b", "a.b.c.d", "x" * 22 + ".k2.", "../../etc.k2.mac"):
        assert signer.verify(value) is None
