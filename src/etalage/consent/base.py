"""What every consent-platform reader is: settings and cookies in, a reason for yes, None or a refusal out.

A reader returns None when the visitor sent none of its cookies, the reason in plain words when
they all grant, and raises `Refusal` when one refuses or cannot be read; read.py combines them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from etalage.types import CookieJar

__all__ = ["Reader", "Refusal", "single", "plural", "look_alike"]

# Takes the source's settings dataclass (policy.py), so Any: each reader names its own.
Reader = Callable[[Any, CookieJar], str | None]


class Refusal(Exception):
    """A present consent cookie that refuses, or that cannot be read; the message is the reason."""


def single(jar: CookieJar, name: str, label: str) -> str | None:
    """The cookie's value; None when absent. Sent twice with different values: no consent."""
    values = jar.get(name)
    if not values:
        return None
    if len(set(values)) != 1:
        raise Refusal(f"{label} cookie {name} was sent {len(values)} times with different values, so the visitor's choice is unclear")
    return values[0]


def plural(noun: str, items: Sequence[object]) -> str:
    """`group C0004` or `groups C0003, C0004`, for reasons."""
    words = {"category": "categories"}
    return f"{noun if len(items) == 1 else words.get(noun, noun + 's')} {', '.join(str(item) for item in items)}"


_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]")


def look_alike(name: str, names: Sequence[str]) -> str | None:
    """The one of `names` that `name` is spelt like without being it, else None: the same letters and
    digits in another case, or with signs, spaces or other characters among them (`isgpcenabled`,
    `Awaiting Reconsent`, `c0004`).

    Platforms write the names of the fields that decide exactly. Skipping a corrupted one as unknown
    could skip a refusal (`IsGpcEnabled=1`) and read the default instead, so a reader refuses it."""
    if name in names:
        return None
    folded = _NOT_ASCII_ALNUM.sub("", name.casefold())
    return next((known for known in names if _NOT_ASCII_ALNUM.sub("", known.casefold()) == folded), None)
