"""The compiler: condition tables from rule files become Condition objects, or problems at file:line.

Each kind has one compile function, registered in KINDS in the order the language lists them,
with the example its hints show. Checking happens here, once: the conditions it builds trust
their fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from datetime import time as Time
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from etalage.problems import closest, did_you_mean
from etalage.profiles.profile import LIFECYCLE_STAGES
from etalage.rules.conditions.base import Condition
from etalage.rules.conditions.combinators import ALWAYS, AllOf, AnyOf, Broken, Not, Segment
from etalage.rules.conditions.profile import (
    Affinity,
    CategorySet,
    CrmSegment,
    DaysSinceLastVisit,
    Excluded,
    InterestedIn,
    Lifecycle,
    Purchased,
    ReplenishmentDue,
    Subscribed,
    Top,
    Visits,
)
from etalage.rules.conditions.request import DEVICES, Device, Param, PathMatches, Query, Referrer, glob_regex
from etalage.rules.conditions.schedule import WEEKDAYS, DateWindow, TimeWindow
from etalage.rules.fields import Fields
from etalage.rules.model import Product, Site

__all__ = ["Kind", "KINDS", "CONDITION_KINDS", "CUSTOMERS_SEGMENT", "compile_segments", "compile_condition"]

_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
# The built-in segment of customers with an order (etalage.engine.audience): no rules segment takes its name.
CUSTOMERS_SEGMENT = "customers"
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, datetime):
        return "a date and time"
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "a table", Time: "a time"}
    return names.get(type(value), "a date")


def _suggest(word: str, known: Iterable[str], otherwise: str) -> str:
    """A hint for an unknown name: the closest known one, quoted as these messages always were, else `otherwise`."""
    close = closest(word, known)
    return f"did you mean '{close}'?" if close else otherwise


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _label(owner: str, path: str) -> str:
    return f"{owner}: {path}" if path else owner


class _Table:
    """A condition's own table (affinity = { ... }) under validation: remembers whether anything failed."""

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self.bad = False
        self._keys: set[str] = set()

    @property
    def table(self) -> dict[str, Any]:
        return self.fields.table

    def problem(self, message: str, key: str | None = None, hint: str = "") -> None:
        self.fields.problem(f"{self.fields.name}: {message}", key, hint)
        self.bad = True

    def mark(self, key: str) -> Any:
        """The raw value of `key` (None if absent), checked by the caller."""
        self._keys.add(key)
        value = self.fields.table.get(key)
        self.fields.take(key, type(value), None)
        return value

    def required(self, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None) -> Any:
        self._keys.add(key)
        value = self.fields.take(key, kind, check=check)
        if value is None:
            self.bad = True
        return value

    def optional(self, key: str, kind: type | tuple[type, ...], check: Callable[[Any], str | None] | None = None) -> Any:
        self._keys.add(key)
        value = self.fields.take(key, kind, None, check)
        if value is None and key in self.fields.table:
            self.bad = True
        return value

    def finish(self) -> None:
        """Report unknown keys (with did-you-mean); they make the condition invalid."""
        if not self._keys.issuperset(self.fields.table):
            self.bad = True
        self.fields.finish()


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be more than 0"


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


SegmentResolver = Callable[[Fields, str, str], "Condition | None"]


