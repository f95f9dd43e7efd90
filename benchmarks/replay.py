"""A shop's own pages for the benchmark: record them from the running shop, replay them from nginx.

Recording fetches every URL of a list twice (no cookies, identity encoding, no redirects followed)
and keeps both bodies as they came, so what changes on every view (CSRF tokens in each card's form,
Magento's form_key, render timestamps) is in the recording. A folder holds `recording.json` and the
bodies (`NNN-a.html`, `NNN-b.html`); it can be measured again later (`benchmarks/run --pages DIR`).

Replaying serves each page from the kit's static origin (nginx), picking one of the two fetches at
random per response (nginx's $request_id), with fresh characters in every place where the two
fetches differ by a value: a span of letters, digits and `-_.:+%` gets as many fresh hex digits
from $request_id through nginx's SSI module. So no two responses are equal, as on the live shop, and
a proxy that only recognises bodies it has seen byte for byte gains nothing from the replay.
Differences that are markup (an element in one fetch only) stay as fetched: the alternation keeps them.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "Page",
    "Replay",
    "differing_spans",
    "load",
    "nginx_http",
    "nginx_server",
    "read_url_list",
    "record",
    "template",
    "wrk_script",
]

ANCHOR = 16  # bytes that must match again after a difference
WINDOW = 512  # how far a difference may reach before the fetches are taken as realigned (tokens, timestamps)
MERGE_GAP = 8  # value characters between two differences that belong to one value (equal by chance)
_VALUE = re.compile(rb"[A-Za-z0-9_\-.:+%]*")
_RID = 32  # hex digits in nginx's $request_id
_SSI = b"<!--#"


@dataclass(frozen=True)
class Page:
    url: str
    path: str  # path and query, as requested and as replayed
    content_type: str
    bodies: tuple[bytes, bytes]


# --- recording ----------------------------------------------------------------------------------


def read_url_list(path: Path) -> list[str]:
    """One URL a line; blank lines and lines starting with # are skipped."""
    urls = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if urlsplit(line).scheme not in ("http", "https") or not urlsplit(line).hostname:
            raise ValueError(f"{path}:{number}: not an http(s) URL: {line!r}")
        urls.append(line)
    if not urls:
        raise ValueError(f"{path}: no URLs")
    return urls


def _replay_path(url: str) -> str:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(ch in path for ch in '"\\ ') or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in path):
        raise ValueError(f"{url}: the path must be percent-encoded (no quotes, backslashes, spaces or non-ASCII)")
    return path


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is reported, not followed
        return None


