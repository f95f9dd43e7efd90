"""Conditions on the request itself: its path, query parameters, referrer and device."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from etalage.rules.conditions.base import Condition, Fact, Verdict, Visit, one_of, quoted

__all__ = ["DEVICES", "PathMatches", "Param", "Query", "Referrer", "Device", "classify_device", "glob_regex"]

DEVICES = ("mobile", "tablet", "desktop", "bot")


@dataclass(frozen=True, slots=True)
class PathMatches(Condition):
    patterns: tuple[re.Pattern[str], ...]

    def test(self, visit: Visit) -> bool:
        return any(pattern.search(visit.path) for pattern in self.patterns)

    def _names(self) -> str:
        return one_of([repr(pattern.pattern) for pattern in self.patterns])

    def check(self, visit: Visit) -> Verdict:
        for pattern in self.patterns:
            if pattern.search(visit.path):
                return Verdict(True, f"path {quoted(visit.path)} matches {pattern.pattern!r}")
        return Verdict(False, f"path {quoted(visit.path)} does not match {self._names()}")

    def describe(self) -> str:
        return f"path matches {self._names()}"


def glob_regex(patterns: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching any of the globs whole: '*' any text, '?' one character.

    fnmatch.translate writes each '*' after the first as an atomic group, so a pattern such as
    '*-*-*z' runs in linear time instead of backtracking over every way to split the text; '[' is
    escaped first because our globs have no character classes."""
    parts = [fnmatch.translate(pattern.replace("[", "[[]")) for pattern in patterns]
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Param:
    """What a Query asks of one parameter."""

    name: str
    present: bool  # False: the parameter must be absent
    patterns: tuple[str, ...]  # empty: any value (or absence)
    regex: re.Pattern[str] | None

    def test(self, values: Sequence[str] | str | None) -> bool:
        if isinstance(values, str):
            values = (values,)
        if values is None:
            return not self.present
        if not self.present:
            return False
        regex = self.regex
        return regex is None or any(regex.fullmatch(value) for value in values)

    def wanted(self) -> str:
        return one_of([repr(p) for p in self.patterns])

    def describe(self) -> str:
        if not self.present:
            return f"query has no {self.name}"
        if self.regex is None:
            return f"query has {self.name}"
        return f"query {self.name} matches {self.wanted()}"

    def verdict(self, values: Sequence[str] | str | None) -> Verdict:
        if isinstance(values, str):
            values = (values,)
        if self.test(values):
            if values is None:
                return Verdict(True, f"query has no {self.name}")
            if self.regex is None:
                return Verdict(True, f"query has {self.name}")
            value = next(v for v in values if self.regex.fullmatch(v))
            return Verdict(True, f"query {self.name} is {quoted(value)}")
        if values is None:
            return Verdict(False, f"query has no {self.name}" + (f", needs {self.wanted()}" if self.patterns else ""))
        if not self.present:
            return Verdict(False, f"query has {self.name}, needs none")
        return Verdict(False, f"query {self.name} is {quoted(values[0] if values else '')}, needs {self.wanted()}")


@dataclass(frozen=True, slots=True)
class Query(Condition):
    params: tuple[Param, ...]

    def test(self, visit: Visit) -> bool:
        query = visit.query
        for param in self.params:
            if not param.test(query.get(param.name)):
                return False
        return True

    def check(self, visit: Visit) -> Verdict:
        reasons = []
        for param in self.params:
            verdict = param.verdict(visit.query.get(param.name))
            if not verdict.ok:
                return verdict
            reasons.append(verdict.reason)
        return Verdict(True, "; ".join(reasons))

    def describe(self) -> str:
        return " and ".join(param.describe() for param in self.params)


