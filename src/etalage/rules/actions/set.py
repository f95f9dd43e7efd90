"""set: give a block an attribute (`attribute` + `value`), or replace its content with a text (`text`).

Both values are written in the rule file, not in a template file, and may use `{{ category }}` and
`{{ category_label }}`, the visitor's strongest interest; a value that uses them only applies to
visitors who have one. Everything is escaped for where it goes: `text` is text (`<b>` shows as
`<b>`), `value` is a quoted attribute value, and in a URL attribute (href, src, ...) a link must be
https:, mailto:, tel: or on the shop (checked when the rules load for what the rule file says, and
for each inserted value when the page is served, as in templates).

An attribute the block's start tag already has is REPLACED: its whole range (Block.attrs, the first
of duplicated names, as browsers keep the first) becomes ` name="value"`; otherwise it is added. A
block whose start tag could not be read with certainty (Block.attrs is None) is left alone.
Event handlers (`on...`), `srcdoc` (a whole HTML document) and Etalage's own `data-etalage-*`
attributes cannot be set.
"""

from __future__ import annotations

import html
import re

from etalage.html.page import Block, Edit
from etalage.html.templates import _SAFE_URL, _URL_ATTRS, Template, TemplateError, compile_template
from etalage.profiles.profile import Profile
from etalage.rules.actions.base import (
    CATEGORY_VALUES,
    Action,
    CompileContext,
    PageContext,
    check_category_url,
    encode_fragment,
    interest_reason,
    mark_block,
    strongest_category,
    template_values,
)
from etalage.rules.fields import Fields
from etalage.rules.model import Site

__all__ = ["Set"]

PROVIDES = CATEGORY_VALUES
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_.:-]*")


def _attribute_check(name: str) -> str | None:
    if not _ATTRIBUTE.fullmatch(name):
        return f"{name!r} is not an attribute name (lower-case letters, digits, '-', '_', ':' or '.', starting with a letter)"
    if name.startswith("on"):
        return f"{name!r} is an event handler: its value would run as JavaScript"
    if name == "srcdoc":
        return "'srcdoc' holds a whole HTML document, which a value here cannot be checked as"
    if name.startswith("data-etalage-"):
        return f"{name!r} is Etalage's own marker"
    return None


class Set(Action):
    kind = "set"

    def __init__(self, attribute: str | None, template: Template) -> None:
        self.attribute = attribute  # None: the template is the block's new text
        self.template = template
        self.personal = bool(template.names)

    @classmethod
    def compile(cls, fields: Fields, context: CompileContext) -> Set | None:
        has_text = "text" in fields.table
        has_attribute = "attribute" in fields.table or "value" in fields.table
        if has_text and has_attribute:
            fields.problem(
                f"{fields.name}: give 'attribute' and 'value' (to set an attribute) or 'text' (to set the text), not both", "text"
            )
            for key in ("attribute", "value", "text"):
                fields.take(key, str, None)
            return None
        if has_text:
            template = _compile(fields, "text", fields.take("text", str), None, context.site)
            return cls(None, template) if template is not None else None
        if not has_attribute:
            fields.problem(
                f"{fields.name}: a set rule needs 'attribute' and 'value' (to set an attribute) or 'text' (to set the text)",
                None,
                'e.g. attribute = "title" and value = "For {{ category_label }} lovers"',
            )
            return None
        attribute = fields.take("attribute", str, check=_attribute_check)
        value = fields.take("value", str)
        if attribute is None or value is None:
            _compile(fields, "value", value, "title", context.site)  # its own problems, reported in the same pass
            return None
        if _local(attribute) in _URL_ATTRS and not _SAFE_URL.match(_sample(value)):
            fields.problem(
                f"{fields.name}: 'value': {value!r} is not a safe link for '{attribute}'",
                "value",
                "use an https:, mailto: or tel: address, or a path on the shop",
            )
            return None
        template = _compile(fields, "value", value, attribute, context.site)
        return cls(attribute, template) if template is not None else None

    def apply(self, rule_id: str, block: Block | None, page: PageContext) -> list[Edit]:
        assert block is not None
        values = template_values(page, rule_id, self.personal)
        if values is None:
            return []
        rendered = self.template.render(values)
        if self.attribute is None:
            return [mark_block(block, rule_id), Edit(block.inner_start, block.inner_end, encode_fragment(rendered, page.charset))]
        if block.attrs is None:
            return []  # the start tag cannot be read with certainty
        data = encode_fragment(f' {self.attribute}="{rendered}"', page.charset)
        start, end = block.attrs.get(self.attribute, (block.tag_end, block.tag_end))
        return [mark_block(block, rule_id), Edit(start, end, data)]

    def why(self, rule_id: str, profile: Profile, site: Site, now: float) -> str | None:
        if not self.personal:
            return None  # the same for everyone: the rule's conditions are the reason
        top = strongest_category(profile, site, now, rule_id)
        if top is None:
            return None
        return f"adapts part of the page to {site.labels[top]}, because {interest_reason(profile, site, top)}"


def _local(attribute: str) -> str:
    return attribute.rpartition(":")[2]


def _sample(value: str) -> str:
    """The value as it starts for any visitor: placeholders stand for a category slug."""
    return re.sub(r"\{\{.*?\}\}", "x", value)


def _compile(fields: Fields, key: str, value: str | None, attribute: str | None, site: Site) -> Template | None:
    """`value` as a template: literal text escaped for where it goes, placeholders checked and
    escaped as in template files (in an attribute: quoted value, with the URL check for URL attributes)."""
    if value is None:
        return None
    # The local name decides the context: xlink:href is a URL attribute as href is.
    prefix = f'<x {_local(attribute)}="' if attribute else ""
    try:
        template = compile_template(fields.where(key), prefix + html.escape(value, quote=attribute is not None), PROVIDES)
    except TemplateError as exc:
        fields.problem(f"{fields.name}: '{key}': {exc}", key)
        return None
    if not check_category_url(fields, key, template.names, site):
        return None
    parts = list(template.parts)
    if prefix:  # the made-up tag that gave the placeholders their attribute context
        assert isinstance(parts[0], str) and parts[0].startswith(prefix)
        parts[0] = parts[0][len(prefix) :]
    return Template(template.path, tuple(part for part in parts if part != ""))
