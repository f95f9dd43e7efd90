"""Random small edits of a text, for the property tests and measurements of the consent readers.

An edit replaces, inserts or deletes text, changes letter case, repeats a slice or percent-encodes
a character, at a place given as a fraction of the text's length (so that Hypothesis shrinks it
towards the start). The inserted text comes from SIGN_GROUPS: the characters parsers trip over.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from hypothesis import strategies as st

__all__ = ["SIGN_GROUPS", "SIGNS", "Edit", "apply", "edits", "random_edits"]

# By kind, each kind as likely as the others whatever its size.
SIGN_GROUPS = (
    tuple("aAzZeEmMtTxX0159"),
    tuple("=&:,;%+-._'\"{}[]\\/!#$()*<>?@^`|~"),
    # Whitespace: ASCII, the C0 separators and NEL that str.strip() and re's \s take, and Unicode spaces.
    (
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\x0c",
        "\x00",
        "\x1c",
        "\x1f",
        "\x85",
        "\xa0",
        "\u1680",
        "\u2000",
        "\u200b",
        "\u2028",
        "\u3000",
        "\ufeff",
    ),
    # Digits that are not ASCII (int() and re's \d read them), and letters whose case folds to ASCII.
    ("\u0661", "\u06f1", "\u0967", "\uff11", "\U0001d7cf", "\u0130", "\u0131", "\u017f", "\u212a", "é", "É"),
    # Percent-escapes, good and bad.
    ("%20", "%00", "%0A", "%2", "%ZZ", "%FF", "%C3%A9", "%3A", "%2C", "%27", "%22", "%3D", "%26", "%3B", "%2B"),
)
SIGNS = tuple(sign for group in SIGN_GROUPS for sign in group)
KINDS = ("replace", "insert", "delete", "case", "repeat", "percent")


class Edit(NamedTuple):
    kind: str
    where: float  # in [0, 1): the place, as a part of the text's length
    extent: float  # in [0, 1): how much, as a part of what follows the place (at most 8 characters)
    sign: str


def apply(text: str, changes: list[Edit]) -> str:
    for kind, where, extent, sign in changes:
        at = int(where * (len(text) + 1))
        size = 1 + int(extent * min(8, max(len(text) - at, 1)))
        end = min(at + size, len(text))
        if kind == "replace":
            text = text[:at] + sign + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + sign + text[at:]
        elif kind == "delete":
            text = text[:at] + text[end:]
        elif kind == "case":
            text = text[:at] + text[at:end].swapcase() + text[end:]
        elif kind == "repeat":
            text = text[:end] + text[at:end] + text[end:]
        elif kind == "percent" and at < len(text):
            text = text[:at] + "".join(f"%{byte:02X}" for byte in text[at].encode()) + text[at + 1 :]
    return text


# The two ends of a value are where parsers strip and pad, so they come up as often as all other places.
_UNIT = st.sampled_from([0.0, 1 - 1e-9]) | st.floats(0, 1, exclude_max=True)


def edits(max_size: int = 3) -> st.SearchStrategy[list[Edit]]:
    """Hypothesis: one to max_size edits."""
    sign = st.sampled_from(SIGN_GROUPS).flatmap(st.sampled_from)
    return st.lists(st.builds(Edit, st.sampled_from(KINDS), _UNIT, _UNIT, sign), min_size=1, max_size=max_size)


def random_edits(rng: random.Random, max_size: int = 3) -> list[Edit]:
    """The same, from a seeded random generator (for measuring many at once)."""
    return [Edit(rng.choice(KINDS), rng.random(), rng.random(), rng.choice(SIGNS)) for _ in range(rng.randint(1, max_size))]