def _host(referrer: str) -> str:
    try:
        return urlsplit(referrer).hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class Referrer(Condition):
    hosts: tuple[str, ...]
    host_regex: re.Pattern[str] | None
    url: re.Pattern[str] | None

    def _host_matches(self, host: str) -> bool:
        regex = self.host_regex
        if regex is None:
            return True
        if len(host) > _MAX_HOST:  # no real host; trying its every parent domain would cost time quadratic in its length
            return False
        if regex.fullmatch(host):
            return True
        # The host's parent domains too: google.* matches www.google.com; never the bare top level.
        labels = host.split(".")
        return any(regex.fullmatch(".".join(labels[i:])) for i in range(1, len(labels) - 1))

    def test(self, visit: Visit) -> bool:
        referrer = visit.referrer
        if not referrer:
            return False
        if self.url is not None and not self.url.search(referrer):
            return False
        return self.host_regex is None or self._host_matches(_host(referrer))

    def check(self, visit: Visit) -> Verdict:
        referrer = visit.referrer
        if not referrer:
            return Verdict(False, f"no referrer, needs {self._wants()}")
        if self.url is not None and not self.url.search(referrer):
            return Verdict(False, f"referrer {quoted(referrer)} does not match {self.url.pattern!r}")
        if self.host_regex is not None:
            host = _host(referrer)
            if not self._host_matches(host):
                return Verdict(False, f"referrer host {quoted(host)} does not match {one_of([repr(h) for h in self.hosts])}")
        return Verdict(True, f"referrer is {quoted(referrer)}")

    def _wants(self) -> str:
        wants = []
        if self.hosts:
            wants.append(f"host {one_of([repr(h) for h in self.hosts])}")
        if self.url is not None:
            wants.append(f"a referrer matching {self.url.pattern!r}")
        return " and ".join(wants)

    def describe(self) -> str:
        parts = []
        if self.hosts:
            parts.append(f"referrer host matches {one_of([repr(h) for h in self.hosts])}")
        if self.url is not None:
            parts.append(f"referrer matches {self.url.pattern!r}")
        return " and ".join(parts)


# Device classes from the User-Agent, checked in this order (the first that matches decides):
#   bot     empty User-Agent; crawler, preview and HTTP-library words (Googlebot, bingbot, ...
#           "bot" as a word ending, except the phone maker CUBOT; crawl, spider, slurp,
#           facebookexternalhit, HeadlessChrome, Lighthouse, curl, wget, python-requests, ...)
#   tablet  iPad, "Tablet" (Firefox on Android tablets), Kindle and Silk, PlayBook
#   mobile  "Mobi" (Mobile Safari, Chrome Mobile, Firefox Mobile, ...), iPhone, iPod, Windows Phone,
#           BlackBerry/BB10, Opera Mini, IEMobile
#   tablet  Android without "Mobi": Android browsers say "Mobile" on phones only
#   desktop everything else (Windows, macOS, Linux, ChromeOS; also iPadOS Safari, which sends a Mac UA)
_BOT_UA = re.compile(
    r"^\s*$|(?<!cu)bot\b|bot/|crawl|spider|slurp|mediapartners|facebookexternalhit|facebookcatalog|embedly|"
    r"bingpreview|headlesschrome|lighthouse|pagespeed|phantomjs|preview|^curl/|^wget/|python-requests|python-urllib|"
    r"python-httpx|aiohttp|go-http-client|^java/|okhttp|libwww|scrapy|axios/|node-fetch|httpclient",
    re.IGNORECASE,
)
_TABLET_UA = re.compile(r"ipad|tablet|kindle|silk/|playbook", re.IGNORECASE)
_MOBILE_UA = re.compile(r"mobi|iphone|ipod|windows phone|blackberry|bb10|opera mini|iemobile", re.IGNORECASE)
_ANDROID_UA = re.compile(r"android", re.IGNORECASE)
_UA_PREFIX = 512
# The longest name DNS allows.
_MAX_HOST = 253


def classify_device(user_agent: str) -> str:
    """mobile, tablet, desktop or bot (see the table above).

    Only the start of the User-Agent is read: every token the table names stands in the first few
    hundred characters of real ones, and a megabyte of header must not cost a second of regexes
    (nor a megabyte of cache)."""
    return _classify(user_agent[:_UA_PREFIX])


@functools.lru_cache(maxsize=4096)  # visitors repeat their UA page after page; keys are at most _UA_PREFIX long
def _classify(user_agent: str) -> str:
    if _BOT_UA.search(user_agent):
        return "bot"
    if _TABLET_UA.search(user_agent):
        return "tablet"
    if _MOBILE_UA.search(user_agent):
        return "mobile"
    if _ANDROID_UA.search(user_agent):
        return "tablet"
    return "desktop"


@dataclass(frozen=True, slots=True)
class Device(Condition):
    values: frozenset[str]

    def _names(self) -> str:
        return one_of([device for device in DEVICES if device in self.values])

    def test(self, visit: Visit) -> bool:
        return classify_device(visit.user_agent) in self.values

    def check(self, visit: Visit) -> Verdict:
        device = classify_device(visit.user_agent)
        if device in self.values:
            return Verdict(True, f"device is {device}")
        return Verdict(False, f"device is {device}, needs {self._names()}")

    def describe(self) -> str:
        return f"device is {self._names()}"

    def _facts(self) -> list[Fact]:
        return [Fact("device", self.values, self.describe())]

    def _facts_if_not(self, source: str) -> list[Fact]:
        return [Fact("device", frozenset(DEVICES) - self.values, source)]

    def _always(self) -> bool:
        return self.values >= set(DEVICES)
