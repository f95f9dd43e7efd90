"""popin: a newsletter pop-in for the category a visitor keeps coming back to, before </body>.

Shown once the visitor viewed a category `min_views` times, never for a category they already
subscribed to, excluded, or said "not for me" to; the most viewed qualifying category wins, site
order breaks ties. Optional frequency caps (per visit, day, week) count the pop-in's earlier
impressions, kept server-side in the profile, so they hold across devices and cleared cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from etalage.html.page import Block, Edit
from etalage.html.templates import Template
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    CATEGORY_VALUES,
    Action,
    CompileContext,
    PageContext,
    category_values,
    encode_fragment,
    label_html,
    take_label,
)
from etalage.rules.fields import Fields
from etalage.rules.model import Site

__all__ = ["Popin"]

PROVIDES = CATEGORY_VALUES
_PERIODS = {"visit": 0.0, "day": 24 * 3600.0, "week": 7 * 24 * 3600.0}


class Popin(Action):
    kind = "popin"
    needs_block = False

    def __init__(
        self, min_views: int, template: Template, caps: tuple[tuple[str, int], ...] = (), label: str | Mapping[str, str] | None = None
    ) -> None:
        self.min_views = min_views
        self.template = template
        self.label = label
        # (per, at most): per is "visit", "day" or "week".
        self.caps = caps

    def _capped(self, rule_id: str, profile: Profile, now: float) -> bool:
        for per, limit in self.caps:
            since = profile.visit_started if per == "visit" else now - _PERIODS[per]
            if profile.shown_since(rule_id, since) >= limit:
                return True
        return False

    def _choice(self, rule_id: str, profile: Profile, site: Site, *, shown: bool = False) -> str | None:
        """The category to offer now; with `shown`, the one it was offered for (what the visitor did
        since, such as excluding the category or reaching the day's limit, does not change why)."""
        best, best_views = None, self.min_views - 1
        for category in site.categories:
            views = profile.category_views.get(category, 0)
            hidden = category in profile.newsletters or category in profile.exclusions or f"{rule_id}:{category}" in profile.dismissed
            if views > best_views and (shown or not hidden):
                best, best_views = category, views
        return best

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        best = self._choice(rule_id, profile, site, shown=True)
        if best is None:
            return None
        return f"offers the {site.labels[best]} newsletter, because you viewed {site.labels[best]} {profile.category_views[best]} times"

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Popin | None:
        min_views = fields.take("min_views", int, 3, lambda n: None if n >= 1 else "must be at least 1")
        caps = []
        for per in _PERIODS:
            limit = fields.take(f"max_per_{per}", int, None, lambda n: None if n >= 1 else "must be at least 1")
            if limit is not None:
                caps.append((per, limit))
        label = take_label(fields, context.site)
        template = context.template(fields, "template", PROVIDES)
        if template is None:
            return None
        return cls(min_views, template, tuple(caps), label)

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        insert_at = page.layout.body_end
        if insert_at is None:
            return []
        best = self._choice(rule_id, page.profile, page.site)
        if best is None or self._capped(rule_id, page.profile, page.now):
            return []
        values = category_values(page.site, best)
        inner = self.template.render(values, page.language) + label_html(self.label, page)
        wrapper = f'<div class="etalage-popin" data-etalage-rule="{escape(rule_id)}" data-etalage-category="{escape(best)}">'
        return [Edit(insert_at, insert_at, encode_fragment(f"{wrapper}{inner}</div>", page.charset))]
