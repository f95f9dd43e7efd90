"""Previews: an admin-signed link that makes this browser see the shop as a given profile would.

`etalage rules preview` signs a profile (and an expiry) with a key derived from the admin token;
opening the link stores it in an HttpOnly cookie, and from then on that browser's pages are
personalized for the previewed profile: nothing is read from or written to the profile store,
and every page is private, no-store. A token with a wrong signature or past its expiry is
ignored, so without the admin token nobody can make a preview.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from etalage.http.cookies import PREVIEW_COOKIE, visitor_cookie
from etalage.http.forwarding import public_origin
from etalage.settings import TrustedProxies
from etalage.tokens import PreviewSigner

__all__ = ["preview_routes"]


def preview_routes(signer: PreviewSigner, trusted: TrustedProxies) -> list[Route]:
    def secure(request: Request) -> bool:
        """Whether the browser used https: behind a TLS terminator the connection itself is http."""
        client = request.client
        scheme, _ = public_origin(request.url.scheme, request.scope["headers"], client.host if client else None, trusted, b"")
        return scheme == "https"

    async def start(request: Request) -> Response:
        token = request.query_params.get("token", "")
        if signer.verify(token) is None:
            return PlainTextResponse("invalid or expired preview link\n", status_code=403, headers={"cache-control": "no-store"})
        response = RedirectResponse("/", status_code=303, headers={"cache-control": "no-store"})
        # No Max-Age: the preview ends with the browser session, or when the token expires.
        response.raw_headers.append((b"set-cookie", visitor_cookie(PREVIEW_COOKIE, token, None, secure(request))))
        return response

    async def end(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303, headers={"cache-control": "no-store"})
        response.raw_headers.append((b"set-cookie", visitor_cookie(PREVIEW_COOKIE, "", 0, secure(request))))
        return response

    return [Route("/.etalage/preview", start), Route("/.etalage/preview/end", end)]
