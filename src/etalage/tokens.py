"""Signed tokens, all made with itsdangerous: the visitor id cookie, preview links and the visitor page's CSRF tokens.

Each purpose has its own salt, so a token made for one is never valid for another, and every
verifier answers None (or False) for anything it cannot vouch for, garbage included: it never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time

import orjson
from cachetools import LRUCache
from itsdangerous import BadData, Signer, TimestampSigner, URLSafeSerializer
from itsdangerous.encoding import base64_encode, want_bytes

from etalage.profiles.profile import Profile, ProfileDecodeError, profile_from_json

__all__ = ["VisitorSigner", "Verified", "PreviewSigner", "CsrfSigner", "CSRF_MAX_AGE", "HANDOFF_MAX_AGE"]

_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_VISITOR_ID_SALT = "etalage.visitor-id"
_PREVIEW_SALT = "etalage.preview"
_CSRF_SALT = "etalage.me-csrf"
_HANDOFF_SALT = "etalage.visitor-handoff"
# Long enough to read the visitor's page and use it, short enough that a leaked token soon stops working.
CSRF_MAX_AGE = 4 * 3600
# The shop's backend asks for a handoff while it answers a login: it reaches the proxy within seconds.
HANDOFF_MAX_AGE = 300
# Visitor cookie values whose signature checked out, kept per signer: a visitor sends the same cookie
# page after page, and two HMACs per check were about 5% of a personalized view.
_VERIFIED_CACHE = 4096


class _ExactSigner(Signer):
    """A Signer that accepts a signature only as the exact text it writes.

    itsdangerous decodes a signature before comparing it, and its base64 decoding drops characters
    outside the alphabet (non-ASCII ones too) and the padding bits of the last one, so
    `<value>.<signature>☃` would pass; comparing the encoded signatures refuses it.
    """

    # HMAC-SHA256 throughout (itsdangerous defaults to SHA-1), with the key derived per salt by HMAC.
    default_digest_method = staticmethod(hashlib.sha256)
    default_key_derivation = "hmac"

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        value, sig = want_bytes(value), want_bytes(sig)
        return any(
            hmac.compare_digest(sig, base64_encode(self.algorithm.get_signature(self.derive_key(key), value))) for key in self.secret_keys
        )


class _ExactTimestampSigner(_ExactSigner, TimestampSigner):
    """A TimestampSigner with the exact signature check of _ExactSigner."""


def _oldest_first(key_ring: tuple[tuple[str, bytes], ...]) -> list[bytes]:
    """Settings.secret lists keys newest first, by id; itsdangerous wants the secrets newest last."""
    if not key_ring:
        raise ValueError("signing needs at least one key")
    return [secret for _, secret in reversed(key_ring)]


def _bytes(text: str) -> bytes:
    # Text from a request may hold anything, even a lone surrogate that strict UTF-8 cannot encode.
    return text.encode("utf-8", "replace")


class Verified:
    """A visitor id whose signature checked out; `stale_key` means it should be re-signed."""

    __slots__ = ("visitor_id", "stale_key")

    def __init__(self, visitor_id: str, stale_key: bool) -> None:
        self.visitor_id = visitor_id
        self.stale_key = stale_key


class VisitorSigner:
    """The visitor id cookie: `<id>.<signature>`, signed with the newest key and verified against all of them.

    Also the handoff of a new id after a server-to-server login (/.etalage/api/link): a token,
    `<new id>.<old id>.<timestamp>.<signature>`, that the shop's backend sets as the visitor
    cookie in its response and the proxy exchanges for the signed new id, only for the browser
    whose cookie held the old id, within HANDOFF_MAX_AGE seconds.
    """

    def __init__(self, key_ring: tuple[tuple[str, bytes], ...]) -> None:
        keys = _oldest_first(key_ring)
        self._handoffs = _ExactTimestampSigner(keys, salt=_HANDOFF_SALT)
        self._current = _ExactSigner(keys[-1:], salt=_VISITOR_ID_SALT)
        # (signer, stale): a value the newest key does not vouch for is tried once more with the older keys.
        self._verifiers = [(self._current, False)]
        if len(keys) > 1:
            self._verifiers.append((_ExactSigner(keys[:-1], salt=_VISITOR_ID_SALT), True))
        # Only values that verified, under their exact text: nothing unsigned is ever answered from here,
        # and the key ring (what a check depends on) is this signer's for its lifetime. The cookie's
        # signature carries no time (its Max-Age is the browser's to enforce), so a check made once holds.
        # A lock, as the control routes may verify from a worker thread.
        self._verified: LRUCache[str, Verified] = LRUCache(maxsize=_VERIFIED_CACHE)
        self._verified_lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(16)

    def sign(self, visitor_id: str) -> str:
        return self._current.sign(visitor_id).decode("ascii")

    def verify(self, cookie_value: str) -> Verified | None:
        """The id inside a well-formed, correctly signed cookie value, else None (forged, tampered, unknown key)."""
        with self._verified_lock:
            known = self._verified.get(cookie_value)
        if known is not None:
            return known
        visitor_id = cookie_value.rpartition(".")[0]
        if not _ID.fullmatch(visitor_id):
            return None
        for signer, stale_key in self._verifiers:
            try:
                signer.unsign(_bytes(cookie_value))
            except BadData:
                continue
            verified = Verified(visitor_id, stale_key)
            with self._verified_lock:
                self._verified[cookie_value] = verified
            return verified
        return None

    def handoff(self, old_id: str, new_id: str) -> str:
        """A token that hands `new_id` to the browser whose visitor cookie holds `old_id`."""
        return self._handoffs.sign(f"{new_id}.{old_id}").decode("ascii")

    def redeem(self, token: str, old_id: str) -> str | None:
        """The new id a handoff made for `old_id` names, if it is genuine and fresh; else None."""
        try:
            value = self._handoffs.unsign(_bytes(token), max_age=HANDOFF_MAX_AGE).decode("ascii")
        except (BadData, UnicodeDecodeError):
            return None
        new_id, _, bound = value.partition(".")
        # Bound to the old id: a handoff leaked or made for one browser cannot be planted in another.
        return new_id if _ID.fullmatch(new_id) and hmac.compare_digest(bound.encode(), old_id.encode()) else None


class PreviewSigner:
    """Preview links: a profile and an expiry, signed with the admin token (`etalage rules preview` makes them)."""

    def __init__(self, admin_token: str) -> None:
        self._serializer = URLSafeSerializer(admin_token, salt=_PREVIEW_SALT, signer=_ExactSigner) if admin_token else None

    def issue(self, profile: dict[str, object], expires: float) -> str:
        if self._serializer is None:
            raise ValueError("previews need ETALAGE_ADMIN_TOKEN")
        return self._serializer.dumps({"profile": profile, "exp": expires})

    def verify(self, token: str, now: float | None = None) -> Profile | None:
        """The previewed profile, or None for a token that is forged, tampered with or expired."""
        if self._serializer is None:
            return None
        try:
            data = self._serializer.loads(_bytes(token))
            if float(data["exp"]) < (now if now is not None else time.time()):
                return None
            return profile_from_json(orjson.dumps(data["profile"]))
        except (BadData, KeyError, TypeError, ValueError, ProfileDecodeError):
            return None


class CsrfSigner:
    """CSRF tokens for the visitor's page: `<timestamp>.<signature>` of the visitor id, valid for CSRF_MAX_AGE.

    A token is bound to one visitor id, which only that visitor's (HttpOnly) cookie carries, and
    does not carry it: the page shows the token, never the id. Tokens are stateless, and rotate
    with the signing key ring: made with the newest key, checked against all.
    """

    def __init__(self, key_ring: tuple[tuple[str, bytes], ...]) -> None:
        self._signer = _ExactTimestampSigner(_oldest_first(key_ring), salt=_CSRF_SALT)

    def token(self, visitor_id: str) -> str:
        return self._signer.sign(visitor_id).decode("ascii")[len(visitor_id) + 1 :]

    def check(self, visitor_id: str, token: str) -> bool:
        try:
            self._signer.unsign(_bytes(f"{visitor_id}.{token}"), max_age=CSRF_MAX_AGE)
        except BadData:
            return False
        return True
