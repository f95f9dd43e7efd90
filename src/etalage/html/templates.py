"""HTML fragment templates with `{{ name }}` placeholders, compiled at load time.

Each placeholder's context (text or a quoted attribute value; URL attributes get a scheme check) is
decided when the template is compiled, so a value can never open a tag, close an attribute or
smuggle a `javascript:` URL in at request time. A placeholder in any other position (inside a
script or style, an unquoted attribute, a tag or attribute name, an event handler or style
attribute, an SVG animation's value, any attribute of <script> or <base>) is a load error, as is a
name the action does not provide.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Template", "TemplateError", "compile_template"]

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
# What is left of a placeholder that lost a brace, or never had its second ones: `{{name}`, `{ name }`.
_BROKEN_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\s*([a-z_][a-z0-9_]*)\s*\}")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_TAG_NAME = re.compile(r"/?[A-Za-z][^\t\n\f\r />]*")
_TAG_SPACE = re.compile(r"[\t\n\f\r /]*")
_TAG_SPACE_ONLY = re.compile(r"[\t\n\f\r ]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />\"'=][^\t\n\f\r />\"'=]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"})
# Attributes whose value is code or a document, not text: escaping for HTML does not make a value safe there.
_CODE_ATTRS = frozenset({"style", "srcdoc"})
# SVG animation values (<set to=...>, <animate values=...>) become the animated attribute's value,
# which may be a link's href: a label there could set javascript:.
_ANIMATION_ATTRS = frozenset({"to", "from", "by", "values"})
# Elements whose attributes choose code for the whole page: a script's source, the base of every relative URL.
_SOURCE_ELEMENTS = frozenset({"script", "base"})
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "poster", "srcset", "cite", "data", "background"})
# A URL that stays on the shop or is plain http(s), mailto or tel: no other scheme (javascript:), and no
# `//host` or `/\host`, which browsers read as a link to another site.
_SAFE_URL = re.compile(r"(?:https?:|mailto:|tel:|/(?![/\\])|[?#.]|[^:/?#\\]+(?:[/?#]|\Z)|\Z)", re.I)
# What browsers ignore in a URL: tabs and newlines anywhere, C0 controls and spaces around it.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_URL_TRIMMED = "".join(map(chr, range(0x21)))


class TemplateError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    url: bool


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    parts: tuple[str | _Slot, ...]
    # Translations by language code, when the rule file's path names one per language ({lang}).
    languages: Mapping[str, tuple[str | _Slot, ...]] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(part.name for part in self.parts if isinstance(part, _Slot))

    def translated(self, languages: Mapping[str, Template]) -> Template:
        """This template (the default language's) with the other languages' versions beside it."""
        return Template(self.path, self.parts, {code: template.parts for code, template in languages.items()})

    def render(self, values: Mapping[str, object], language: str = "") -> str:
        out = []
        for part in self.languages.get(language, self.parts):
            if isinstance(part, str):
                out.append(part)
                continue
            value = str(values[part.name])
            if part.url:
                value = _URL_IGNORED.sub("", value).strip(_URL_TRIMMED)
                if not _SAFE_URL.match(value):
                    value = "#"
            out.append(html.escape(value, quote=True))
        return "".join(out)


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a run of what `pattern` matches (possibly none) ends."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


def _context(before: str) -> tuple[str, str | None, str | None]:
    """('text' | 'attr' | 'bad', attribute name, element name) for a placeholder preceded by `before`.

    A small scan of the tags as the tokenizer sees them: quoted attribute values may hold `>` and
    `<`, comments and script/style content are skipped, so the placeholder's real context is found
    (a `>` inside `title="x>y"` does not end the tag)."""
    if before.endswith(("<", "</")):
        return "bad", None, None  # the value would become a tag name
    pos, end = 0, len(before)
    while True:
        lt = before.find("<", pos)
        if lt < 0:
            return "text", None, None
        if before.startswith("<!--", lt):
            close = before.find("-->", lt + 4)
            if close < 0:
                return "bad", None, None
            pos = close + 3
            continue
        tag = _TAG_NAME.match(before, lt + 1)
        if tag is None:
            pos = lt + 1  # a '<' that starts no tag is text
            continue
        pos = tag.end()
        while True:
            pos = _skip(_TAG_SPACE, before, pos)
            if pos >= end:
                return "bad", None, None  # in a tag, between attributes
            if before[pos] == ">":
                pos += 1
                break
            name = _ATTR_NAME.match(before, pos)
            if name is None:  # a stray quote or '=' where a name belongs
                return "bad", None, None
            pos = _skip(_TAG_SPACE_ONLY, before, name.end())
            if pos >= end:
                return "bad", None, None
            if before[pos] != "=":
                continue
            pos = _skip(_TAG_SPACE_ONLY, before, pos + 1)
            if pos >= end:
                return "bad", None, None  # an unquoted value
            quote = before[pos]
            if quote in "\"'":
                close = before.find(quote, pos + 1)
                if close < 0:
                    return "attr", name.group(0).lower(), tag.group(0).lower()
                pos = close + 1
            else:
                pos = _skip(_UNQUOTED, before, pos)
                if pos >= end:
                    return "bad", None, None
        raw = tag.group(0).lower()
        if raw in _RAW_TEXT:
            close_tag = before.lower().find(f"</{raw}", pos)
            if close_tag < 0:
                return "bad", None, None
            pos = close_tag


def compile_template(path: str, source: str, provided: frozenset[str]) -> Template:
    parts: list[str | _Slot] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(source):
        _check_literal(source, pos, match.start(), provided)
        line = source.count("\n", 0, match.start()) + 1
        name = match.group(1)
        if not _NAME.fullmatch(name):
            raise TemplateError(line, f"placeholder {{{{ {name} }}}} is not a plain name")
        if name not in provided:
            known = ", ".join(sorted(provided)) or "none"
            raise TemplateError(line, f"unknown value {{{{ {name} }}}} (this action provides: {known})")
        context, attr, element = _context(source[: match.start()])
        if attr is not None and (attr.startswith("on") or attr in _CODE_ATTRS):
            raise TemplateError(line, f"{{{{ {name} }}}} may not stand in the '{attr}' attribute: its value is script or styles, not text")
        if attr in _ANIMATION_ATTRS:
            raise TemplateError(
                line,
                f"{{{{ {name} }}}} may not stand in the '{attr}' attribute: an SVG animation's value can set any attribute, a link's too",
            )
        if element in _SOURCE_ELEMENTS:
            raise TemplateError(
                line, f"{{{{ {name} }}}} may not stand in an attribute of <{element}>: it would choose where the page's code comes from"
            )
        if context == "bad":
            raise TemplateError(
                line,
                f"{{{{ {name} }}}} may only stand in text or inside a quoted attribute value, not in a tag, script or style",
            )
        parts.append(source[pos : match.start()])
        # The local name decides: SVG's xlink:href is a link as href is.
        parts.append(_Slot(name, url=attr is not None and attr.rpartition(":")[2] in _URL_ATTRS))
        pos = match.end()
    _check_literal(source, pos, len(source), provided)
    parts.append(source[pos:])
    return Template(path, tuple(part for part in parts if part != ""))


def _check_literal(source: str, start: int, end: int, provided: frozenset[str]) -> None:
    """Refuse a broken placeholder in the text between placeholders: it would reach the page as
    it is written (`Shop {{category}`)."""
    for match in _BROKEN_PLACEHOLDER.finditer(source, start, end):
        name = match.group(1)
        if name is not None and name not in provided:
            continue  # `{ x }` is text (a style rule, say) unless it names a value
        line = source.count("\n", 0, match.start()) + 1
        if name is not None:
            raise TemplateError(line, f"{match.group(0)!r} is not a placeholder: write {{{{ {name} }}}}")
        raise TemplateError(line, f"{match.group(0)!r} without its other half: a placeholder is written {{{{ name }}}}")
