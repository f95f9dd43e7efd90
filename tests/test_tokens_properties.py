"""Properties of the signed tokens: verifiers never raise, a token changed in any one place fails, purposes never mix."""

from __future__ import annotations

import time

from hypothesis import assume, given
from hypothesis import strategies as st

from etalage.tokens import CsrfSigner, PreviewSigner, VisitorSigner
from tests.support.hypothesis import PROPERTY

RING = (("k2", b"new-secret-0123456789"), ("k1", b"old-secret-0123456789"))
ADMIN = "admin-token-for-tests"
# Any text at all: every Unicode category, lone surrogates included (a request may carry anything).
ANY_TEXT = st.text(st.characters(exclude_categories=()))
ANY_CHAR = st.characters(exclude_categories=())
VISITOR_ID = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=22, max_size=22)
PROFILE = st.fixed_dictionaries(
    {
        "category_views": st.dictionaries(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), st.integers(1, 99), max_size=3
        )
    }
)
# A one-character change: (where, in parts of the token's length; how; the character).
EDIT = st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(["replace", "insert", "delete"]), ANY_CHAR)


def _edit(token: str, edit: tuple[float, str, str]) -> str:
    where, how, char = edit
    index = int(where * len(token))
    if how == "insert":
        return token[:index] + char + token[index:]
    if how == "delete":
        return token[:index] + token[index + 1 :]
    assume(char != token[index])
    return token[:index] + char + token[index + 1 :]


# --- never raise -----------------------------------------------------------------------------------


@PROPERTY
@given(ANY_TEXT)
def test_visitor_signer_verify_never_raises(text):
    assert VisitorSigner(RING).verify(text) is None


@PROPERTY
@given(ANY_TEXT)
def test_preview_signer_verify_never_raises(text):
    assert PreviewSigner(ADMIN).verify(text) is None


@PROPERTY
@given(VISITOR_ID, ANY_TEXT)
def test_csrf_signer_check_never_raises(visitor_id, text):
    assert CsrfSigner(RING).check(visitor_id, text) is False


# --- one character changed -------------------------------------------------------------------------


@PROPERTY
@given(VISITOR_ID, st.sampled_from([RING, RING[1:]]), EDIT)
def test_visitor_signer_refuses_a_value_changed_in_one_place(visitor_id, ring, edit):
    value = VisitorSigner(ring).sign(visitor_id)
    assert VisitorSigner(RING).verify(_edit(value, edit)) is None


@PROPERTY
@given(PROFILE, EDIT)
def test_preview_signer_refuses_a_token_changed_in_one_place(profile, edit):
    signer = PreviewSigner(ADMIN)
    assert signer.verify(_edit(signer.issue(profile, time.time() + 3600), edit)) is None


@PROPERTY
@given(VISITOR_ID, EDIT)
def test_csrf_signer_refuses_a_token_changed_in_one_place(visitor_id, edit):
    signer = CsrfSigner(RING)
    assert not signer.check(visitor_id, _edit(signer.token(visitor_id), edit))


# --- one purpose, one kind of token ----------------------------------------------------------------


@PROPERTY
@given(VISITOR_ID, PROFILE)
def test_tokens_made_for_one_purpose_verify_for_no_other(visitor_id, profile):
    # One secret behind all three, so that only the purpose (the salt) tells them apart.
    secret = "one-secret-for-everything"
    ring = (("k1", secret.encode()),)
    visitor, csrf, preview = VisitorSigner(ring), CsrfSigner(ring), PreviewSigner(secret)
    cookie, token, link = visitor.sign(visitor_id), csrf.token(visitor_id), preview.issue(profile, time.time() + 3600)
    made = [cookie, token, f"{visitor_id}.{token}", link]
    # Each signer's own token, and everything the others made, each read every way a verifier could be offered it.
    assert [value for value in made if value != cookie and visitor.verify(value) is not None] == []
    assert [value for value in made if value != link and preview.verify(value) is not None] == []
    offered = [cookie, cookie.partition(".")[2], link, link.partition(".")[2], f"{visitor_id}.{token}"]
    assert [value for value in offered if csrf.check(visitor_id, value)] == []
    # What one signer makes in the shape of another's token is not that token either.
    timestamp, payload = token.partition(".")[0], link.partition(".")[0]
    assert not csrf.check(visitor_id, visitor.sign(f"{visitor_id}.{timestamp}").partition(".")[2])
    assert preview.verify(visitor.sign(payload)) is None
