"""HTML fragment templates with `{{ name }}` placeholders, compiled at load time.

Each placeholder's context (text or a quoted attribute value; URL attributes get a scheme check) is
decided when the template is compiled, so a value can never open a tag, close an attribute or
smuggle a `javascript:` URL in at request time. A placeholder in any other position (inside a
script or style, an unquoted attribute, a tag or attribute name) is a load error, as is a name the
action does not provide.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Template", "TemplateError", "compile_template"]

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_OPEN_QUOTED_ATTR = re.compile(r"""([^\s"'=<>/]+)\s*=\s*(["'])[^"']*\Z""")
_RAW_TEXT_OPEN = re.compile(r"<(script|style)\b", re.I)
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "poster", "srcset", "cite", "data", "background"})
_SAFE_URL = re.compile(r"(?:https?:|mailto:|tel:|[/?#.]|[^:/?#]*(?:[/?#]|\Z))", re.I)


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
            if part.url and not _SAFE_URL.match(value):
                value = "#"
            out.append(html.escape(value, quote=True))
        return "".join(out)


def _context(before: str) -> tuple[str, str | None]:
    """('text' | 'attr' | 'bad', attribute name) for a placeholder preceded by `before`."""
    last_open, last_close = before.rfind("<"), before.rfind(">")
    script = list(_RAW_TEXT_OPEN.finditer(before))
    if script:
        tag = script[-1].group(1).lower()
        if before.lower().rfind(f"</{tag}") < script[-1].start():
            return "bad", None
    if last_open <= last_close:
        return "text", None
    attr = _OPEN_QUOTED_ATTR.search(before[last_open:])
    if attr is None:
        return "bad", None
    return "attr", attr.group(1).lower()


def compile_template(path: str, source: str, provided: frozenset[str]) -> Template:
    parts: list[str | _Slot] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        name = match.group(1)
        if not _NAME.fullmatch(name):
            raise TemplateError(line, f"placeholder {{{{ {name} }}}} is not a plain name")
        if name not in provided:
            known = ", ".join(sorted(provided)) or "none"
            raise TemplateError(line, f"unknown value {{{{ {name} }}}} (this action provides: {known})")
        context, attr = _context(source[: match.start()])
        if context == "bad":
            raise TemplateError(
                line,
                f"{{{{ {name} }}}} may only stand in text or inside a quoted attribute value, not in a tag, script or style",
            )
        parts.append(source[pos : match.start()])
        parts.append(_Slot(name, url=attr in _URL_ATTRS))
        pos = match.end()
    parts.append(source[pos:])
    return Template(path, tuple(part for part in parts if part != ""))
