"""The visitor's own page at /.etalage/me: what the shop knows about them, why, and their controls.

Served by Etalage itself, never forwarded. The visitor is identified by the signed visitor cookie
alone, and only while they consent: consent is read again on every request, and without it the
profile is not even loaded (a visitor id cookie that still arrives means consent was withdrawn, so,
as in the proxy, the profile is erased and the cookie expired). Nothing here creates a profile for
a visitor who has none and no consent or no valid cookie.

Routes (all under the reserved prefix):

    GET  /.etalage/me                  the page (HTML); ?download=1 gives the JSON attachment
    GET  /.etalage/me.json             the same, machine-readable; ?download=1 as an attachment
    GET  /.etalage/me/export           the JSON attachment (etalage-profile.json)
    POST /.etalage/me/interests        category, action=add|remove
    POST /.etalage/me/exclusions       category, action=add|remove
    POST /.etalage/me/newsletters      category, action=remove (forget a learned subscription)
    GET  /.etalage/me/not-for-me       ?rule=&category=&return_to=: a confirmation with a form, so a
                                       plain link in a personalized block needs no token
    POST /.etalage/me/not-for-me       rule, category, return_to, action=add|undo
    POST /.etalage/me/forget           erase the profile and the link, expire the cookie; the id stays
                                       marked erased, so a request that still carries it starts afresh
                                       under a new id (the proxy) or changes nothing (these forms)

Cross-site requests: the cookie is SameSite=Lax, every POST carries a CSRF token (the visitor id
signed with a timestamp, see CsrfSigner; it expires after a few hours), an Origin or Referer header
that names another origin is refused, and so is `Sec-Fetch-Site: cross-site|same-site`. POSTs
answer 303 back to the page (or to a same-site `return_to`).

Modules: routes (the routes and their handlers), checks (who is asking and the checks a request
must pass), view (what the page shows), pages (the templates and the responses' security headers).
"""
