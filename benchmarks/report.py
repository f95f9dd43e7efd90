"""results.json -> results.md (absolute numbers, ratios, targets) and results.png.

Can be re-run on a finished run: python benchmarks/report.py benchmarks/results/<run>/results.json
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

PAGES = ("24k", "100k", "500k")
ORIGINS = ("cached", "per-request", "shop")
ORIGIN_TAGS = {
    "cached": "",
    "per-request": " (per-request-different origin)",
    "shop": " (shop-shaped origin)",
    "replay": " (your pages, replayed)",
}
ORDER = ("origin", "nginx-proxy", "etalage-pass", "etalage-pers", "selectolax", "bs4")
SHORT = {
    "origin": "origin direct",
    "nginx-proxy": "nginx proxy",
    "etalage-pass": "Etalage pass-through",
    "etalage-pers": "Etalage personalizing",
    "selectolax": "selectolax peer",
    "bs4": "BeautifulSoup peer",
}


# --- lookups ------------------------------------------------------------------------------------------


def find(results, *, config, page="100k", origin="cached", c=32, group=None, rules=None, client=None):
    for r in results:
        if r.get("status") != "ok" or r["config"] != config or r["page"] != page or r["origin"] != origin or r["concurrency"] != c:
            continue
        if group is not None and r["group"] != group:
            continue
        if rules is not None and r.get("rules") != rules:
            continue
        if client is not None and r.get("client") != client:
            continue
        return r
    return None


def any_entry(results, **kw):
    """The entry whatever its status (for 'not available' notes)."""
    for r in results:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def fmt(value, digits=0, unit=""):
    if value is None:
        return "–"
    if isinstance(value, float) and digits == 0:
        return f"{value:,.0f}{unit}"
    return f"{value:,.{digits}f}{unit}"


def ms(value):
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def share(r):
    if not r or r.get("personalized_share") is None:
        return "–"
    return (
        f"{100 * r['personalized_share']:.0f}%"
        if r["personalized_share"] >= 0.995 or r["personalized_share"] < 0.9
        else f"{100 * r['personalized_share']:.1f}%"
    )


def layouts(r):
    """Of the views that reached Etalage's rules: layout reused / analysed in full (the rest were
    byte-identical to a body seen before)."""
    if not r or r.get("reused_share") is None:
        return "–"
    return f"{100 * r['reused_share']:.0f}% / {100 * r['analysed_share']:.1f}%"


def personalized_rps(r):
    """Requests/s that really came out personalized (Etalage's counters), else the plain rate."""
    if r is None:
        return None
    return r["rps"] * r["personalized_share"] if r.get("personalized_share") is not None else r["rps"]


def consenting_rps(r):
    """Your pages: requests/s of the consenting visitor, less the views that failed open. Pages no rule
    applies to pass through by design, so the personalized share alone would understate it."""
    if r is None:
        return None
    failed = sum((r.get("fail_open") or {}).values())
    return r["rps"] * (1 - failed / r["pages_counted"]) if r.get("pages_counted") else r["rps"]


def ratio(a, b, digits=2):
    if a is None or b is None or not b:
        return None
    return round(a / b, digits + 2)


def rfmt(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}x"


# --- soak and profile summaries --------------------------------------------------------------------------


def soak_summary(samples):
    if len(samples) < 3:
        return {"start_mib": 0.0, "end_mib": 0.0, "max_mib": 0.0, "slope_mib_per_min": 0.0, "flat": None}
    total = samples[-1][0]
    steady = [s for s in samples if s[0] >= 0.1 * total] or samples  # the first 10% warm the caches up
    quarter = next((s for s in samples if s[0] >= 0.25 * total), samples[0])
    xs = [s[0] / 60 for s in steady]
    ys = [s[1] / 1024 for s in steady]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0
    start, end = steady[0][1] / 1024, samples[-1][1] / 1024
    growth = end - quarter[1] / 1024
    return {
        "start_mib": round(start, 1),
        "end_mib": round(end, 1),
        "max_mib": round(max(s[1] for s in samples) / 1024, 1),
        "first_sample_mib": round(samples[0][1] / 1024, 1),
        "slope_mib_per_min": round(slope, 3),
        "growth_after_quarter_mib": round(growth, 1),
        # flat: from a quarter of the way in to the end it grew by at most 2 MiB or 2%
        "flat": growth <= max(2.0, 0.02 * start),
    }


def _package(frame: str) -> str:
    """'function (path/to/file.py:12)' -> a coarse owner: etalage module, or the third-party package."""
    if "(" not in frame:
        return frame
    path = frame.rsplit("(", 1)[1].split(":")[0]
    parts = path.replace("\\", "/").split("/")
    if "etalage" in parts:
        return "etalage/" + "/".join(parts[parts.index("etalage") + 1 :]).removesuffix(".py")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return (parts[-1] or path).removesuffix(".py")


def profile_summary(raw: str) -> dict:
    self_time: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        self_time[frames[-1]] += n
        owners[_package(frames[-1])] += n
        for frame in set(frames):
            if "etalage" in frame and frame.split(" (")[0] not in ("<module>", "main", "_cmd_serve", "Etalage.__call__", "Proxy.__call__"):
                inclusive[frame.split(" (")[0] + " (" + _package(frame) + ")"] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self_by_owner": [(k, pct(v)) for k, v in owners.most_common(12)],
        "self_by_function": [(k.replace(str(Path.cwd()), "."), pct(v)) for k, v in self_time.most_common(12)],
        "inclusive_etalage": [(k, pct(v)) for k, v in inclusive.most_common(14)],
    }


