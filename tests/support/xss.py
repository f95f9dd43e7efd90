"""Payloads that try to become markup, and a check that a served page holds none of their markup.

`injected` parses the page as a browser would (lexbor) and lists what a payload could have made
executable: a script element or an event-handler attribute running alert(1), an attribute whose
value is a javascript: URL where a browser follows or loads it (links, sources, form actions, SVG's
xlink:href, and an SVG animation's values, which can set a link), or an element or attribute a
payload names. The pages under test have none of these of their own.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

__all__ = ["PAYLOADS", "injected", "text_of"]

PAYLOADS = (
    '"><script>alert(1)</script>',
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
    "</style><script>alert(1)</script>",
    "</textarea><img src=x onerror=alert(1)>",
    "{{ category }}",
    "a\u2028b\u2029c alert(1)",
)

# What browsers drop from a URL before reading its scheme: ASCII whitespace and C0 controls anywhere
# (tabs and line breaks inside "java\tscript:" too), and spaces around it.
_URL_NOISE = re.compile(r"[\x00-\x20]")
_URL_ATTRS = frozenset("href src action formaction data poster background srcset cite codebase longdesc ping to from by values".split())


def _nodes(tree: LexborHTMLParser):  # type: ignore[no-untyped-def]
    root = tree.root
    return root.traverse(include_text=False) if root is not None else ()


def injected(page: bytes | str) -> list[str]:
    """What in `page` a payload could have made run: empty when nothing."""
    tree = LexborHTMLParser(page.encode() if isinstance(page, str) else page)
    found = []
    for node in _nodes(tree):
        tag = (node.tag or "").lower()
        if tag == "script" and "alert(" in node.text(deep=True):
            found.append(f"<script> running {node.text(deep=True)!r}")
        if tag == "img" and node.attributes.get("src") == "x":
            found.append("<img src=x> from a payload")
        for name, value in node.attributes.items():
            name, value = name.lower(), value or ""
            if name.startswith("on") and ("alert(" in value or name in ("onmouseover", "onerror")):
                found.append(f"<{tag} {name}={value!r}>")
            if name.rpartition(":")[2] in _URL_ATTRS and _URL_NOISE.sub("", value).lower().startswith("javascript:"):
                found.append(f"<{tag} {name}={value!r}>, a javascript: URL")
    return found


def text_of(page: bytes | str, selector: str = "body") -> str:
    """The text a browser shows for the first element `selector` matches ("" when none does)."""
    tree = LexborHTMLParser(page.encode() if isinstance(page, str) else page)
    node = tree.css_first(selector)
    return node.text(deep=True) if node is not None else ""
