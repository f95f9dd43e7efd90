"""Validating the tables of rule files: typed getters that record every problem at its key's line.

Load time only: the loader, the condition compiler, the consent policy and each action read their
TOML tables through `Fields`; the request path never sees one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from etalage.problems import Problem, closest
from etalage.rules.tomlpos import KeyLines

__all__ = ["Fields", "RuleSetError", "MISSING"]

MISSING: Any = object()


class RuleSetError(Exception):
    """A rule folder that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


class Fields:
    """One TOML table under validation: typed getters that record problems at the key's line.

    Call `finish()` last: it reports the keys nobody asked for, with a did-you-mean hint.
    """

    def __init__(self, table: Any, path: tuple[str | int, ...], file: str, lines: KeyLines, problems: list[Problem]) -> None:
        self.path = path
        self.file = file
        self._lines = lines
        self._problems = problems
        self._seen: set[str] = set()
        # How messages name this table; rules are named by their id once it is known.
        self.label = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in path).replace(".[", "[")
        if isinstance(table, dict):
            self.table = table
        else:
            self.table = {}
            self.problem(f"{self.name} must be a table, not {_kind(table)}")

    @property
    def name(self) -> str:
        return self.label

    def line(self, key: str | None = None) -> int:
        return self._lines.line(self.path + ((key,) if key else ()))

    def where(self, key: str | None = None) -> str:
        return f"{self.file}:{self.line(key)}"

    def problem(self, message: str, key: str | None = None, hint: str = "") -> None:
        self._problems.append(Problem(self.file, self.line(key), message, hint))

    def sub(self, key: str, value: Any) -> Fields:
        fields = Fields(value, self.path + (key,), self.file, self._lines, self._problems)
        fields.label = f"{self.label}.{key}" if self.label else key
        return fields

    def entry(self, key: str, index: int, value: Any) -> Fields:
        """The index-th table of the array of tables `[[key]]`."""
        return Fields(value, self.path + (key, index), self.file, self._lines, self._problems)

    def take_id(self, kind: str, seen: dict[str, str], check: Callable[[Any], str | None]) -> str | None:
        """The table's `id`, unique among the `kind` tables (`seen`: each id and where it came first); from
        here on the table's problems are labelled with it. None when missing, invalid or used again."""
        value = self.take("id", str, check=check)
        if not isinstance(value, str):
            return None
        self.label = f"{kind} '{value}'"
        if value in seen:
            self.problem(f"{kind} id '{value}' is used again (first at {seen[value]})", "id")
            return None
        seen[value] = self.where("id")
        return value

    def take(
        self, key: str, kind: type | tuple[type, ...], default: Any = MISSING, check: Callable[[Any], str | None] | None = None
    ) -> Any:
        """The value of `key` if it has the right type (and `check` returns no complaint), else `default`."""
        self._seen.add(key)
        if key not in self.table:
            if default is MISSING:
                self.problem(f"{self.name}: missing required key '{key}'")
                return None
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a rule file that says `priority = true` is wrong.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(_kind_name(k) for k in kinds)
            self.problem(f"{self.name}: '{key}' must be {expected}, not {_kind(value)}", key)
            return None if default is MISSING else default
        if check is not None:
            complaint = check(value)
            if complaint:
                self.problem(f"{self.name}: '{key}': {complaint}", key)
                return None if default is MISSING else default
        return value

    def strings(self, key: str, default: Any = MISSING) -> tuple[str, ...] | None:
        values = self.take(key, list, default)
        if values is None or values is default:
            return values
        if not all(isinstance(v, str) for v in values):
            self.problem(f"{self.name}: '{key}' must be a list of strings", key)
            return None
        return tuple(values)

    def localized(self, key: str, languages: tuple[str, ...], default: Any = MISSING) -> str | dict[str, str] | None:
        """A text shown to visitors: one string for every page, or a table with one string per
        site language (`languages`), each page getting its own. Every language must have its text:
        a page that falls back to another language's would mix two languages in one sentence."""
        value: object = self.take(key, (str, dict), default)
        if not isinstance(value, dict):
            return value if isinstance(value, str) else None
        if not languages:
            self.problem(
                f"{self.name}: '{key}' is given per language, but [site] names no languages",
                key,
                f'give one text ({key} = "...") or add languages = ["nl", "en"] to [site]',
            )
            return None
        texts = self.sub(key, value)
        texts.label = f"{self.name}: '{key}'"
        result: dict[str, str] = {}
        for code in value:
            if code not in languages:
                close = closest(code, list(languages))
                texts.problem(
                    f"{texts.name}: {code!r} is not one of the site's languages ({', '.join(languages)})",
                    code,
                    f"did you mean '{close}'?" if close else "",
                )
                texts.take(code, str)
                continue
            text = texts.take(code, str)
            if text is not None:
                result[code] = text
        missing = [code for code in languages if code not in value]
        if missing:
            self.problem(
                f"{self.name}: '{key}' has no text for {', '.join(missing)}", key, "give one for every language in [site] languages"
            )
            return None
        return result if len(result) == len(value) else None

    def regex(self, key: str, pattern: Any) -> re.Pattern[str] | None:
        if not isinstance(pattern, str):
            return None
        try:
            return re.compile(pattern)
        except re.error as exc:
            self.problem(f"{self.name}: '{key}': invalid regular expression {pattern!r}: {exc}", key)
            return None

    def finish(self) -> None:
        for key in self.table:
            if key not in self._seen:
                close = closest(key, sorted(self._seen))
                self.problem(
                    f"{self.name}: unknown key '{key}'",
                    key,
                    f"did you mean '{close}'?" if close else f"known keys: {', '.join(sorted(self._seen))}",
                )


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false", list: "a list", dict: "a table"}.get(
        kind, kind.__name__
    )


def _kind(value: Any) -> str:
    """What the value is, in words a reader can act on: `3.5` is a number with a fraction, not "a number"."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, float):
        return f"{value!r}, a number with a fraction"
    return _kind_name(type(value))