# --- targets ------------------------------------------------------------------------------------------------


def targets(results, soak):
    out = []

    def add(name, measured_text, met, distance, detail=""):
        out.append({"target": name, "measured": measured_text, "met": met, "distance": distance, "detail": detail})

    def absent(name, why="not measured in this run", **where):
        """No number for a target: a measurement that failed says so, else `why`."""
        failed = [r for r in results if where and r.get("status") != "ok" and all(r.get(k) == v for k, v in where.items())]
        add(name, f"{failed[0]['status']}: {failed[0].get('note', '')}" if failed else why, None, "")

    # every origin mode the run measured (a run of your pages alone has only "replay")
    measured = [o for o in ORIGINS if any(r["group"] == "main" and r["origin"] == o for r in results)]
    measured += ["replay"] if any(r["group"] == "own" for r in results) else []
    for origin in measured:
        tag = ORIGIN_TAGS[origin]
        if origin == "replay":
            kw = {"group": "own", "page": "own"}
            size, what, rate = "your pages", "personalizing", consenting_rps
        else:
            kw = {"group": "main", "page": "100k"}
            size, what, rate = "100 KB", "personalized 100 KB", personalized_rps
        p = find(results, config="etalage-pass", origin=origin, **kw)
        q = find(results, config="etalage-pers", origin=origin, **kw)
        s = find(results, config="selectolax", origin=origin, **kw)
        o1 = find(results, config="origin", origin=origin, c=1, **kw)
        q1 = find(results, config="etalage-pers", origin=origin, c=1, **kw)
        if origin != "replay":
            name = f"Pass-through HTML >= 2,500 req/s per core{tag}"
            if p:
                v = p["rps"]  # the system under test is pinned to one core
                add(
                    name,
                    f"{v:,.0f} req/s ({size}, c32, one core)",
                    v >= 2500,
                    f"{v / 2500:.2f}x of the target" + ("" if v >= 2500 else f"; {2500 - v:,.0f} req/s short"),
                )
            else:
                absent(name)
        name = f"Personalized >= 70% of Etalage pass-through{tag}"
        if p and q:
            r = rate(q) / p["rps"]
            add(
                name,
                f"{100 * r:.0f}% ({rate(q):,.0f} vs {p['rps']:,.0f} req/s, {size}, c32, {share(q)} personalized, "
                f"layouts reused / analysed {layouts(q)})",
                r >= 0.7,
                f"{100 * (r - 0.7):+.0f} points" + ("" if r >= 0.7 else f"; needs {0.7 * p['rps']:,.0f} personalized req/s"),
            )
        else:
            absent(name)
        name = f"Personalized >= 8x the selectolax proxy{tag}"
        if q and s:
            r = personalized_rps(q) / s["rps"]
            add(
                name,
                f"{r:.1f}x ({personalized_rps(q):,.0f} vs {s['rps']:,.0f} req/s, {size}, c32)",
                r >= 8,
                f"{r / 8:.2f}x of the target" + ("" if r >= 8 else f"; needs {8 * s['rps']:,.0f} req/s"),
            )
        else:
            absent(
                name,
                "not measured: the peer only knows the benchmark's own pages" if origin == "replay" else "not measured in this run",
                config="selectolax",
                origin=origin,
                **kw,
            )
        name = f"Added median latency <= 1 ms at c1, {what}{tag}"
        if q1 and o1:
            added = q1["p50_ms"] - o1["p50_ms"]
            add(
                name,
                f"{added:.3f} ms ({q1['p50_ms']:.3f} vs origin {o1['p50_ms']:.3f} ms)",
                added <= 1.0,
                f"{1.0 - added:+.3f} ms margin" if added <= 1.0 else f"{added - 1.0:.3f} ms over",
            )
        else:
            absent(name)
        if origin in ("cached", "per-request"):
            r1 = find(results, config="etalage-pers", origin=origin, group="rules", rules=1)
            r200 = find(results, config="etalage-pers", origin=origin, group="rules", rules=200)
            if r1 and r200 and r1.get("cpu_us_per_req") and r200.get("cpu_us_per_req"):
                r = r200["cpu_us_per_req"] / r1["cpu_us_per_req"]
                add(
                    f"200 rules cost <= 1.3x one rule{tag}",
                    f"{r:.2f}x CPU per request ({r200['cpu_us_per_req']:,.0f} vs {r1['cpu_us_per_req']:,.0f} us; "
                    f"throughput {r1['rps'] / r200['rps']:.2f}x), 100 KB, c32",
                    r <= 1.3,
                    f"{1.3 - r:+.2f} margin",
                )
    for origin in measured:
        tag = ORIGIN_TAGS[origin]
        name = f"Zero errors at twice the saturating load, default shedding{tag}"
        o = find(results, config="etalage-pers", origin=origin, c=64, group="shedding", page="own" if origin == "replay" else "100k")
        if o:
            errors = o.get("errors") or 0
            add(
                name,
                f"{errors:,} errors in {o.get('requests', 0):,} requests (c64, twice the c32 that saturates the core; "
                f"{share(o)} personalized, p99 {ms(o['p99_ms'])} ms)",
                errors == 0,
                "none" if errors == 0 else f"{errors:,} errors",
            )
        else:
            absent(name, config="etalage-pers", origin=origin, group="shedding")
        name = f"Shedding engages at twice the saturating load: p99 <= 5x the unloaded p50{tag}"
        kw = {"page": "own", "group": "own"} if origin == "replay" else {"page": "100k", "group": "main"}
        q1 = find(results, config="etalage-pers", origin=origin, c=1, **kw)
        if o and q1:
            r = o["p99_ms"] / q1["p50_ms"]
            # A closed loop of 64 connections waits 64 / throughput per request whatever the server does;
            # nginx's own queueing at c32 against its c1 shows the floor of that arithmetic.
            n32 = find(results, config="nginx-proxy", origin=origin, c=32, **kw)
            n1 = find(results, config="nginx-proxy", origin=origin, c=1, **kw)
            floor = f"; nginx proxy at c32: p50 {n32['p50_ms'] / n1['p50_ms']:.0f}x its c1 p50" if n32 and n1 else ""
            add(
                name,
                f"p99 {ms(o['p99_ms'])} ms = {r:.0f}x the unloaded (c1) p50 of {ms(q1['p50_ms'])} ms; {share(o)} personalized (c64)",
                r <= 5,
                f"{r / 5:.1f}x the bound; a closed loop of 64 waits at least 64 / {o['rps']:,.0f} req/s = "
                f"{64000 / o['rps']:.0f} ms per request{floor}",
            )
        else:
            absent(name, config="etalage-pers", origin=origin, group="shedding")
    if soak and soak.get("status") == "ok" and soak.get("minutes", 0) < 1:
        add(
            "Memory flat during the soak",
            f"RSS {soak['start_mib']:.1f} -> {soak['end_mib']:.1f} MiB over {soak['minutes']:g} min",
            None,
            "not judged: a soak under a minute ends while Etalage's caches are still filling",
        )
    elif soak and soak.get("status") == "ok":
        add(
            "Memory flat during the soak",
            f"RSS {soak['start_mib']:.1f} -> {soak['end_mib']:.1f} MiB (max {soak['max_mib']:.1f}), "
            f"slope {soak['slope_mib_per_min']:+.2f} MiB/min over {soak['minutes']:g} min",
            soak["flat"],
            f"grew {soak['growth_after_quarter_mib']:+.1f} MiB after the first quarter",
        )
    elif soak:
        add("Memory flat during the soak", soak.get("status", "?"), None, soak.get("note", ""))
    else:
        add("Memory flat during the soak", "soak skipped (--soak-minutes 0)", None, "")
    return out