def _fetch(url: str, timeout: float) -> tuple[int, str, bytes, str]:
    """(status, content type, body, problem) of one GET without cookies."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity", "User-Agent": "etalage-benchmark-recorder"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers.get("content-type", ""), response.read(), ""
    except urllib.error.HTTPError as exc:
        where = exc.headers.get("location") if exc.headers else None
        return exc.code, "", b"", f"answered {exc.code}" + (f" (redirect to {where}; list that URL instead)" if where else "")
    except (urllib.error.URLError, OSError) as exc:
        return 0, "", b"", f"could not be fetched: {exc}"


def record(urls: list[str], folder: Path, timeout: float = 30.0, log=print) -> dict:
    """Fetch every URL twice into `folder`; returns the manifest (also written as recording.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"recorded_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "pages": [], "skipped": []}
    seen: dict[str, str] = {}
    for url in urls:
        path = _replay_path(url)
        if path.lower() in seen:
            raise ValueError(f"{url} and {seen[path.lower()]} are the same page to the replay (same path and query)")
        seen[path.lower()] = url
        fetched = [_fetch(url, timeout) for _ in range(2)]
        problem = next((p for _, _, _, p in fetched if p), "")
        if not problem and not all(ct.split(";")[0].strip().lower() == "text/html" for _, ct, _, _ in fetched):
            problem = f"is not HTML ({fetched[0][1] or 'no content type'})"
        if problem:
            manifest["skipped"].append({"url": url, "why": problem})
            log(f"  skipped {url}: {problem}")
            continue
        stem = f"{len(manifest['pages']):03d}"
        for suffix, (_, _, body, _) in zip("ab", fetched):
            (folder / f"{stem}-{suffix}.html").write_bytes(body)
        a, b = fetched[0][2], fetched[1][2]
        manifest["pages"].append(
            {
                "url": url,
                "path": path,
                "content_type": fetched[0][1],
                "files": [f"{stem}-a.html", f"{stem}-b.html"],
                "bytes": [len(a), len(b)],
            }
        )
        log(f"  recorded {url}: {len(a):,} / {len(b):,} bytes" + ("" if a != b else " (both fetches identical)"))
    (folder / "recording.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def load(folder: Path) -> tuple[list[Page], list[dict]]:
    """The recorded pages of a folder, and the URLs the recording skipped (with why)."""
    manifest = json.loads((folder / "recording.json").read_text())
    pages = [
        Page(entry["url"], entry["path"], entry["content_type"], tuple((folder / name).read_bytes() for name in entry["files"]))  # type: ignore[arg-type]
        for entry in manifest["pages"]
    ]
    if not pages:
        raise ValueError(f"{folder}/recording.json lists no recorded pages")
    return pages, manifest.get("skipped", [])


# --- where the two fetches differ ---------------------------------------------------------------


def _common(a: bytes, i: int, b: bytes, j: int) -> int:
    """Length of the common run of a[i:] and b[j:]."""
    limit, n, step = min(len(a) - i, len(b) - j), 0, 4096
    while step:
        if n + step <= limit and a[i + n : i + n + step] == b[j + n : j + n + step]:
            n += step
        else:
            step //= 2
    return n


def _realign(a: bytes, i: int, b: bytes, j: int) -> tuple[int, int] | None:
    """The shortest (da, db) after which ANCHOR bytes of a and b match again, within WINDOW."""
    best: tuple[int, int] | None = None
    for da in range(WINDOW):
        if best is not None and da >= sum(best):
            break
        chunk = a[i + da : i + da + ANCHOR]
        if len(chunk) < ANCHOR:  # near the end of a: the rest of a must be the rest of b
            at = len(b) - len(chunk)
            if at >= j and b.endswith(chunk) and at - j < WINDOW and (best is None or da + at - j < sum(best)):
                best = (da, at - j)
            if not chunk:
                break
            continue
        at = b.find(chunk, j, j + WINDOW + ANCHOR)
        if at >= 0 and (best is None or da + at - j < sum(best)):
            best = (da, at - j)
    return best


def differing_spans(a: bytes, b: bytes) -> list[tuple[int, int, int, int]]:
    """Aligned differences of two fetches of a page: (a_start, a_end, b_start, b_end) each, in order.
    Past a difference the fetches cannot be realigned within WINDOW, the rest is one difference."""
    spans: list[tuple[int, int, int, int]] = []
    i = j = 0
    while True:
        n = _common(a, i, b, j)
        i, j = i + n, j + n
        if i >= len(a) and j >= len(b):
            return spans
        step = _realign(a, i, b, j) if i < len(a) and j < len(b) else None
        if step is None:
            spans.append((i, len(a), j, len(b)))
            return spans
        spans.append((i, i + step[0], j, j + step[1]))
        i, j = i + step[0], j + step[1]


def _value_spans(body: bytes, spans: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """The spans of `body` that are values (fresh on replay), merged across short value gaps; and the
    number of spans left as they are (markup, or empty in this fetch)."""
    out: list[tuple[int, int]] = []
    kept = 0
    for start, end in spans:
        if start == end:
            continue
        if _VALUE.fullmatch(body, start, end) is None:
            kept += 1
            continue
        if out and start - out[-1][1] <= MERGE_GAP and _VALUE.fullmatch(body, out[-1][1], start):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out, kept


def _fresh(length: int) -> bytes:
    whole, rest = divmod(length, _RID)
    return b'<!--# echo var="request_id" -->' * whole + (f'<!--# echo var="rid_{rest}" -->'.encode() if rest else b"")


def template(body: bytes, spans: list[tuple[int, int]]) -> tuple[bytes, re.Pattern[bytes], set[int], int]:
    """For one fetch and its differences: the SSI template nginx serves, a pattern the fetch and every
    response of the template match, the lengths below 32 of fresh values the server must define ($rid_N), and the number
    of differences kept as fetched."""
    values, kept = _value_spans(body, spans)
    if _SSI in body:  # the page itself holds SSI syntax: serve it as recorded, not through SSI
        return body, re.compile(re.escape(body)), set(), kept + len(values)
    parts, pattern, lengths, at = [], [], set(), 0
    for start, end in values:
        parts += [body[at:start], _fresh(end - start)]
        pattern += [re.escape(body[at:start]), rb"[A-Za-z0-9_\-.:+%%]{%d}" % (end - start)]
        if (end - start) % _RID:
            lengths.add((end - start) % _RID)
        at = end
    parts.append(body[at:])
    pattern.append(re.escape(body[at:]))
    return b"".join(parts), re.compile(b"".join(pattern), re.DOTALL), lengths, kept


@dataclass
class Replay:
    """The replay's document root, written: what nginx needs, and how to recognise its responses."""

    root: Path
    pages: list[Page]
    content_types: dict[str, str]  # recorded content type -> file extension in the root
    lengths: set[int]
    patterns: dict[str, tuple[re.Pattern[bytes], re.Pattern[bytes]]]
    variation: dict[str, dict[str, int]]  # path -> values made fresh, differences kept as fetched

    @classmethod
    def write(cls, pages: list[Page], root: Path) -> Replay:
        root.mkdir(parents=True, exist_ok=True)
        content_types = {ctype: f"t{n}" for n, ctype in enumerate(dict.fromkeys(page.content_type for page in pages))}
        lengths: set[int] = set()
        patterns, variation = {}, {}
        for n, page in enumerate(pages):
            a, b = page.bodies
            spans = differing_spans(a, b)
            made = []
            for suffix, body, own in (("a", a, [(s[0], s[1]) for s in spans]), ("b", b, [(s[2], s[3]) for s in spans])):
                text, pattern, needed, kept = template(body, own)
                (root / f"p{n:03d}-{suffix}.{content_types[page.content_type]}").write_bytes(text)
                lengths |= needed
                made.append((pattern, kept, len(_value_spans(body, own)[0])))
            patterns[page.path] = (made[0][0], made[1][0])
            variation[page.path] = {"differences": len(spans), "fresh_values": made[0][2], "kept_as_fetched": made[0][1]}
        return cls(root, pages, content_types, lengths, patterns, variation)

    def matches(self, path: str, body: bytes) -> bool:
        """Whether `body` is a response of the replay for `path` (either fetch, any fresh values)."""
        return any(pattern.fullmatch(body) for pattern in self.patterns[path])


# --- nginx and wrk --------------------------------------------------------------------------------


def nginx_http(pages: list[Page], content_types: dict[str, str], lengths: set[int]) -> str:
    """http-level directives of the replay: the page and the fetch each request gets, fresh values."""
    lines = ["    map $request_uri $replay_page {", '        default "";']
    lines += [f'        "{page.path}" "p{n:03d}";' for n, page in enumerate(pages)]
    lines += ["    }", "    map $request_uri $replay_type {", '        default "";']
    lines += [f'        "{page.path}" "{content_types[page.content_type]}";' for page in pages]
    lines += [
        "    }",
        "    # one of the two fetches at random per response",
        "    map $request_id $replay_fetch {",
        '        "~[0-7]$" a;',
        "        default b;",
        "    }",
    ]
    for n in sorted(lengths):
        lines += [f"    map $request_id $rid_{n} {{", f'        "~^(?<rid{n}>.{{{n}}})" $rid{n};', "    }"]
    return "\n".join(lines)


def nginx_server(port: int, root: Path, content_types: dict[str, str]) -> str:
    """The replay's server block: a recorded page by its path and query, its content type as recorded."""
    types = " ".join(f'"{ctype}" {ext};' for ctype, ext in content_types.items())
    return f"""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        types {{ {types} }}
        default_type application/octet-stream;
        charset off;
        location / {{
            ssi on; ssi_types *; ssi_last_modified off; sendfile off; tcp_nopush off; output_buffers 4 128k;
            try_files /$replay_page-$replay_fetch.$replay_type =404;
        }}
    }}"""


def wrk_script(paths: list[str]) -> str:
    """A wrk script that requests the pages one after the other, each connection on its own."""
    quoted = ", ".join('"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"' for path in paths)
    return (
        "-- generated by benchmarks/bench.py: the recorded pages, one after the other\n"
        f"local paths = {{ {quoted} }}\n"
        "local requests = {}\n"
        "local n = 0\n"
        "function init(args)\n"
        '  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end\n'
        "end\n"
        "function request()\n"
        "  n = n % #requests + 1\n"
        "  return requests[n]\n"
        "end\n"
    )