class _Compiler:
    def __init__(self, site: Site, catalog: Mapping[str, Product], resolve: SegmentResolver) -> None:
        self.site = site
        self.catalog = catalog
        self.resolve = resolve
        self._zones: dict[str, ZoneInfo] = {}

    # The condition table: its keys are kinds.
    def node(self, fields: Fields, owner: str, path: str) -> Condition | None:
        table = fields.table
        if not table:
            fields.problem(f"{fields.name}: no condition given", hint='e.g. { lifecycle = "customer" }')
            return None
        parts: list[Condition] = []
        ok = True
        for key in table:
            kind = KINDS.get(key)
            if kind is None:
                if key in _STRAY_KEYS:
                    hint = _STRAY_KEYS[key]
                elif key.startswith("utm_"):
                    hint = f'query parameters go inside query, e.g. query = {{ {key} = "..." }}'
                else:
                    hint = _suggest(key, CONDITION_KINDS, f"known conditions: {', '.join(CONDITION_KINDS)}")
                fields.problem(f"{fields.name}: unknown condition '{key}'", key, hint)
                ok = False
                continue
            condition = kind.compile(self, fields, key, owner, path)
            if condition is None:
                ok = False
            else:
                parts.append(condition)
        if not ok:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def sub_node(self, parent: Fields, key: str, index: int | None, value: Any, owner: str, path: str) -> Condition | None:
        fields = parent.sub(key, value) if index is None else parent.entry(key, index, value)
        fields.label = _label(owner, path)
        return self.node(fields, owner, path)

    def value_table(self, fields: Fields, key: str, owner: str, path: str) -> _Table | None:
        """The table a kind takes (affinity = { ... }), or None after a problem."""
        value = fields.table[key]
        if not isinstance(value, dict):
            fields.problem(f"{fields.name}: '{key}' must be a table, not {_kind_of(value)}", key, f"e.g. {KINDS[key].example}")
            return None
        sub = fields.sub(key, value)
        sub.label = _label(owner, _join(path, key))
        return _Table(sub)

    def category(self, table: _Table, key: str, required: bool) -> str | None:
        value: str | None = table.required(key, str) if required else table.optional(key, str)
        if value is not None and value not in self.site.labels:
            table.problem(f"'{key}': unknown category {value!r}", key, self._category_hint(value))
            return None
        return value

    def _category_hint(self, value: str) -> str:
        categories = self.site.categories
        return _suggest(
            value, categories, f"categories are: {', '.join(categories)}" if categories else "no categories are defined in [site]"
        )

    def names(
        self, fields: Fields, key: str, what: str, known: Sequence[str] | None, hint: Callable[[str], str] | None = None
    ) -> tuple[str, ...] | None:
        """One name or a non-empty list of distinct names (from `known` when given)."""
        value = fields.table[key]
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            values = value
        elif isinstance(value, list) and not value:
            fields.problem(f"{fields.name}: '{key}' is empty", key, f"list at least one {what}")
            return None
        else:
            shown = (
                _kind_of(value)
                if not isinstance(value, list)
                else "a list with " + _kind_of(next(v for v in value if not isinstance(v, str)))
            )
            fields.problem(f"{fields.name}: '{key}' must be a {what} or a list of them, not {shown}", key, f"e.g. {KINDS[key].example}")
            return None
        ok = True
        for index, name in enumerate(values):
            if known is not None and name not in known:
                advice = hint(name) if hint is not None else did_you_mean(name, known)
                fields.problem(f"{fields.name}: '{key}': unknown {what} {name!r}", key, advice)
                ok = False
            elif known is None and not name:
                fields.problem(f"{fields.name}: '{key}': a {what} cannot be empty", key)
                ok = False
            elif name in values[:index]:
                fields.problem(f"{fields.name}: '{key}': {name!r} is listed twice", key)
                ok = False
        return tuple(values) if ok else None

    def regex(self, fields: Fields, key: str, pattern: str) -> re.Pattern[str] | None:
        try:
            return re.compile(pattern)
        except re.error as exc:
            fields.problem(f"{fields.name}: '{key}': invalid regular expression {pattern!r}: {exc}", key)
            return None

    def zone(self, table: _Table) -> ZoneInfo | None:
        name = table.optional("timezone", str)
        if name is None:
            if "timezone" not in table.table:
                table.problem("'timezone' is missing", None, 'the shop\'s time zone, e.g. timezone = "Europe/Amsterdam"')
            return None
        zone = self._zone(name)
        if zone is None:
            table.problem(
                f"'timezone': unknown time zone {name!r}",
                "timezone",
                _suggest(name, available_timezones(), "use an IANA time zone name such as 'Europe/Amsterdam'"),
            )
        return zone

    def _zone(self, name: str) -> ZoneInfo | None:
        if name not in self._zones:
            try:
                self._zones[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                return None
        return self._zones[name]


# Each kind's compile function: (compiler, the condition table, the kind's key, owner, path) ->
# the condition, or None after recording problems. KINDS below registers them.
_Compile = Callable[[_Compiler, Fields, str, str, str], Condition | None]


def _all_or_any(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    value = fields.table[key]
    if not isinstance(value, list):
        fields.problem(f"{fields.name}: '{key}' must be a list of conditions, not {_kind_of(value)}", key, f"e.g. {KINDS[key].example}")
        return None
    if not value:
        fields.problem(f"{fields.name}: '{key}' is empty", key, "list at least one condition")
        return None
    children = []
    ok = True
    for index, item in enumerate(value):
        item_path = f"{_join(path, key)}[{index}]"
        if not isinstance(item, dict):
            fields.problem(
                f"{_label(owner, item_path)}: a condition must be a table, not {_kind_of(item)}", key, 'e.g. { device = "mobile" }'
            )
            ok = False
            continue
        child = c.sub_node(fields, key, index, item, owner, item_path)
        if child is None:
            ok = False
        else:
            children.append(child)
    if not ok:
        return None
    if len(children) == 1:
        return children[0]
    return AllOf(tuple(children)) if key == "all" else AnyOf(tuple(children))


def _not(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    value = fields.table[key]
    if not isinstance(value, dict):
        fields.problem(
            f"{fields.name}: 'not' must be a table with one condition, not {_kind_of(value)}", key, f"e.g. {KINDS['not'].example}"
        )
        return None
    if len(value) > 1:
        fields.problem(
            f"{fields.name}: 'not' takes one condition, not {len(value)}",
            key,
            "for none of them write not = { any = [...] }; for not all of them write not = { all = [...] }",
        )
        return None
    inner = c.sub_node(fields, key, None, value, owner, _join(path, key))
    return Not(inner) if inner is not None else None


def _segment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    name = fields.table[key]
    if not isinstance(name, str):
        fields.problem(f"{fields.name}: 'segment' must be a segment name, not {_kind_of(name)}", key, f"e.g. {KINDS['segment'].example}")
        return None
    return c.resolve(fields, key, name)


def _affinity(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=True)
    lo = table.optional("min", (int, float), _not_negative)
    hi = table.optional("max", (int, float), _not_negative)
    table.finish()
    if table.bad or category is None:
        return None
    return Affinity(category, c.site.labels[category], lo, hi)


def _top(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=True)
    n = table.optional("n", int, _at_least_one)
    table.finish()
    if table.bad or category is None:
        return None
    return Top(category, c.site.labels[category], n if n is not None else 1, c.site.categories.index(category))


def _range_table(c: _Compiler, fields: Fields, key: str, owner: str, path: str, kind: type | tuple[type, ...]) -> tuple[Any, Any] | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    lo = table.optional("min", kind, _not_negative)
    hi = table.optional("max", kind, _not_negative)
    if lo is None and hi is None and not table.bad:
        table.problem("give 'min', 'max' or both", hint=f"e.g. {KINDS[key].example}")
    table.finish()
    return None if table.bad else (lo, hi)


def _visits(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    bounds = _range_table(c, fields, key, owner, path, int)
    return Visits(*bounds) if bounds is not None else None


def _days_since(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    bounds = _range_table(c, fields, key, owner, path, (int, float))
    return DaysSinceLastVisit(*bounds) if bounds is not None else None


def _sku(c: _Compiler, table: _Table) -> str | None:
    sku: str | None = table.optional("sku", str)
    if sku is not None and c.catalog and sku not in c.catalog:
        table.problem(f"'sku': unknown product {sku!r}", "sku", _suggest(sku, c.catalog, "products are listed in [catalog]"))
        return None
    return sku


def _purchased(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=False)
    sku = _sku(c, table)
    within = table.optional("within_days", (int, float), _positive)
    min_count = table.optional("min_count", int, _at_least_one)
    table.finish()
    if table.bad:
        return None
    never = None
    product = c.catalog.get(sku) if sku is not None else None
    if product is not None and category is not None and product.category != category:
        never = f"{sku} is in {c.site.labels.get(product.category, product.category)}, not {c.site.labels[category]}"
    label = c.site.labels[category] if category is not None else None
    return Purchased(category, label, sku, within, min_count if min_count is not None else 1, never)


def _replenishment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    category = c.category(table, "category", required=False)
    sku = _sku(c, table)
    within = table.optional("within_days", (int, float), _not_negative)
    table.finish()
    if table.bad:
        return None
    label = c.site.labels[category] if category is not None else None
    candidates = {
        product_id: product.lasts_days
        for product_id, product in c.catalog.items()
        if product.lasts_days and (sku is None or product_id == sku) and (category is None or product.category == category)
    }
    never = None
    if not candidates:
        if sku is not None and c.catalog[sku].lasts_days is None:
            never = f"{sku} has no 'lasts_days' in [catalog]"
        elif sku is not None:
            never = f"{sku} is in {c.site.labels.get(c.catalog[sku].category, c.catalog[sku].category)}, not {label}"
        else:
            never = f"no product{' in ' + label if label else ''} has 'lasts_days' in [catalog]"
    return ReplenishmentDue(category, label, sku, within if within is not None else 7, candidates, never)


def _category_set(cls: type[CategorySet]) -> _Compile:
    def compile_set(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
        names = c.names(fields, key, "category", c.site.categories, c._category_hint)
        if names is None:
            return None
        chosen = frozenset(names)
        return cls(chosen, tuple(c.site.labels[category] for category in c.site.categories if category in chosen))

    return compile_set


def _lifecycle(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "lifecycle stage", LIFECYCLE_STAGES)
    return Lifecycle(frozenset(names)) if names is not None else None


def _crm_segment(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "CRM segment", None)
    return CrmSegment(names) if names is not None else None


def _device(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "device", DEVICES)
    return Device(frozenset(names)) if names is not None else None


def _path(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    names = c.names(fields, key, "regular expression", None)
    if names is None:
        return None
    patterns = [c.regex(fields, key, name) for name in names]
    if any(pattern is None for pattern in patterns):
        return None
    return PathMatches(tuple(patterns))  # type: ignore[arg-type]


def _globs(table: _Table, key: str, value: Any, what: str) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list) and not value:
        table.problem(f"'{key}' is empty", key, f"list at least one {what}")
        return None
    return None


def _query(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    if not table.table:
        table.problem("no query parameter given", hint=f"e.g. {KINDS['query'].example}")
        return None
    params = []
    for name, value in table.table.items():
        table.mark(name)
        if isinstance(value, bool):
            params.append(Param(name, value, (), None))
            continue
        patterns = _globs(table, name, value, "value")
        if patterns is None:
            if not table.bad:
                table.problem(
                    f"'{name}' must be a value pattern, a list of them, or true/false for present/absent, not {_kind_of(value)}",
                    name,
                    'e.g. utm_campaign = "spring-*"',
                )
            continue
        params.append(Param(name, True, patterns, glob_regex(patterns)))
    return None if table.bad else Query(tuple(params))


def _referrer(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    hosts: tuple[str, ...] = ()
    if "host" in table.table:
        value = table.optional("host", (str, list))
        if value is not None:
            found = _globs(table, "host", value, "host pattern")
            if found is None and not table.bad:
                table.problem("'host' must be a host pattern or a list of them", "host", 'e.g. host = "google.*"')
            hosts = tuple(host.lower() for host in found or ())
    url_text = table.optional("url", str)
    url = c.regex(table.fields, "url", url_text) if url_text is not None else None
    if url_text is not None and url is None:
        table.bad = True
    if not hosts and url_text is None and not table.bad:
        table.problem("give 'host', 'url' or both", hint=f"e.g. {KINDS['referrer'].example}")
    table.finish()
    if table.bad:
        return None
    return Referrer(hosts, glob_regex(hosts) if hosts else None, url)


def _day(text: str) -> int | None:
    text = text.lower()
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    if text in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(text)
    return None


def _minutes(table: _Table, key: str, allow_end: bool) -> int | None:
    value = table.mark(key)
    if value is None:
        return None
    if isinstance(value, Time):
        if value.second or value.microsecond:
            table.problem(f"'{key}': give hours and minutes only", key, 'e.g. from = "18:00"')
            return None
        return value.hour * 60 + value.minute
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        what = repr(value) if isinstance(value, str) else _kind_of(value)
        table.problem(f"'{key}': {what} is not a time of day", key, 'write hours and minutes, e.g. "18:00"')
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes == 0 and allow_end:
        return 1440
    if hours > 23 or minutes > 59:
        table.problem(
            f"'{key}': {value!r} is not a time of day",
            key,
            "hours 00 to 23, minutes 00 to 59" + (' (or "24:00" for the end of the day)' if allow_end else ""),
        )
        return None
    return hours * 60 + minutes


def _time(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    days: frozenset[int] | None = None
    names = table.optional("days", list)
    if names is not None:
        if not names:
            table.problem("'days' is empty", "days", "leave 'days' out for every day")
        chosen: list[int] = []
        for name in names:
            if not isinstance(name, str):
                table.problem(f"'days' must be a list of weekday names, not {_kind_of(name)}", "days", 'e.g. days = ["sat", "sun"]')
                continue
            day = _day(name)
            if day is None:
                table.problem(
                    f"'days': unknown weekday {name!r}",
                    "days",
                    _suggest(name.lower(), WEEKDAYS + _WEEKDAY_NAMES, "use mon, tue, wed, thu, fri, sat, sun"),
                )
            elif day in chosen:
                table.problem(f"'days': {name!r} is listed twice", "days")
            else:
                chosen.append(day)
        days = frozenset(chosen)
    start = _minutes(table, "from", allow_end=False)
    end = _minutes(table, "to", allow_end=True)
    zone = c.zone(table)
    if names is None and "from" not in table.table and "to" not in table.table and not table.bad:
        table.problem("give 'days', a 'from'/'to' time of day, or both", hint=f"e.g. {KINDS['time'].example}")
    table.finish()
    if table.bad or zone is None:
        return None
    return TimeWindow(days, start if start is not None else 0, end if end is not None else 1440, zone)


def _dates(c: _Compiler, fields: Fields, key: str, owner: str, path: str) -> Condition | None:
    table = c.value_table(fields, key, owner, path)
    if table is None:
        return None
    moments = (datetime, date)
    start_value = table.optional("from", moments)
    end_value = table.optional("until", moments)
    zone = c.zone(table) if any(_is_local(v) for v in (start_value, end_value)) else None
    if start_value is None and end_value is None and not table.bad:
        table.problem("give 'from', 'until' or both", hint=f"e.g. {KINDS['dates'].example}")
    table.finish()
    if table.bad or (zone is None and any(_is_local(v) for v in (start_value, end_value))):
        return None
    start = _instant(start_value, zone, end_of_day=False) if start_value is not None else None
    end = _instant(end_value, zone, end_of_day=True) if end_value is not None else None
    return DateWindow(start, end, _span(start_value, end_value))


def _is_local(value: Any) -> bool:
    """A date, or a date-time without an offset: read in the shop's time zone."""
    return value is not None and (not isinstance(value, datetime) or value.tzinfo is None)


def _instant(value: date | datetime, zone: ZoneInfo | None, end_of_day: bool) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()
    # A date: from the start of that day, until the end of that day (inclusive for people).
    day = value + timedelta(days=1) if end_of_day else value
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _span(start: date | datetime | None, end: date | datetime | None) -> str:
    if start is not None and end is not None:
        return f"from {start.isoformat()} until {end.isoformat()}"
    return f"from {start.isoformat()}" if start is not None else f"until {end.isoformat()}"  # type: ignore[union-attr]


class Kind(NamedTuple):
    """A condition kind: how its value compiles, and the example its hints show."""

    compile: _Compile
    example: str


KINDS: dict[str, Kind] = {
    "all": Kind(_all_or_any, 'all = [ { lifecycle = "customer" }, { device = "mobile" } ]'),
    "any": Kind(_all_or_any, 'any = [ { segment = "dog-lovers" }, { query = { utm_campaign = "dogs-*" } } ]'),
    "not": Kind(_not, 'not = { lifecycle = "prospect" }'),
    "segment": Kind(_segment, 'segment = "dog-lovers"'),
    "affinity": Kind(_affinity, 'affinity = { category = "dogs", min = 2 }'),
    "top": Kind(_top, 'top = { n = 1, category = "dogs" }'),
    "lifecycle": Kind(_lifecycle, 'lifecycle = ["customer", "repeat_customer"]'),
    "visits": Kind(_visits, "visits = { min = 2 }"),
    "days_since_last_visit": Kind(_days_since, "days_since_last_visit = { min = 30 }"),
    "purchased": Kind(_purchased, 'purchased = { category = "dogs", within_days = 90 }'),
    "replenishment_due": Kind(_replenishment, 'replenishment_due = { category = "dogs", within_days = 7 }'),
    "subscribed": Kind(_category_set(Subscribed), 'subscribed = "dogs"'),
    "interested_in": Kind(_category_set(InterestedIn), 'interested_in = "fish"'),
    "excluded": Kind(_category_set(Excluded), 'excluded = "cats"'),
    "crm_segment": Kind(_crm_segment, 'crm_segment = "vip"'),
    "path": Kind(_path, "path = '^/c/'"),
    "query": Kind(_query, 'query = { utm_campaign = "spring-*" }'),
    "referrer": Kind(_referrer, 'referrer = { host = "google.*" }'),
    "device": Kind(_device, 'device = ["mobile", "tablet"]'),
    "time": Kind(_time, 'time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" }'),
    "dates": Kind(_dates, 'dates = { from = 2026-03-01, until = 2026-04-30, timezone = "Europe/Amsterdam" }'),
}
CONDITION_KINDS = tuple(KINDS)

# Hints for keys people put in a condition table that belong inside a kind.
_STRAY_KEYS = {
    "category": "a category goes inside a condition, e.g. " + KINDS["affinity"].example,
    "min": "min and max go inside a condition, e.g. " + KINDS["affinity"].example,
    "max": "min and max go inside a condition, e.g. " + KINDS["visits"].example,
    "n": "n goes inside top, e.g. " + KINDS["top"].example,
    "days": "days go inside time, e.g. " + KINDS["time"].example,
    "from": "from and to go inside time, e.g. " + KINDS["time"].example,
    "to": "from and to go inside time, e.g. " + KINDS["time"].example,
    "timezone": "timezone goes inside time, e.g. " + KINDS["time"].example,
    "sku": 'sku goes inside purchased or replenishment_due, e.g. purchased = { sku = "dog-kibble-5kg" }',
}


def _unknown_segment(fields: Fields, key: str, name: str, known: Iterable[str]) -> None:
    names = list(known)
    otherwise = f"defined segments: {', '.join(names)}" if names else f"define it as a [segments.{name}] table"
    fields.problem(f"{fields.name}: unknown segment '{name}'", key, _suggest(name, names, otherwise))


def _slug_problem(name: str) -> str | None:
    if _SLUG.fullmatch(name):
        return None
    return f"segment name {name!r} must be lower-case letters, digits, '-' or '_', starting with a letter or digit"


def compile_segments(section: Fields | Iterable[Fields] | None, site: Site, catalog: Mapping[str, Product]) -> dict[str, Condition]:
    """The `[segments]` tables (one per rule file, or one), compiled: name -> Segment.

    Segments may use one another in any order and across files; a cycle is a problem naming the
    chain. Problems go to the Fields; a segment with a problem maps to a placeholder that makes
    uses of it fail silently (the folder is refused anyway).
    """
    if section is None:
        sections: list[Fields] = []
    elif isinstance(section, Fields):
        sections = [section]
    else:
        sections = list(section)
    pending: dict[str, Fields] = {}
    compiled: dict[str, Condition] = {}
    for fields in sections:
        for name, value in fields.table.items():
            fields.take(name, type(value), None)
            complaint = _slug_problem(name)
            if name == CUSTOMERS_SEGMENT:
                complaint = f"segment '{name}' is built in (customers with at least one order, for `etalage export segment`): give yours another name"
            if complaint:
                fields.problem(complaint, name)
                compiled.setdefault(name, Broken(name))
                continue
            if not isinstance(value, dict):
                fields.problem(
                    f"segment '{name}' must be a table of conditions, not {_kind_of(value)}",
                    name,
                    f'write [segments.{name}] with conditions below it, e.g. lifecycle = "customer"',
                )
                compiled.setdefault(name, Broken(name))
                continue
            sub = fields.sub(name, value)
            sub.label = f"segment '{name}'"
            if name in pending:
                sub.problem(f"segment '{name}' is defined again (first at {pending[name].where()})")
                continue
            pending[name] = sub

    stack: list[str] = []

    def build(name: str) -> Condition:
        if name not in compiled:
            stack.append(name)
            condition = compiler.node(pending[name], f"segment '{name}'", "")
            stack.pop()
            compiled[name] = Segment(name, condition) if condition is not None else Broken(name)
        return compiled[name]

    def resolve(fields: Fields, key: str, name: str) -> Condition | None:
        if name in stack:
            chain = " -> ".join(stack[stack.index(name) :] + [name])
            fields.problem(f"{fields.name}: segment cycle {chain}", key, "a segment cannot use itself, directly or through other segments")
            return None
        if name in pending or name in compiled:
            condition = build(name) if name in pending else compiled[name]
            return None if isinstance(condition, Broken) else condition
        _unknown_segment(fields, key, name, pending)
        return None

    compiler = _Compiler(site, catalog, resolve)
    for name in pending:
        build(name)
    return {name: compiled[name] for name in list(pending) + [n for n in compiled if n not in pending]}


def compile_condition(
    fields: Fields, key: str, site: Site, catalog: Mapping[str, Product], segments: Mapping[str, Condition]
) -> Condition | None:
    """The condition in `fields.table[key]` (e.g. a rule's `when`), compiled.

    ALWAYS when the key is absent; None after recording problems (at file:line, via `fields`).
    """
    value = fields.table.get(key)
    fields.take(key, type(value), None)
    if value is None:
        return ALWAYS
    if not isinstance(value, dict):
        if isinstance(value, list):
            hint = f"for conditions that must all hold write {key} = {{ all = [...] }}"
        elif isinstance(value, str):
            hint = f'to use a segment write {key} = {{ segment = "{value}" }}'
        else:
            hint = f'e.g. {key} = {{ lifecycle = "customer" }}'
        fields.problem(f"{fields.name}: '{key}' must be a table of conditions, not {_kind_of(value)}", key, hint)
        return None

    def resolve(where: Fields, ref_key: str, name: str) -> Condition | None:
        condition = segments.get(name)
        if condition is None:
            _unknown_segment(where, ref_key, name, segments)
            return None
        if isinstance(condition, Broken):
            return None
        return condition if isinstance(condition, Segment) else Segment(name, condition)

    sub = fields.sub(key, value)
    sub.label = _label(fields.label, key)
    return _Compiler(site, catalog, resolve).node(sub, fields.label, key)