# --- markdown ------------------------------------------------------------------------------------------------


def _matrix_table(results, page, origin, lines, group="main"):
    o32 = find(results, config="origin", page=page, origin=origin, c=32, group=group)
    o1 = find(results, config="origin", page=page, origin=origin, c=1, group=group)
    lines.append(
        "| configuration | c32 req/s | vs origin | c32 p50 / p99 ms | CPU us/req | c1 req/s | c1 p50 / p99 ms | c1 added p50 ms "
        "| pages personalized c32 / c1 | layouts reused / analysed, c32 |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for config in ORDER:
        r32 = find(results, config=config, page=page, origin=origin, c=32, group=group)
        r1 = find(results, config=config, page=page, origin=origin, c=1, group=group)
        if not r32 and not r1:
            miss = any_entry(results, config=config, page=page, origin=origin, group=group)
            if miss:
                lines.append(f"| {SHORT[config]} | {miss['status']}: {miss.get('note', '')} | | | | | | | | |")
            continue
        cols = [SHORT[config]]
        if r32:
            cols += [
                fmt(r32["rps"]),
                rfmt(ratio(r32["rps"], o32 and o32["rps"]), 3 if config != "origin" else 2),
                f"{ms(r32['p50_ms'])} / {ms(r32['p99_ms'])}",
                fmt(r32["cpu_us_per_req"]),
            ]
        else:
            cols += ["–"] * 4
        if r1:
            added = r1["p50_ms"] - o1["p50_ms"] if o1 else None
            cols += [fmt(r1["rps"]), f"{ms(r1['p50_ms'])} / {ms(r1['p99_ms'])}", "–" if added is None else f"{added:+.3f}"]
        else:
            cols += ["–"] * 3
        cols.append(f"{share(r32)} / {share(r1)}" if config == "etalage-pers" else "")
        cols.append(layouts(r32) if config == "etalage-pers" else "")
        if any(r and (r.get("foreign_cpu_per_s") or 0) > 0.25 for r in (r32, r1)):
            cols[0] += " †"
        if (r32 and r32.get("errors")) or (r1 and r1.get("errors")):
            cols[0] += f" (errors: {(r32 or {}).get('errors', 0) + (r1 or {}).get('errors', 0)})"
        lines.append("| " + " | ".join(cols) + " |")
    lines.append("")


def _ratio_table(results, lines):
    lines.append(
        "| page, origin | personalized / pass-through | personalized / selectolax | personalized / BeautifulSoup "
        "| pass-through / nginx proxy | pass-through / origin | personalized CPU / pass-through CPU |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for page in PAGES:
        for origin in ORIGINS:
            get = lambda config: find(results, config=config, page=page, origin=origin, group="main")  # noqa: E731, B023
            p, q, s, b, n, o = (get(c) for c in ("etalage-pass", "etalage-pers", "selectolax", "bs4", "nginx-proxy", "origin"))
            if not p and not q:
                continue
            if origin != "cached" and not b:
                b = find(results, config="bs4", page=page, origin="cached", group="main")  # bs4 caches nothing
            rps = lambda r: r and r["rps"]  # noqa: E731
            cpu = lambda r: r and r["cpu_us_per_req"]  # noqa: E731
            lines.append(
                f"| {page}, {origin} | {rfmt(ratio(personalized_rps(q), rps(p)))} | {rfmt(ratio(personalized_rps(q), rps(s)), 1)} "
                f"| {rfmt(ratio(personalized_rps(q), rps(b)), 0)} "
                f"| {rfmt(ratio(rps(p), rps(n)))} | {rfmt(ratio(rps(p), rps(o)), 3)} | {rfmt(ratio(cpu(q), cpu(p)))} |"
            )
    lines.append("")


def markdown(doc) -> str:
    meta, results, soak, profile = doc["meta"], doc["results"], doc.get("soak"), doc.get("profile")
    lines = [
        "# Etalage benchmark results",
        "",
        f"- date: {meta['date']}; mode: {meta['mode']} ({meta['runs']} x {meta['duration_s']:g} s per measurement, median; "
        f"{meta['warmup_s']:g} s warm-up); took {meta.get('elapsed_min', '?')} min",
        f"- machine: {meta['machine']}",
        f"- commit: {meta['commit']}; {meta['python']}; {meta['wrk']}; {meta['nginx']}",
        f"- {meta['pinning']}; wrk -t1, c32 and c1, --latency",
        f"- Etalage: `etalage serve`, one process, upstream client {meta.get('etalage_client', '?')} "
        f"(Etalage's default: {meta.get('etalage_default_client', '?')}), 20 rules unless stated, load shedding off unless stated "
        f"(ETALAGE_OVERLOAD_LAG=3600, so every consenting page view is personalized; counted from Etalage's own metrics); "
        f"code: {meta.get('etalage_source', '?')}; peers: uvicorn + uvloop + httptools, one process",
        "- † = more than 0.25 core of outside load during that measurement (other processes on this machine)",
        "- pages: " + ", ".join(f"{k} = {v:,} bytes" for k, v in meta.get("page_bytes", {}).items()) + " (24 / 120 / 600 product cards)",
        "- ratios compare configurations measured in this same run; differences under about 15% are noise on this kind of machine",
        "",
        "## Targets",
        "",
        "| target | measured | met | distance |",
        "|---|---|---|---|",
    ]
    for t in targets(results, soak):
        met = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} | {t['distance']} |")
    pages_seen = [p for p in PAGES if any(r["page"] == p and r["group"] == "main" for r in results)]
    if pages_seen:
        lines += ["", "## Whole requests, cached origin (the same bytes on every request)", ""]
    else:
        lines.append("")
    for page in pages_seen:
        lines += [f"### {page} page ({meta.get('page_bytes', {}).get(page, 0):,} bytes)", ""]
        _matrix_table(results, page, "cached", lines)
    if any(r["origin"] == "per-request" and r["group"] == "main" for r in results):
        lines += [
            "## Whole requests, per-request-different origin (a fresh nonce in every page, 100 KB)",
            "",
            "Every response differs (a fresh CSRF token in two attribute values, outside the blocks). Etalage reuses a page's "
            "layout for a body that differs only where the tree cannot change (etalage.html.reuse). "
            "BeautifulSoup caches nothing either way; its row is not repeated here. "
            "Layouts: of the views that reached Etalage's rules (personalized, left unchanged or failed open there), the share whose layout was "
            "reused and the share analysed in full "
            "(Etalage's etalage_layouts_total); the rest were byte-identical to a body seen before.",
            "",
        ]
        _matrix_table(results, "100k", "per-request", lines)
    if any(r["origin"] == "shop" and r["group"] == "main" for r in results):
        size = next((r["page_bytes"] for r in results if r["origin"] == "shop" and r.get("page_bytes")), 0)
        lines += [
            f"## Whole requests, shop-shaped origin (100 KB page, {size:,} bytes as served)",
            "",
            "As Django Oscar, Magento and Shopware render a listing: every card's add-to-basket form carries a fresh "
            "64-character token and the head a render timestamp, besides the nonce, so the differences sit inside the cards "
            "the sort moves. Layouts as above.",
            "",
        ]
        _matrix_table(results, "100k", "shop", lines)
    if pages_seen:
        lines += [
            "## Ratios (c32 throughput unless stated)",
            "",
            "Personalized: the req/s of pages Etalage really personalized (its counters), as in the targets.",
            "",
        ]
        _ratio_table(results, lines)

    shed = [r for r in results if r["group"] == "shedding" and r.get("status") == "ok"]
    if shed:
        lines += [
            "## Load shedding as shipped (100 KB or your pages, c32 and twice that)",
            "",
            "The rows above run with shedding off. With Etalage's default (ETALAGE_OVERLOAD_LAG, a 5 ms event-loop lag "
            "target), an overloaded Etalage serves a share of pages unpersonalized, counted in etalage_shed_total, until "
            "its event loop keeps up:",
            "",
            "| origin | conc. | req/s | pages personalized | personalized req/s | p50 / p99 ms | CPU us/req | errors | fail-open reasons |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in shed:
            lines.append(
                f"| {r['origin']} | {r['concurrency']} | {fmt(r['rps'])} | {share(r)} | {fmt(personalized_rps(r))} | {ms(r['p50_ms'])} / {ms(r['p99_ms'])} | "
                f"{fmt(r['cpu_us_per_req'])} | {r.get('errors') or 0:,} | {', '.join(f'{k}: {v:,}' for k, v in (r.get('fail_open') or {}).items()) or '–'} |"
            )
        lines.append("")

    rule_rows = [(n, origin, c) for n in (1, 20, 200) for origin in ("cached", "per-request") for c in (32, 1)]
    if any(r["group"] == "rules" for r in results):
        lines += [
            "## Rule count (Etalage personalizing, 100 KB)",
            "",
            "1 rule: the sort alone. 20: banner + sort + pop-in on these pages, 17 rules for other paths. "
            "200: the same three, three more that match but lose or find no block, 194 for other paths.",
            "",
            "| rules | origin | conc. | req/s | CPU us/req | CPU vs 1 rule | p50 / p99 ms | personalized |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for n, origin, c in rule_rows:
            group = "main" if n == 20 else "rules"
            r = find(results, config="etalage-pers", origin=origin, c=c, group=group, rules=n)
            one = find(results, config="etalage-pers", origin=origin, c=c, group="rules", rules=1)
            if not r:
                continue
            lines.append(
                f"| {n} | {origin} | c{c} | {fmt(r['rps'])} | {fmt(r['cpu_us_per_req'])} | "
                f"{rfmt(ratio(r['cpu_us_per_req'], one and one['cpu_us_per_req']))} | {ms(r['p50_ms'])} / {ms(r['p99_ms'])} | {share(r)} |"
            )
        lines.append("")

    main_client = meta.get("etalage_client", "httpx")
    if any(r["group"] == "clients" for r in results):
        lines += [
            "## Upstream HTTP client (100 KB, cached origin)",
            "",
            "Etalage with `ETALAGE_UPSTREAM_CLIENT`, and a bare streaming proxy (raw ASGI on uvicorn + uvloop + httptools, "
            "benchmarks/peers/bare_proxy.py) that isolates what the client itself costs.",
            "",
            f"Etalage's default client: {meta.get('etalage_default_client', '?')}; the main matrix used {main_client}.",
            "",
            "| configuration | client | c32 req/s | c32 p50 / p99 ms | CPU us/req | c1 p50 ms | per-request-different origin, c32 |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for config in ("etalage-pass", "etalage-pers", "bare"):
            for client in ("httpx", "httpx-aiohttp", "aiohttp"):
                group = "main" if config != "bare" and client == main_client else "clients"
                r32 = find(results, config=config, c=32, group=group, client=client)
                r1 = find(results, config=config, c=1, group=group, client=client)
                rd = find(results, config=config, c=32, group=group, client=client, origin="per-request")
                name = {"etalage-pass": "Etalage pass-through", "etalage-pers": "Etalage personalizing", "bare": "bare proxy"}[config]
                if not r32:
                    miss = any_entry(results, config=config, group=group, client=client)
                    if miss:
                        lines.append(f"| {name} | {client} | {miss['status']} | | | | {miss.get('note', '')} |")
                    continue
                lines.append(
                    f"| {name} | {client} | {fmt(r32['rps'])} | {ms(r32['p50_ms'])} / {ms(r32['p99_ms'])} | "
                    f"{fmt(r32['cpu_us_per_req'])} | {ms(r1['p50_ms']) if r1 else '–'} | "
                    f"{fmt(rd['rps']) + ' req/s, ' + fmt(rd['cpu_us_per_req']) + ' us/req' if rd and config == 'etalage-pers' else ''} |"
                )
        lines.append("")

    _scale_section(results, lines)
    _own_section(doc, lines)

    lines += ["## Memory soak", ""]
    if soak and soak.get("status") == "ok":
        w = soak["wrk"]
        lines += [
            f"Etalage personalizing per-request-different 100 KB pages at c32 for {soak['minutes']:g} min "
            f"({w.get('rps', 0):,.0f} req/s, {w.get('requests', 0):,} requests, "
            f"{w['non_2xx'] + sum(w['socket_errors'].values())} errors). RSS of the process, sampled every few seconds:",
            "",
            "| idle before | first sample | start (after 10%) | end | max | slope | growth after the first quarter | flat |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {soak['rss_kib_idle_before'] / 1024:.1f} MiB | {soak['first_sample_mib']:.1f} MiB | {soak['start_mib']:.1f} MiB | "
            f"{soak['end_mib']:.1f} MiB | {soak['max_mib']:.1f} MiB | {soak['slope_mib_per_min']:+.3f} MiB/min | "
            f"{soak['growth_after_quarter_mib']:+.1f} MiB | {'yes' if soak['flat'] else '**no**'} |",
            "",
        ]
    elif soak:
        lines += [f"{soak.get('status')}: {soak.get('note', '')}", ""]
    else:
        lines += ["skipped (--soak-minutes 0)", ""]

    if profile:
        lines += ["## Where Etalage's time goes (py-spy, personalizing 100 KB at c32)", ""]
        if profile.get("status") != "ok":
            lines += [f"{profile.get('status')}: {profile.get('note', '')}", ""]
        for case in profile.get("cases", []):
            if case.get("status") != "ok":
                lines += [f"- {case['origin']}: {case.get('status')} {case.get('note', '')}", ""]
                continue
            lines += [
                f"### {case['origin']} origin ({case['samples']:,} samples, raw stacks in {case['file']})",
                "",
                "| own time by module or package | % |",
                "|---|---:|",
            ]
            lines += [f"| {k} | {v} |" for k, v in case["self_by_owner"]]
            lines += ["", "| Etalage function (inclusive: itself and what it calls) | % |", "|---|---:|"]
            lines += [f"| {k} | {v} |" for k, v in case["inclusive_etalage"]]
            lines += ["", "| hottest lines (own time; C code counts for the Python line that called it) | % |", "|---|---:|"]
            lines += [f"| `{_short_frame(k)}` | {v} |" for k, v in case["self_by_function"][:8]]
            lines.append("")

    foreign = [r.get("foreign_cpu_per_s") or 0 for r in results if r.get("status") == "ok"]
    errors = [r for r in results if r.get("status") == "ok" and r.get("errors")]
    problems = [r for r in results if r.get("status") not in ("ok", "not available")]
    lines += [
        "## Run quality",
        "",
        f"- CPU used by processes outside the benchmark during runs: median {_median(foreign):.2f}, max {max(foreign, default=0):.2f} "
        "core-seconds per second (0 is a quiet machine; above about 0.1 the numbers are disturbed)",
        f"- hypervisor steal during runs: max {max((r.get('steal_per_s') or 0 for r in results if r.get('status') == 'ok'), default=0):.2f} core-seconds per second",
        f"- measurements disturbed by more than 0.25 core of outside load: {sum(1 for f in foreign if f > 0.25)} of {len(foreign)}",
        f"- measurements with HTTP or socket errors: {len(errors)}"
        + "".join(
            f"\n  - {r['label']} {r['page']} {r['origin']} c{r['concurrency']}: {r['errors']} errors of {r['requests']:,} requests"
            for r in errors
        ),
        f"- measurements that failed or failed their check: {len(problems)}"
        + "".join(
            f"\n  - {r['label']} {r['page']} {r['origin']} c{r['concurrency']}: {r['status']}: {r.get('note', '')}" for r in problems
        ),
        "- every number: results.json (each run's wrk command line, req/s, latency percentiles, CPU)",
        "",
    ]
    return "\n".join(lines)


def _scale_section(results, lines):
    rows = [r for r in results if r["group"] == "scale"]
    if not rows:
        return
    lines += [
        "## Scale: two workers on Redis against one worker on the embedded store (personalizing, 100 KB)",
        "",
        "Every process of the system under test (Etalage's workers, redis-server) may use every core; wrk and the origin "
        "stay on core 1, so the two workers share it with them. CPU us/req counts Etalage's processes and Redis. "
        "Pages personalized: each worker keeps its own counters; the kit reads every worker's (–: not every worker answered).",
        "",
        "| configuration | origin | conc. | req/s | vs 1 worker, embedded | p50 / p99 ms | CPU us/req | personalized | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['label']} | {r['origin']} | {r['concurrency']} | {r['status']}: {r.get('note', '')} | | | | | |")
            continue
        base = next(
            (
                x
                for x in rows
                if x.get("status") == "ok"
                and x.get("workers") == 1
                and x.get("store") == "embedded"
                and x["origin"] == r["origin"]
                and x["concurrency"] == r["concurrency"]
            ),
            None,
        )
        lines.append(
            f"| {r['label']} | {r['origin']} | {r['concurrency']} | {fmt(r['rps'])} | {rfmt(ratio(r['rps'], base and base['rps']))} | "
            f"{ms(r['p50_ms'])} / {ms(r['p99_ms'])} | {fmt(r['cpu_us_per_req'])} | {share(r)} | {r.get('errors') or 0:,} |"
        )
    lines.append("")


def _own_section(doc, lines):
    own, results = doc.get("own"), doc["results"]
    if not own:
        return
    lines += [
        "## Your pages (recorded from your shop, replayed)",
        "",
        f"Recording: `{own['recording']}`; rules: `{own['rules']}`. The replay (nginx with SSI) serves each page as one of "
        "its two fetches at random, with fresh characters wherever the fetches differ by a value (tokens, timestamps), "
        "so no two responses are equal. wrk requests the pages one after the other.",
        "",
    ]
    _matrix_table(results, "own", "replay", lines, group="own")
    lines += [
        "Per page (Etalage personalizing that page alone at c32; blocks not found: from the first personalized view, "
        "/.etalage/admin/rules):",
        "",
        "| page | bytes | values fresh per response / markup differences kept | rules fired | blocks not found | req/s | CPU us/req "
        "| personalized | layouts reused / analysed |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for page in own["pages"]:
        r = find(results, config="etalage-pers", page=page["path"], origin="replay", group="own-page")
        lines.append(
            f"| `{page['path']}` | {page['bytes']:,} | {page['fresh_values']} / {page['kept_as_fetched']} | "
            f"{', '.join(page.get('rules_fired') or []) or 'none'} | {', '.join(page.get('blocks_missed') or []) or 'none'} | "
            f"{fmt(r and r['rps'])} | {fmt(r and r['cpu_us_per_req'])} | {share(r)} | {layouts(r)} |"
        )
    for skipped in own.get("skipped") or []:
        lines.append(f"\nNot recorded: {skipped['url']}: {skipped['why']}")
    lines.append("")


def _short_frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return f"{name} ({_package(frame)}:{line})" if path else frame


def _median(values):
    values = sorted(values)
    if not values:
        return 0.0
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# --- plot ------------------------------------------------------------------------------------------------------


def plot(doc, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["results"]
    variants = [(p, "cached", "main") for p in PAGES] + [
        ("100k", "per-request", "main"),
        ("100k", "shop", "main"),
        ("own", "replay", "own"),
    ]
    variants = [v for v in variants if any(r["page"] == v[0] and r["origin"] == v[1] and r["group"] == v[2] for r in results)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(13, 10))
    width = 0.8 / len(ORDER)
    colours = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, config in enumerate(ORDER):
        xs, ys = [], []
        for j, (page, origin, group) in enumerate(variants):
            r = find(results, config=config, page=page, origin=origin, c=32, group=group)
            if r:
                xs.append(j + (i - len(ORDER) / 2 + 0.5) * width)
                # personalizing: only the pages Etalage really personalized (your pages: all but those that failed open)
                ys.append(r["rps"] if config != "etalage-pers" else personalized_rps(r) if group == "main" else consenting_rps(r))
        if not xs:
            continue  # not measured in this run (your pages alone have no peers): no empty legend entry
        bars = ax1.bar(xs, ys, width, label=SHORT[config], color=colours[i])
        for bar, y in zip(bars, ys):
            ax1.annotate(
                f"{y:,.0f}",
                (bar.get_x() + bar.get_width() / 2, y),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(variants)))
    ax1.set_xticklabels([f"{p} page, {o} origin" if g == "main" else "your pages, replayed" for p, o, g in variants], fontsize=8)
    ax1.set_ylabel("requests/s at c32 (log scale), one core\n(personalizing: pages really personalized)")
    ax1.axhline(2500, color="#2ca02c", linestyle=":", linewidth=1)
    ax1.text(0.99, 2500, "2,500 req/s target", va="bottom", ha="right", fontsize=7, color="#2ca02c", transform=ax1.get_yaxis_transform())
    ax1.set_title(
        f"Throughput per configuration ({doc['meta']['date']}, {doc['meta']['mode']} run, "
        f"Etalage upstream client {doc['meta'].get('etalage_client', '?')})"
    )
    ax1.legend(fontsize=8, ncol=3)

    # latency of the 100 KB cached page, or of your pages when only they were measured
    where = {"group": "main"} if any(r["group"] == "main" for r in results) else {"group": "own", "page": "own", "origin": "replay"}
    labels, p50_32, p99_32, p50_1, p99_1 = [], [], [], [], []
    for config in ORDER:
        r32 = find(results, config=config, c=32, **where)
        r1 = find(results, config=config, c=1, **where)
        if not r32 and not r1:
            continue
        labels.append(SHORT[config])
        p50_32.append(r32["p50_ms"] if r32 else 0)
        p99_32.append(r32["p99_ms"] if r32 else 0)
        p50_1.append(r1["p50_ms"] if r1 else 0)
        p99_1.append(r1["p99_ms"] if r1 else 0)
    xs = range(len(labels))
    w = 0.2
    for k, (values, name, colour) in enumerate(
        ((p50_1, "c1 p50", "#aec7e8"), (p99_1, "c1 p99", "#1f77b4"), (p50_32, "c32 p50", "#ffbb78"), (p99_32, "c32 p99", "#ff7f0e"))
    ):
        ax2.bar([x + (k - 1.5) * w for x in xs], values, w, label=name, color=colour)
    ax2.set_yscale("log")
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(labels, fontsize=8)
    ax2.set_ylabel("latency, ms (log scale)")
    ax2.set_title("Latency, 100 KB page, cached origin" if where["group"] == "main" else "Latency, your pages, replayed")
    ax2.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(doc, out: Path) -> None:
    (out / "results.md").write_text(markdown(doc))
    if not any(r.get("status") == "ok" and r["group"] in ("main", "own") for r in doc["results"]):
        return
    try:
        plot(doc, out / "results.png")
    except ImportError as exc:
        print(f"no plot: {exc}", file=sys.stderr)


if __name__ == "__main__":
    source = Path(sys.argv[1])
    write(json.loads(source.read_text()), source.parent)
    print(source.parent / "results.md")
