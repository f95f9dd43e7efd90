"""Previews: an admin-signed link that makes this browser see the shop as a given profile would.

`etalage rules preview` signs a profile (and an expiry) with a key derived from the admin token;
opening the link stores it in an HttpOnly cookie, and from then on that browser's pages are
personalized for the previewed profile: nothing is read from or written to the profile store,
and every page is private, no-store. A token with a wrong signature or past its expiry is
ignored, so without the admin token nobody can make a preview.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from etalage.profiles.profile import Profile, ProfileDecodeError
from etalage.tools.explain import profile_from_json

__all__ = ["PreviewSigner", "preview_routes", "PREVIEW_COOKIE"]

PREVIEW_COOKIE = "etalage_preview"
_PURPOSE = b"etalage-preview\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class PreviewSigner:
    def __init__(self, admin_token: str) -> None:
        # A key of its own, so a preview token can never pass for anything else signed with the token.
        self._key = hmac.new(admin_token.encode(), _PURPOSE, hashlib.sha256).digest() if admin_token else b""

    def issue(self, profile: dict[str, object], expires: float) -> str:
        if not self._key:
            raise ValueError("previews need ETALAGE_ADMIN_TOKEN")
        payload = _b64(orjson.dumps({"profile": profile, "exp": expires}))
        return f"{payload}.{_b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())}"

    def verify(self, token: str, now: float | None = None) -> Profile | None:
        """The previewed profile, or None for a token that is forged, tampered with or expired."""
        if not self._key:
            return None
        payload, _, mac = token.partition(".")
        expected = _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            if float(data["exp"]) < (now if now is not None else time.time()):
                return None
            return profile_from_json(orjson.dumps(data["profile"]))
        except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, ProfileDecodeError):
            return None


def preview_routes(signer: PreviewSigner) -> list[Route]:
    async def start(request: Request) -> Response:
        token = request.query_params.get("token", "")
        if signer.verify(token) is None:
            return PlainTextResponse("invalid or expired preview link\n", status_code=403, headers={"cache-control": "no-store"})
        response = RedirectResponse("/", status_code=303, headers={"cache-control": "no-store"})
        response.set_cookie(PREVIEW_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/")
        return response

    async def end(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303, headers={"cache-control": "no-store"})
        response.delete_cookie(PREVIEW_COOKIE, path="/")
        return response

    return [Route("/.etalage/preview", start), Route("/.etalage/preview/end", end)]
