"""`etalage import-products`: the feed read, mapped and checked, the catalogue written, problems reported."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.tools.products.catalog import build_catalog
from etalage.tools.products.mapping import CategoryMap
from etalage.tools.products.read import Feed, FeedError
from etalage.tools.products.write import render_catalog, write_atomically

__all__ = ["parse_mapping", "import_products"]


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """--map TEXT=SLUG arguments; ValueError for one without '='."""
    mapping = {}
    for pair in pairs:
        text, equals, slug = pair.rpartition("=")
        if not equals or not text.strip() or not slug.strip():
            raise ValueError(f"--map {pair!r}: write it as TEXT=CATEGORY, e.g. --map 'Dog Supplies=dogs'")
        mapping[text.strip()] = slug.strip()
    return mapping


def import_products(
    feed: Path,
    rules: Path,
    out_file: Path | None = None,
    *,
    overrides: Mapping[str, str] | None = None,
    encoding: str | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`etalage import-products`: problems on `out` (FEED:LINE: reason), notes and the summary on
    `err`. Exit status: 0 written, 1 written with problems, 2 nothing written. Raises
    RuleSetError when the rules folder's categories and catalogue (without the generated file) do not
    load: its rules may need the catalogue, so they are checked with it, before it is written."""
    out = out or sys.stdout
    err = err or sys.stderr
    target = out_file if out_file is not None else rules / "catalog-feed.toml"
    inside = target.resolve().parent == rules.resolve() and target.suffix == ".toml"
    with tempfile.TemporaryDirectory(prefix="etalage-import-") as scratch:
        # The rules as they are without the generated file: their categories, [catalog_feed] and
        # their own [catalog]. The copy keeps the folder's name, so messages name the real files.
        copy = Path(scratch) / rules.resolve().name
        if inside:
            top = rules.resolve()
            shutil.copytree(
                rules, copy, ignore=lambda folder, names: [target.name] if Path(folder).resolve() == top and target.name in names else []
            )
            ruleset = load_rules(copy, catalogue_only=True)
        else:
            ruleset = load_rules(rules, catalogue_only=True)
        labels = ruleset.site.labels
        mapping = dict(getattr(ruleset.catalog, "feed_categories", {}))
        for text, slug in (overrides or {}).items():
            if slug not in labels:
                print(
                    f"etalage import-products: --map {text}={slug}: unknown category {slug!r} (categories are: {', '.join(labels)})",
                    file=err,
                )
                return 2
            mapping[text] = slug
        reading = Feed(feed, encoding)
        try:
            result = build_catalog(reading, CategoryMap(mapping, labels), ruleset.catalog, file=str(feed))
        except FeedError as exc:
            where = f"{feed}:{exc.line}" if exc.line else str(feed)
            print(f"{where}: {exc.reason}", file=out)
            print(f"etalage import-products: {feed} is not a readable product feed; nothing written", file=err)
            return 2
        result.format = reading.format
        for problem in result.problems:
            print(problem, file=out)
        for note in result.notes:
            print(note, file=err)
        if not result.entries:
            print(f"etalage import-products: no product of {feed} could be imported; {target} left as it was", file=err)
            return 2
        text = render_catalog(result, str(feed), now or datetime.now(UTC))
        if inside:
            (copy / target.name).write_text(text, encoding="utf-8")
            try:
                load_rules(copy)
            except RuleSetError as exc:
                for problem in exc.problems:
                    print(problem, file=out)
                print(f"etalage import-products: the rules folder would not load with this catalogue; {target} left as it was", file=err)
                return 2
    write_atomically(target, text)
    left_out = len(result.problems)
    print(
        f"etalage import-products: {feed}: {len(result.entries)} product(s) written to {target}"
        + (f"; {left_out} problem(s) reported ({result.unmapped} unmapped)" if left_out else ""),
        file=err,
    )
    return 1 if result.problems else 0
