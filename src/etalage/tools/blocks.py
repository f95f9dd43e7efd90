"""`etalage rules check DIR --against URL...`: which blocks the shop's real pages have.

A rule folder can be valid and still miss its pages: a selector the shop's new theme no longer
matches, or markup around a block too broken to edit safely. Both only show at run time, as a
counter. This fetches each page as it is, locates and verifies every block as the proxy would,
and shows a table of blocks by page; a rule meant for a page whose block is not on it is a
problem, so the command can fail a deployment before the visitors see nothing change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from etalage.html.page import Block, analyse, charset_of, miss_reason
from etalage.http.compression import SUPPORTED
from etalage.rules.ruleset import RuleSet

__all__ = ["PageBlocks", "check_pages", "render_table"]


@dataclass
class PageBlocks:
    """One page: what the shop answered, and per block either where it is or why it is not."""

    url: str
    status: int | None = None  # None: the page could not be fetched
    note: str = ""  # why no block was looked for (an error, not a 200 HTML page)
    found: dict[str, Block] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # block -> the analysis' reason
    problems: list[str] = field(default_factory=list)

    def cell(self, block: str) -> str:
        if block in self.found:
            items = self.found[block].items
            return f"found, {len(items)} item(s)" if items else "found"
        if block in self.missing:
            return miss_reason(self.missing[block]).replace("_", " ")
        return "-"


def check_pages(ruleset: RuleSet, urls: list[str], transport: httpx.BaseTransport | None = None) -> list[PageBlocks]:
    """Fetch every URL and locate all of the rule set's blocks in it."""
    pages = []
    with httpx.Client(transport=transport, follow_redirects=False, timeout=30) as client:
        for url in urls:
            pages.append(_check_page(client, url, ruleset))
    return pages


def _check_page(client: httpx.Client, url: str, ruleset: RuleSet) -> PageBlocks:
    page = PageBlocks(url)
    try:
        response = client.get(url, headers={"Accept": "text/html"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        page.note = f"could not be fetched: {exc or type(exc).__name__}"
        page.problems.append(page.note)
        return page
    page.status = response.status_code
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200 or not content_type.lower().startswith("text/html"):
        page.note = f"{content_type or 'no content type'}: only 200 text/html pages are personalized"
        return page
    if response.headers.get("content-encoding", "") not in SUPPORTED:
        page.note = f"content encoding {response.headers['content-encoding']!r}: the proxy passes this page through unchanged"
        return page
    charset = charset_of(content_type, response.content)
    layout = analyse(response.content, [block.spec for block in ruleset.blocks.values()], charset=charset)
    page.found = {name: layout.blocks[name] for name in ruleset.blocks if name in layout.blocks}
    reasons = {problem.partition(": ")[0]: problem for problem in layout.problems}
    page.missing = {name: reasons.get(name, f"{name}: could not be located") for name in ruleset.blocks if name not in layout.blocks}
    for rule in ruleset.rules_for(urlsplit(url).path or "/"):
        if rule.block is not None and rule.block in page.missing:
            page.problems.append(f"rule '{rule.id}' changes block '{rule.block}', which is not on this page: {page.missing[rule.block]}")
    return page


def render_table(ruleset: RuleSet, pages: list[PageBlocks]) -> str:
    """The pages numbered, a table of blocks by page, then the problems of each page."""
    lines = ["pages:"]
    for number, page in enumerate(pages, 1):
        status = "" if page.status is None else f" -> {page.status}"
        lines.append(f"  [{number}] {page.url}{status}" + (f"  ({page.note})" if page.note else ""))
    names = list(ruleset.blocks)
    rows = [["block", *(f"[{number}]" for number in range(1, len(pages) + 1))]]
    rows += [[name, *(page.cell(name) for page in pages)] for name in names]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines.append("blocks:" if names else "blocks: (none defined)")
    if names:
        lines += ["  " + "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    problems = [f"  [{number}] {problem}" for number, page in enumerate(pages, 1) for problem in page.problems]
    lines.append(f"{len(problems)} problem(s):" if problems else "no problems: every rule's block is on the pages it is meant for")
    lines += problems
    return "\n".join(lines) + "\n"
