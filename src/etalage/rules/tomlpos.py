"""Line numbers for the keys and tables of a TOML document.

tomllib gives values without positions. TOML is line-oriented, so one pass over the lines recovers
where each table header and `key =` line stands; error messages then point at `file:line`. Keys in
inline tables and multi-line arrays resolve to the line of the key that holds them.
"""

from __future__ import annotations

import re

__all__ = ["KeyLines"]

_HEADER = re.compile(r"\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=""")
_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"((?:[^"\\]|\\.)*)"|'([^']*)'""")
_STRINGS = re.compile(r'''"""|\'\'\'|"(?:[^"\\]|\\.)*"|'[^']*\'''')

Path = tuple[str | int, ...]


def _balance(code: str) -> int:
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


def _split_key(text: str) -> list[str]:
    parts = []
    for match in _KEY_PART.finditer(text):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        parts.append(quoted if quoted is not None else match.group(0))
    return parts


class KeyLines:
    def __init__(self, source: str) -> None:
        self._lines: dict[Path, int] = {}
        self._array_counts: dict[Path, int] = {}
        table: Path = ()
        depth = 0
        multiline: str | None = None
        # TOML's lines end at "\n" only: splitlines() would also end them at NEL, U+2028 or \x1c, which
        # a label or a comment (a product title from a feed) may hold, and count every later line wrong.
        for number, line in enumerate(source.split("\n"), start=1):
            if multiline is not None:
                if multiline in line:
                    multiline = None
                continue
            if depth == 0:
                header = _HEADER.match(line)
                if header and not _KEY.match(line):
                    table = self._header(header.group(1) == "[[", _split_key(header.group(2)), number)
                    continue
                key = _KEY.match(line)
                if key:
                    self._lines.setdefault(table + tuple(_split_key(key.group(1))), number)
            depth, multiline = self._scan_brackets(line, depth)

    def _resolve(self, parts: list[str]) -> Path:
        path: Path = ()
        for part in parts:
            path += (part,)
            count = self._array_counts.get(path)
            if count:
                path += (count - 1,)
        return path

    def _header(self, is_array: bool, parts: list[str], number: int) -> Path:
        if is_array:
            parent = self._resolve(parts[:-1]) + (parts[-1],)
            index = self._array_counts.get(parent, 0)
            self._array_counts[parent] = index + 1
            self._lines.setdefault(parent, number)
            path = parent + (index,)
        else:
            path = self._resolve(parts)
        self._lines[path] = number
        return path

    @staticmethod
    def _scan_brackets(line: str, depth: int) -> tuple[int, str | None]:
        """Bracket depth after this line, and the delimiter of a multi-line string left open."""
        for match in _STRINGS.finditer(line):
            token = match.group(0)
            if token in ('"""', "'''") and token not in line[match.end() :]:
                return max(depth + _balance(line[: match.start()]), 0), token
        code = _STRINGS.sub("", line).split("#", 1)[0]
        return max(depth + _balance(code), 0), None

    def line(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one; 1 when nothing matches."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return 1
