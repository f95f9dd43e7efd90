"""Signed visitor ids: `<id>.<key id>.<HMAC-SHA256>`, verified against a key ring so keys can rotate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

__all__ = ["VisitorSigner", "Verified"]

_ID = re.compile(r"[A-Za-z0-9_-]{22}")
# A fixed label keeps these MACs from being valid for any other use of the same key.
_PURPOSE = b"etalage-visitor-id\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Verified:
    """A visitor id whose signature checked out; `stale_key` means it should be re-signed."""

    __slots__ = ("visitor_id", "stale_key")

    def __init__(self, visitor_id: str, stale_key: bool) -> None:
        self.visitor_id = visitor_id
        self.stale_key = stale_key


class VisitorSigner:
    def __init__(self, key_ring: tuple[tuple[str, bytes], ...]) -> None:
        if not key_ring:
            raise ValueError("a visitor id signer needs at least one key")
        self._current_id, self._current_key = key_ring[0]
        self._keys = dict(key_ring)

    @staticmethod
    def new_id() -> str:
        return _b64(secrets.token_bytes(16))

    def _mac(self, key: bytes, visitor_id: str) -> str:
        return _b64(hmac.new(key, _PURPOSE + visitor_id.encode("ascii"), hashlib.sha256).digest())

    def sign(self, visitor_id: str) -> str:
        return f"{visitor_id}.{self._current_id}.{self._mac(self._current_key, visitor_id)}"

    def verify(self, cookie_value: str) -> Verified | None:
        """The id inside a well-formed, correctly signed cookie value, else None (forged, tampered, unknown key)."""
        parts = cookie_value.split(".")
        if len(parts) != 3:
            return None
        visitor_id, key_id, mac = parts
        key = self._keys.get(key_id)
        if key is None or not _ID.fullmatch(visitor_id):
            return None
        if not hmac.compare_digest(mac, self._mac(key, visitor_id)):
            return None
        return Verified(visitor_id, stale_key=key_id != self._current_id)
