"""`/.etalage/admin/experiments`: each experiment's results as a page for marketers, behind the admin token.

The numbers are `etalage report`'s (etalage.engine.results, added up from every stored profile at each
request), and `?format=json` answers what `etalage report --format json` prints. The page is rendered
from an autoescaping Jinja2 template, its interval charts are inline SVG, and its Content-Security-
Policy allows its one style sheet (by hash) and nothing else: no script, nothing from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from etalage.control.auth import admin_refusal
from etalage.control.results.view import BAR_WIDTH, MIN_UNITS, experiment_view
from etalage.engine.results import as_json, results
from etalage.profiles.store import ProfileStore, StoreError
from etalage.rules.ruleset import RuleSet

__all__ = ["EXPERIMENTS_PATH", "results_routes"]

log = logging.getLogger("etalage.admin")

EXPERIMENTS_PATH = "/.etalage/admin/experiments"

_CSS = (files("etalage.control") / "templates" / "experiments.css").read_text("utf-8").strip()
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
_HEADERS = {
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-frame-options": "DENY",
}
_TEMPLATES = Environment(
    loader=PackageLoader("etalage.control", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# The style sheet is ours, not a value: it goes in as it is, so its hash stays the one the CSP names.
_TEMPLATES.globals.update(style=Markup(_CSS), bar_width=BAR_WIDTH, min_units=MIN_UNITS)


def results_routes(store: ProfileStore, rules: Callable[[], RuleSet], admin_token: str) -> list[Route]:
    async def experiments(request: Request) -> Response:
        if answer := admin_refusal(request, admin_token):
            return answer
        ruleset = rules()
        try:
            found = await results(ruleset, store.every_profile())
        except StoreError as exc:
            log.warning("experiments page: the profile store did not answer: %s", exc)
            return PlainTextResponse(f"profile store unavailable: {exc}\n", status_code=503, headers={"cache-control": "no-store"})
        if request.query_params.get("format") == "json":
            return JSONResponse(as_json(found), headers={"cache-control": "no-store"})
        views = [experiment_view(result, ruleset.site.holdout) for result in found]
        body = _TEMPLATES.get_template("experiments.html").render(experiments=views)
        return Response(body, headers=_HEADERS, media_type="text/html; charset=utf-8")

    return [Route(EXPERIMENTS_PATH, experiments)]
