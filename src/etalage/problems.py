"""Problems in files people edit by hand (rule files, customer exports, product feeds).

Each is reported as `file:line: message (hint: ...)`, so a person can go straight to the line; the
did-you-mean hint for a misspelt name is worked out in one place for all of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "closest", "did_you_mean"]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


def closest(word: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name `word` is most likely a misspelling of, if any is close enough."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """A hint for an unknown name: the closest known one, else the list of known ones."""
    names = list(known)
    close = closest(word, names, cutoff)
    return f"did you mean {close!r}?" if close else f"known: {', '.join(names) or 'none'}"
