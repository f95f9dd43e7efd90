"""Etalage's benchmark kit: origin, nginx, Etalage and the straightforward peers side by side.

Run through benchmarks/run (it prepares the tools and the virtualenvs); see benchmarks/README.md.
Everything listens on 127.0.0.1; the system under test is pinned to core 0, wrk and the origin to core 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import pages  # noqa: E402
import replay  # noqa: E402
import report  # noqa: E402
from harness import Registry, get, run_wrk, summarize, wait_idle, wait_ready  # noqa: E402

REPO = HERE.parent
PEERS = HERE / "peers"

CONSENT = (
    "isGpcEnabled=0"
    f"&datestamp={quote_plus('Sat Nov 01 2025 10:00:00 GMT+0000 (Coordinated Universal Time)', safe='()')}"
    "&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
)
CLIENTS = ("httpx", "httpx-aiohttp", "aiohttp")
# The values that change on every response of the per-request and shop-shaped origins, filled in or not.
NONCE_RE = re.compile(
    rb'(name="(?:csrf-token|created)" content="|name="(?:t|csrfmiddlewaretoken)" value=")'
    rb'([0-9a-f]{64}|[0-9a-f]{32}|[0-9]+\.[0-9]{3}|<!--# echo var="(?:request_id|card_token|msec)" -->)"'
)
# Origin modes: the same list pages under three prefixes (pages.py).
ORIGINS = {"cached": "/list/", "per-request": "/dyn/list/", "shop": "/shop/list/"}

CONFIG_LABELS = {
    "origin": "origin direct (nginx static)",
    "nginx-proxy": "nginx reverse proxy",
    "etalage-pass": "Etalage pass-through",
    "etalage-pers": "Etalage personalizing",
    "selectolax": "selectolax proxy (peer)",
    "bs4": "BeautifulSoup proxy (peer)",
}


def mask(body: bytes) -> bytes:
    return NONCE_RE.sub(lambda m: m.group(1) + b'N"', body)


def first_card_category(body: bytes) -> str | None:
    at = body.find(b'id="popular"')
    m = re.compile(rb'data-category="([a-z]+)"').search(body, at)
    return m.group(1).decode() if at >= 0 and m else None


class CheckFailed(Exception):
    pass


def personalized_summary(runs: list[dict]) -> dict:
    """From Etalage's counters over the measured runs: the share of pages it really personalized, and
    of the views that reached its rules (personalized, left unchanged because no rule applied to that
    visitor there, or failed open on the way) the share whose layout was reused (etalage.html.reuse)
    or analysed in full; the rest were byte-identical to a body seen before (not counted by Etalage)."""
    personalized = passed = reused = analysed = looked = 0.0
    fail_open: dict[str, float] = {}
    seen = False
    for run in runs:
        counts = run.get("etalage_counts")
        if counts is None:
            continue
        seen = True
        for name, value in counts.items():
            if name == 'etalage_requests_total{outcome="personalized"}':
                personalized += value
            elif name == 'etalage_requests_total{outcome="passed"}':
                passed += value
            elif name == 'etalage_layouts_total{source="reused"}':
                reused += value
            elif name == 'etalage_layouts_total{source="analysed"}':
                analysed += value
            elif name == "etalage_personalize_seconds_count":  # every view the rules looked at
                looked += value
            elif name.startswith("etalage_fail_open_total"):
                reason = name.partition('reason="')[2].rstrip('"}') or name
                fail_open[reason] = fail_open.get(reason, 0) + value
    # Views the rules looked at: also those left unchanged (counted as passed), whose layout was found
    # all the same, so the shares stay within 100% where rules fire for some views only; a view whose
    # rewrite raised is not in the histogram. Fail-opens before the rules (store, size) found no layout.
    tried = looked + fail_open.get("rewrite_error", 0)
    if not seen or not personalized + passed:
        return {"personalized_share": None, "fail_open": fail_open or None}
    return {
        "personalized_share": round(personalized / (personalized + passed), 4),
        "pages_counted": int(personalized + passed),
        "layouts_reused": int(reused),
        "layouts_analysed": int(analysed),
        "reused_share": round(reused / tried, 4) if tried else None,
        "analysed_share": round(analysed / tried, 4) if tried else None,
        "fail_open": {k: int(v) for k, v in fail_open.items()} or None,
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.work = self.out / "work"
        self.registry = Registry(self.out / "logs")
        self.results: list[dict] = []
        self.served_bytes: dict[str, dict[str, int]] = {}  # origin mode -> page -> bytes of a response
        self.replay: replay.Replay | None = None  # the shop's own pages (--record / --pages)
        self.own: dict = {}
        self.soak: dict | None = None
        self.profile: dict | None = None
        self.started = time.time()
        self.project_python = Path(args.project_python)
        self.peer_python = Path(args.peer_python)
        if args.quick:
            self.runs, self.duration, self.warmup = 1, 2.0, 1.0
            self.sizes = ["100k"]
        else:
            self.runs, self.duration, self.warmup = 3, 8.0, 1.0
            self.sizes = list(pages.PAGE_SIZES)
        if args.runs:
            self.runs = args.runs
        if args.duration:
            self.duration = args.duration
        self.secret = secrets.token_urlsafe(32)
        self.admin_token = secrets.token_urlsafe(24)
        self.snapshot_source()
        self.default_client = self.etalage_default_client()
        self.client = args.client or self.default_client

    def etalage_default_client(self) -> str:
        done = subprocess.run(
            [str(self.project_python), "-c", "from etalage.settings import Settings; print(Settings().upstream_client)"],
            capture_output=True,
            text=True,
            env={**os.environ, **self.etalage_env},
        )
        return done.stdout.strip() or "httpx"

    def snapshot_source(self) -> None:
        """Run one version of Etalage throughout: a copy of src/etalage as it is now (others may be editing it)."""
        self.etalage_env: dict[str, str] = {}
        if self.args.live_source:
            return
        target = self.work / "src"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO / "src" / "etalage", target / "etalage", ignore=shutil.ignore_patterns("__pycache__"))
        # The project's .venv has etalage installed in editable mode (a .pth entry after PYTHONPATH),
        # so PYTHONPATH makes its python import this copy instead of the live tree.
        self.etalage_env = {"PYTHONPATH": str(target)}
        check = subprocess.run(
            [str(self.project_python), "-c", "import etalage; print(etalage.__file__)"],
            capture_output=True,
            text=True,
            env={**os.environ, **self.etalage_env},
        )
        if not check.stdout.strip().startswith(str(target)):
            raise SystemExit(
                f"could not run Etalage from a snapshot of src/ ({check.stdout.strip()} {check.stderr.strip()}); try --live-source"
            )

    def etalage_argv(self, *args: str) -> list[str]:
        return [str(self.project_python), "-m", "etalage", *args]

    # -- setup ------------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        elapsed = time.time() - self.started
        print(f"[{elapsed:6.0f}s] {message}", flush=True)

    def prepare(self) -> None:
        (self.out / "logs").mkdir(parents=True, exist_ok=True)
        self.site = self.work / "site"
        self.page_bytes = pages.write_site(self.site)
        # What each origin mode serves: the bytes themselves (cached), or with its fresh values masked.
        self.expected: dict[str, dict[str, bytes]] = {}
        for origin, prefix in ORIGINS.items():
            files = {key: (self.site / prefix.strip("/") / key).read_bytes() for key in pages.PAGE_SIZES}
            self.expected[origin] = files if origin == "cached" else {key: mask(raw) for key, raw in files.items()}
        self.rule_dirs = {}
        for count in (1, 20, 200):
            folder = pages.write_rules(self.work, count, REPO / "rules" / "templates")
            check = subprocess.run(
                self.etalage_argv("rules", "check", str(folder)), capture_output=True, text=True, env={**os.environ, **self.etalage_env}
            )
            if check.returncode != 0:
                raise SystemExit(f"etalage rules check {folder} failed:\n{check.stdout}{check.stderr}")
            self.log(check.stdout.strip())
            self.rule_dirs[count] = folder
        if self.args.record or self.args.pages:
            self.prepare_own()
        # nginx runs as root's workers drop to nobody: let them read the pages and write their temp files.
        for path in [self.out, self.work, *self.work.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o055)

    def prepare_own(self) -> None:
        """Record the shop's pages (--record) or read a recording (--pages); write the replay's root."""
        folder = self.args.pages or self.out / "recorded"
        try:
            if self.args.record:
                self.log(f"recording {self.args.record} into {folder} (two fetches per URL)")
                replay.record(replay.read_url_list(self.args.record), folder, log=self.log)
            recorded, skipped = replay.load(folder)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"your pages: {exc}") from None
        self.replay = replay.Replay.write(recorded, self.work / "replay")
        rules = self.args.rules.resolve()
        check = subprocess.run(
            self.etalage_argv("rules", "check", str(rules)), capture_output=True, text=True, env={**os.environ, **self.etalage_env}
        )
        if check.returncode != 0:
            raise SystemExit(f"etalage rules check {rules} failed:\n{check.stdout}{check.stderr}")
        self.log(check.stdout.strip())
        script = self.work / "own-pages.lua"
        script.write_text(replay.wrk_script([page.path for page in recorded]))
        sizes = {page.path: len(page.bodies[0]) for page in recorded}
        self.served_bytes["replay"] = {**sizes, "own": round(sum(sizes.values()) / len(sizes))}
        self.own = {
            "recording": str(folder),
            "rules": str(rules),
            "skipped": skipped,
            "script": script,
            "pages": [
                {"path": page.path, "url": page.url, "bytes": len(page.bodies[0]), **self.replay.variation[page.path]} for page in recorded
            ],
        }
        for page in self.own["pages"]:
            self.log(
                f"  {page['path']}: {page['bytes']:,} bytes, {page['fresh_values']} value(s) fresh on every response, "
                f"{page['kept_as_fetched']} difference(s) of markup kept as fetched"
            )

    def nginx_conf(
        self, name: str, static_port: int, proxy_port: int | None, upstream_port: int | None, replay_port: int | None = None
    ) -> Path:
        prefix = self.work / f"nginx-{name}"
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").chmod(0o777)
        proxy = ""
        if proxy_port:
            proxy = f"""
    upstream origin {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{proxy_port} backlog=4096;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffer_size 16k;
            proxy_buffers 64 16k;
            proxy_max_temp_file_size 0;
        }}
    }}"""
        replay_conf = ""
        if replay_port and self.replay:
            replay_conf = (
                "\n"
                + replay.nginx_http(self.replay.pages, self.replay.content_types, self.replay.lengths)
                + replay.nginx_server(replay_port, self.replay.root, self.replay.content_types)
            )
        conf = f"""# generated by benchmarks/bench.py
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    types {{ text/html html; text/css css; application/javascript js; }}
    default_type text/html;
    charset utf-8;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    open_file_cache max=100 inactive=60s;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    map $request_id $card_token {{ default "$request_id$request_id"; }}
    server {{
        listen 127.0.0.1:{static_port} backlog=4096;
        root {self.site};
        # The per-request-different origin: nginx's SSI fills in a fresh $request_id on every response.
        # (sendfile and TCP_CORK are off there: with them, 100 KB SSI responses stalled 40 ms on delayed ACKs.)
        location /dyn/ {{ ssi on; ssi_last_modified off; sendfile off; tcp_nopush off; output_buffers 4 128k; }}
        location /shop/ {{ ssi on; ssi_last_modified off; sendfile off; tcp_nopush off; output_buffers 4 128k; }}
    }}{proxy}{replay_conf}
}}
"""
        path = prefix / "nginx.conf"
        path.write_text(conf)
        return path

    def start_nginx(
        self,
        name: str,
        core: str,
        static_port: int,
        proxy_port: int | None = None,
        upstream_port: int | None = None,
        replay_port: int | None = None,
    ):
        conf = self.nginx_conf(name, static_port, proxy_port, upstream_port, replay_port)
        proc = self.registry.start(name, ["nginx", "-p", str(conf.parent), "-c", str(conf)], core=core)
        why = wait_ready(proc, static_port, "/list/24k")
        if why:
            raise SystemExit(f"{name} did not start: {why}")
        return proc

    def start_origin(self) -> None:
        self.origin_port = harness.free_port()
        self.replay_port = harness.free_port()
        self.origin = self.start_nginx("origin-nginx", harness.LOAD_CORE, self.origin_port, replay_port=self.replay_port)
        # The origin's own answers are the reference for every byte-identity check.
        for key in pages.PAGE_SIZES:
            if get(self.origin_port, f"/list/{key}").body != self.expected["cached"][key]:
                raise SystemExit("the origin does not serve the generated page unchanged")
            for origin in ("per-request", "shop"):
                a, b = get(self.origin_port, self.path(key, origin)).body, get(self.origin_port, self.path(key, origin)).body
                if a == b or mask(a) != self.expected[origin][key] or b"<!--#" in a:
                    raise SystemExit(f"the {origin} origin does not insert fresh values in every response")
                self.served_bytes.setdefault(origin, {})[key] = len(a)
        self.log(
            f"origin nginx on :{self.origin_port} (core {harness.LOAD_CORE}); pages: "
            + ", ".join(f"{k} = {v} bytes" for k, v in self.page_bytes.items())
            + "; shop-shaped: "
            + ", ".join(f"{k} = {v} bytes" for k, v in self.served_bytes["shop"].items())
        )
        if self.replay:
            for page in self.replay.pages:
                a, b = get(self.replay_port, page.path).body, get(self.replay_port, page.path).body
                if not (self.replay.matches(page.path, a) and self.replay.matches(page.path, b)):
                    raise SystemExit(f"the replay does not serve {page.path} as recorded")
                if self.replay.variation[page.path]["fresh_values"] and a == b:
                    raise SystemExit(f"the replay served {page.path} twice with the same bytes")
            self.log(f"replay of your pages on :{self.replay_port}")

    def start_etalage(
        self,
        rules: int | Path,
        client: str | None = None,
        shedding: bool = False,
        upstream_port: int | None = None,
        workers: int = 1,
        redis_url: str = "",
        core: str = harness.SUT_CORE,
    ) -> tuple[harness.Proc | None, int, str | None]:
        """`etalage serve`, one process on core 0 unless told otherwise. Load shedding is off unless asked
        for: with it on, an overloaded Etalage serves pages unpersonalized, and the personalizing
        numbers would not be."""
        port = harness.free_port()
        client = client or self.client
        env = {
            **self.etalage_env,
            "ETALAGE_SECRET": self.secret,
            "ETALAGE_ADMIN_TOKEN": self.admin_token,
            "ETALAGE_UPSTREAM_CLIENT": client,
            "ETALAGE_WORKERS": str(workers),
            "ETALAGE_REDIS_URL": redis_url,
            "ETALAGE_LOG_LEVEL": "warning",
        }
        if not shedding:
            env["ETALAGE_OVERLOAD_LAG"] = "3600"
        argv = self.etalage_argv(
            "serve",
            "--upstream",
            f"http://127.0.0.1:{upstream_port or self.origin_port}",
            "--rules",
            str(rules if isinstance(rules, Path) else self.rule_dirs[rules]),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        )
        tag = "own" if isinstance(rules, Path) else f"r{rules}"
        name = (
            f"etalage-{tag}-{client}{'-shedding' if shedding else ''}{f'-w{workers}' if workers > 1 else ''}{'-redis' if redis_url else ''}"
        )
        proc = self.registry.start(name, argv, env=env, core=core)
        why = wait_ready(proc, port, "/.etalage/health")
        if why:
            self.registry.stop(proc)
            return None, port, why
        return proc, port, None

    def start_peer(self, module: str, env: dict[str, str] | None = None, name: str | None = None) -> tuple[harness.Proc, int]:
        port = harness.free_port()
        argv = [
            str(self.peer_python),
            "-m",
            "uvicorn",
            f"{module}:app",
            "--app-dir",
            str(PEERS),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        proc = self.registry.start(name or module, argv, env={"UPSTREAM": f"http://127.0.0.1:{self.origin_port}", **(env or {})})
        why = wait_ready(proc, port, "/c/dogs")
        if why:
            raise SystemExit(f"peer {module} did not start: {why}")
        return proc, port

    # -- visitors and checks -------------------------------------------------------------------------

    def establish_visitor(self, port: int) -> str:
        """A signed visitor cookie from Etalage itself, with a profile: rodents viewed 4 times, cats twice."""
        first = get(port, "/list/24k", {"Cookie": f"OptanonConsent={CONSENT}"})
        vid = None
        for value in first.all("set-cookie"):
            if value.startswith("etalage_vid="):
                vid = value.split(";", 1)[0].split("=", 1)[1]
        if not vid:
            raise CheckFailed(f"Etalage set no etalage_vid cookie for a consenting visitor (status {first.status})")
        cookie = f"OptanonConsent={CONSENT}; etalage_vid={vid}"
        for path in ["/c/rodents"] * 4 + ["/c/cats"] * 2:
            reply = get(port, path, {"Cookie": cookie})
            if reply.status != 200:
                raise CheckFailed(f"warming the profile: {path} answered {reply.status}")
        return cookie

    def check(self, kind: str, port: int, path: str, page: str, origin: str, headers: dict[str, str], expect_rules=()) -> str:
        """Make sure the configuration serves what it should before it is measured; returns a note."""
        reply = get(port, path, headers)
        if reply.status != 200:
            raise CheckFailed(f"{path} answered {reply.status}")
        body = reply.body
        dyn = origin != "cached"
        expected = self.expected[origin][page]
        if kind in ("origin", "nginx-proxy", "etalage-pass", "bare"):
            if (mask(body) if dyn else body) != expected:
                raise CheckFailed(f"{kind}: the body is not the origin's bytes ({len(body)} vs {len(expected)} bytes)")
            if dyn and get(port, path, headers).body == body:
                raise CheckFailed(f"{kind}: two responses of the {origin} origin are identical")
            return "byte-identical to the origin" + (" (fresh values masked)" if dyn else "")
        if kind == "etalage-pers":
            missing = [rule for rule in expect_rules if f'data-etalage-rule="{rule}"'.encode() not in body]
            if missing:
                raise CheckFailed(f"Etalage did not personalize: no data-etalage-rule for {', '.join(missing)}")
            if first_card_category(body) != "rodents":
                raise CheckFailed(f"Etalage's sort did not put a rodents card first (got {first_card_category(body)})")
            if reply.header("cache-control") != "private, no-store":
                raise CheckFailed("a personalized page without Cache-Control: private, no-store")
            return f"personalized: {', '.join(expect_rules)} fired, rodents first"
        if kind in ("selectolax", "bs4"):
            for marker in ("banner", "sort", "popin"):
                if f'data-peer-rule="{marker}"'.encode() not in body:
                    raise CheckFailed(f"{kind}: no {marker} in the response")
            if first_card_category(body) != "rodents":
                raise CheckFailed(f"{kind}: the sort did not put a rodents card first")
            return "banner, sort, pop-in present, rodents first"
        raise ValueError(kind)

    # -- measuring -----------------------------------------------------------------------------------

    def record(self, entry: dict) -> dict:
        self.results.append(entry)
        (self.out / "results.json").write_text(json.dumps(self.document(), indent=1))
        return entry

    def etalage_counts(self, port: int, workers: tuple[harness.Proc | harness.Group, int] | None = None) -> dict[str, float] | None:
        """Etalage's own counters (/.etalage/metrics): how many pages it personalized, passed, failed
        open. With several workers (`workers`: the system under test and how many), each keeps its own:
        they are read from every worker and added up, or None when not every worker answered."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        try:
            if workers is None:
                replies = [get(port, "/.etalage/metrics", headers, timeout=10)]
            else:
                sut, count = workers
                replies = list(harness.get_from_each(port, "/.etalage/metrics", headers, sut.pids(), count).values())
                if len(replies) < count:
                    return None
        except OSError:
            return None
        counts: dict[str, float] = {}
        for reply in replies:
            if reply.status != 200:
                return None
            for line in reply.body.decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    counts[name] = counts.get(name, 0) + float(value)
        return counts

    def measure(
        self,
        *,
        group: str,
        config: str,
        port: int,
        path: str,
        page: str,
        origin: str,
        sut: harness.Proc,
        headers: dict[str, str] | None = None,
        concurrencies=(32, 1),
        check_kind: str | None = None,
        verify: Callable[[], str] | None = None,
        script: Path | None = None,
        workers: int = 1,
        expect_rules=(),
        label: str | None = None,
        **extra,
    ) -> None:
        base = {
            "group": group,
            "config": config,
            "label": label or CONFIG_LABELS.get(config, config),
            "origin": origin,
            "page": page,
            "page_bytes": self.served_bytes.get(origin, self.page_bytes).get(page, 0),
            "path": path,
            "workers": workers,
            **extra,
        }
        headers = headers or {}
        try:
            # A page's first look may go out unpersonalized by design (analysis_timeout, or shedding while
            # the loop catches up after it): the check gets three tries, the system idle before each.
            for attempt in range(3):
                try:
                    note = verify() if verify else self.check(check_kind or config, port, path, page, origin, headers, expect_rules)
                    break
                except CheckFailed:
                    if attempt == 2 or config != "etalage-pers":
                        raise
                    wait_idle(sut.pids())
                    if workers > 1:
                        # Another worker may still serve the profile from its Redis read cache, up to a second
                        # old (deploy/README.md): the views that warmed it may have gone to the other worker.
                        time.sleep(1.1)
        except (CheckFailed, OSError) as exc:
            self.log(f"  CHECK FAILED {base['label']} {page} {base['origin']}: {exc}")
            for c in concurrencies:
                self.record({**base, "concurrency": c, "status": "check failed", "note": str(exc)})
            return
        aux = self.origin.pids()
        for c in concurrencies:
            sut_pids = sut.pids()
            wait_idle(sut_pids)
            try:
                run_wrk(port, path, c, self.warmup, headers, sut_pids, aux, script)
                wait_idle(sut_pids)
                runs = []
                for _ in range(self.runs):
                    each = (sut, workers) if workers > 1 else None
                    before = self.etalage_counts(port, each) if config.startswith("etalage") else None
                    run = run_wrk(port, path, c, self.duration, headers, sut_pids, aux, script)
                    wait_idle(sut_pids)
                    after = self.etalage_counts(port, each) if before is not None else None
                    if before is not None and after is not None:
                        run["etalage_counts"] = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
                    runs.append(run)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                self.record({**base, "concurrency": c, "status": "failed", "note": str(exc)})
                continue
            summary = summarize(runs)
            if config.startswith("etalage"):
                summary.update(personalized_summary(runs))
            status = "ok" if sut.alive() else "crashed"
            self.record(
                {
                    **base,
                    "concurrency": c,
                    "status": status,
                    "note": note,
                    **summary,
                    "runs": runs,
                    "rss_kib_after": harness.rss_kib(sut_pids),
                }
            )
            self.log(
                f"  {base['label']:<34} {page:>4} {base['origin']:<11} c{c:<2} {summary['rps']:>9.1f} req/s  "
                f"p50 {summary['p50_ms']:.3f} ms  p99 {summary['p99_ms']:.3f} ms  {summary['cpu_us_per_req'] or 0:.0f} us/req"
                + (f"  ERRORS {summary['errors']}" if summary["errors"] else "")
                + (
                    f"  personalized {100 * summary['personalized_share']:.1f}%"
                    if summary.get("personalized_share") is not None and config == "etalage-pers"
                    else ""
                )
                + (
                    f"  layouts reused {100 * summary['reused_share']:.1f}%"
                    if summary.get("reused_share") is not None and config == "etalage-pers" and origin != "cached"
                    else ""
                )
                + (f"  fail-open {summary['fail_open']}" if summary.get("fail_open") else "")
            )

    def na(self, *, group: str, config: str, why: str, pages_=("100k",), origins=("cached",), concurrencies=(32, 1), **extra) -> None:
        for page in pages_:
            for origin in origins:
                for c in concurrencies:
                    self.record(
                        {
                            "group": group,
                            "config": config,
                            "label": CONFIG_LABELS.get(config, config),
                            "origin": origin,
                            "page": page,
                            "page_bytes": self.served_bytes.get(origin, self.page_bytes).get(page, 0),
                            "concurrency": c,
                            "status": "not available",
                            "note": why,
                            **extra,
                        }
                    )

    # -- the matrix ------------------------------------------------------------------------------------

    def run_main(self) -> None:
        sut_nginx_static, sut_nginx_proxy = harness.free_port(), harness.free_port()
        nginx = self.start_nginx("sut-nginx", harness.SUT_CORE, sut_nginx_static, sut_nginx_proxy, self.origin_port)
        variants = [(page, "cached") for page in self.sizes] + [("100k", "per-request"), ("100k", "shop")]
        quick = self.args.quick

        self.log("== origin direct and nginx reverse proxy")
        for config, port in (("origin", sut_nginx_static), ("nginx-proxy", sut_nginx_proxy)):
            for page, origin in variants:
                if quick and origin != "cached" and config == "nginx-proxy":
                    continue  # origin direct stays: it is the baseline of the added latency at c1
                self.measure(group="main", config=config, port=port, path=self.path(page, origin), page=page, origin=origin, sut=nginx)
        self.registry.stop(nginx)

        self.log(f"== Etalage (20 rules, {self.client} upstream client): pass-through and personalizing")
        etalage, port, why = self.start_etalage(20)
        if etalage is None:
            raise SystemExit(f"Etalage did not start: {why}")
        cookie = self.establish_visitor(port)
        for page, origin in variants:
            self.measure(
                group="main",
                config="etalage-pass",
                port=port,
                path=self.path(page, origin),
                page=page,
                origin=origin,
                sut=etalage,
                rules=20,
                client=self.client,
            )
            self.measure(
                group="main",
                config="etalage-pers",
                port=port,
                path=self.path(page, origin),
                page=page,
                origin=origin,
                sut=etalage,
                headers={"Cookie": cookie},
                expect_rules=pages.MAIN_RULE_IDS,
                rules=20,
                client=self.client,
            )
        self.registry.stop(etalage)

        self.log("== Etalage personalizing with its default load shedding (pages go out unpersonalized when the loop lags)")
        etalage, port, why = self.start_etalage(20, shedding=True)
        if etalage is None:
            raise SystemExit(f"Etalage did not start: {why}")
        cookie = self.establish_visitor(port)
        for origin in ("cached", "shop") if quick else tuple(ORIGINS):
            self.measure(
                group="shedding",
                config="etalage-pers",
                port=port,
                path=self.path("100k", origin),
                page="100k",
                origin=origin,
                sut=etalage,
                headers={"Cookie": cookie},
                expect_rules=pages.MAIN_RULE_IDS,
                rules=20,
                client=self.client,
                concurrencies=(32, 64),
                label="Etalage personalizing, default shedding",
            )
        self.registry.stop(etalage)

        self.log("== the straightforward peers")
        for config, module in (("selectolax", "selectolax_proxy"), ("bs4", "bs4_proxy")):
            peer, port = self.start_peer(module)
            for page, origin in variants:
                if origin != "cached" and (config == "bs4" or quick):
                    continue  # bs4 caches nothing: its cached-origin numbers are its per-request numbers
                self.measure(group="main", config=config, port=port, path=self.path(page, origin), page=page, origin=origin, sut=peer)
            self.registry.stop(peer)

    def own_visitor(self, port: int) -> tuple[str, dict[str, dict]]:
        """A consenting visitor with a signed cookie and a profile taught by the recorded pages (each
        viewed three times); and per page what the first personalized view showed: the rules that
        fired and the blocks Etalage did not find (/.etalage/admin/rules keeps the last few)."""
        assert self.replay is not None
        consent = self.args.consent_cookie
        first = get(port, self.replay.pages[0].path, {"Cookie": consent})
        vid = next((v.split(";", 1)[0].split("=", 1)[1] for v in first.all("set-cookie") if v.startswith("etalage_vid=")), None)
        if not vid:
            raise CheckFailed(
                f"Etalage set no etalage_vid cookie for the consent cookie given (status {first.status}); "
                "give your consent platform's cookie with --consent-cookie"
            )
        cookie = f"{consent}; etalage_vid={vid}"
        seen: set[tuple] = set()
        per_page: dict[str, dict] = {}
        for round_ in range(3):
            for page in self.replay.pages:
                reply = get(port, page.path, {"Cookie": cookie})
                if round_:
                    continue
                misses = []
                status = get(port, "/.etalage/admin/rules", {"Authorization": f"Bearer {self.admin_token}"})
                if status.status == 200:
                    for miss in json.loads(status.body).get("blocks_missed", []):
                        key = (miss["at"], miss["block"], miss["path"])
                        if key not in seen:
                            seen.add(key)
                            if miss["path"] == page.path.split("?")[0] or miss["path"] == page.path:
                                misses.append(f"{miss['block']} ({miss['reason']})")
                per_page[page.path] = {"status": reply.status, "blocks_missed": misses}
        for page in self.replay.pages:
            reply = get(port, page.path, {"Cookie": cookie})
            fired = sorted(set(re.findall(rb'data-etalage-rule="([^"]+)"', reply.body)))
            per_page[page.path]["rules_fired"] = [rule.decode() for rule in fired]
            per_page[page.path]["cache_control"] = reply.header("cache-control")
        return cookie, per_page

    def verify_own(self, port: int, headers: dict[str, str], personalized: bool) -> str:
        """Every recorded page answers as the replay serves it (pass-through), or, personalizing, at
        least one page comes out personalized and every personalized one is private."""
        assert self.replay is not None
        changed = 0
        for page in self.replay.pages:
            reply = get(port, page.path, headers)
            if reply.status != 200:
                raise CheckFailed(f"{page.path} answered {reply.status}")
            same = self.replay.matches(page.path, reply.body)
            if not personalized and not same:
                raise CheckFailed(f"{page.path}: the body is not the replayed page")
            if personalized and not same:
                if b"data-etalage-rule=" not in reply.body:
                    raise CheckFailed(f"{page.path}: changed, but no data-etalage-rule marks what")
                if reply.header("cache-control") != "private, no-store":
                    raise CheckFailed(f"{page.path}: personalized without Cache-Control: private, no-store")
                changed += 1
        if personalized and not changed:
            raise CheckFailed(
                "no recorded page came out personalized: check the rules' pages patterns, the consent cookie "
                "(--consent-cookie) and that the list holds the pages that teach the profile"
            )
        n = len(self.replay.pages)
        return f"{changed} of {n} pages personalized" if personalized else f"all {n} pages as the replay serves them"

    def run_own(self) -> None:
        """The shop's own pages, replayed: nginx direct and as a proxy, Etalage passing through and
        personalizing (all pages in turn, c32 and c1), each page alone, and the default shedding at c64."""
        assert self.replay is not None
        self.log(f"== your pages ({len(self.replay.pages)} recorded, replayed), rules {self.own['rules']}")
        paths = [page.path for page in self.replay.pages]
        script = self.own["script"]
        common = {"group": "own", "page": "own", "origin": "replay", "path": paths[0], "script": script}
        sut_static, sut_proxy, sut_replay = harness.free_port(), harness.free_port(), harness.free_port()
        nginx = self.start_nginx("sut-nginx-own", harness.SUT_CORE, sut_static, sut_proxy, self.replay_port, replay_port=sut_replay)
        for config, port in (("origin", sut_replay), ("nginx-proxy", sut_proxy)):
            self.measure(config=config, port=port, sut=nginx, verify=lambda port=port: self.verify_own(port, {}, False), **common)
        self.registry.stop(nginx)

        rules = Path(self.own["rules"])
        etalage, port, why = self.start_etalage(rules, upstream_port=self.replay_port)
        if etalage is None:
            raise SystemExit(f"Etalage did not start with your rules: {why}")
        try:
            cookie, per_page = self.own_visitor(port)
        except CheckFailed as exc:
            self.log(f"  CHECK FAILED: {exc}")
            cookie, per_page = None, {}
        for page in self.own["pages"]:
            page.update(per_page.get(page["path"], {}))
        self.measure(config="etalage-pass", port=port, sut=etalage, verify=lambda: self.verify_own(port, {}, False), **common)
        if cookie:
            headers = {"Cookie": cookie}
            self.measure(
                config="etalage-pers",
                port=port,
                sut=etalage,
                headers=headers,
                verify=lambda: self.verify_own(port, headers, True),
                **common,
            )
            for page in self.replay.pages:
                fired = per_page.get(page.path, {}).get("rules_fired") or []
                self.measure(
                    group="own-page",
                    config="etalage-pers",
                    port=port,
                    path=page.path,
                    page=page.path,
                    origin="replay",
                    sut=etalage,
                    headers=headers,
                    concurrencies=(32,),
                    verify=lambda fired=fired: f"rules fired: {', '.join(fired) or 'none'}",
                    label="Etalage personalizing, one page",
                )
        self.registry.stop(etalage)
        if not cookie:
            return
        etalage, port, why = self.start_etalage(rules, upstream_port=self.replay_port, shedding=True)
        if etalage is None:
            return
        cookie, _ = self.own_visitor(port)
        headers = {"Cookie": cookie}
        self.measure(
            config="etalage-pers",
            port=port,
            sut=etalage,
            headers=headers,
            verify=lambda: self.verify_own(port, headers, True),
            concurrencies=(32, 64),
            label="Etalage personalizing, default shedding",
            **{**common, "group": "shedding"},
        )
        self.registry.stop(etalage)

    def run_scale(self) -> None:
        """Two workers on Redis against one worker on the embedded store, personalizing, every process of
        the system under test free to use every core (wrk and the origin stay on core 1)."""
        cores = f"0-{(os.cpu_count() or 2) - 1}"
        self.log(f"== scale: Etalage personalizing on cores {cores}, one worker (embedded store) and two workers on Redis")
        redis_bin = shutil.which("redis-server")
        origins = ("cached",) if self.args.quick else ("cached", "shop")
        configs = [(1, False), (2, True)] if self.args.quick else [(1, False), (1, True), (2, True)]
        for workers, on_redis in configs:
            label = f"Etalage personalizing, {workers} worker{'s' if workers > 1 else ''}, {'Redis' if on_redis else 'embedded store'}"
            extra = {"workers": workers, "store": "redis" if on_redis else "embedded", "rules": 20, "client": self.client}
            redis_proc = None
            redis_url = ""
            if on_redis:
                if not redis_bin:
                    self.log("  not available: redis-server is not installed (apt-get install redis-server)")
                    self.na(
                        group="scale",
                        config="etalage-pers",
                        why="redis-server not installed",
                        origins=origins,
                        concurrencies=(32,),
                        **extra,
                    )
                    continue
                redis_port = harness.free_port()
                redis_proc = self.registry.start(
                    "redis",
                    [
                        redis_bin,
                        "--port",
                        str(redis_port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(self.work),
                    ],
                    core=cores,
                )
                redis_url = f"redis://127.0.0.1:{redis_port}/0"
            etalage, port, why = self.start_etalage(20, workers=workers, redis_url=redis_url, core=cores)
            if etalage is None:
                self.na(group="scale", config="etalage-pers", why=why or "", origins=origins, concurrencies=(32,), **extra)
            else:
                sut = harness.Group([etalage, *([redis_proc] if redis_proc else [])])
                cookie = self.establish_visitor(port)
                for origin in origins:
                    self.measure(
                        group="scale",
                        config="etalage-pers",
                        port=port,
                        path=self.path("100k", origin),
                        page="100k",
                        origin=origin,
                        sut=sut,
                        headers={"Cookie": cookie},
                        expect_rules=pages.MAIN_RULE_IDS,
                        concurrencies=(32,) if self.args.quick or origin != "cached" else (32, 1),
                        label=label,
                        **extra,
                    )
                self.registry.stop(etalage)
            if redis_proc:
                self.registry.stop(redis_proc)

    def run_rules(self) -> None:
        self.log("== rule count: 1 and 200 rules (20 is in the main matrix)")
        for count in (200,) if self.args.quick else (1, 200):
            etalage, port, why = self.start_etalage(count)
            if etalage is None:
                self.na(group="rules", config="etalage-pers", why=why, rules=count, client=self.client)
                continue
            cookie = self.establish_visitor(port)
            expect = ("popular-by-interest",) if count == 1 else pages.MAIN_RULE_IDS
            for origin in ("cached", "per-request"):
                concurrencies = (32,) if origin != "cached" or self.args.quick else (32, 1)
                self.measure(
                    group="rules",
                    config="etalage-pers",
                    port=port,
                    path=self.path("100k", origin),
                    page="100k",
                    origin=origin,
                    sut=etalage,
                    headers={"Cookie": cookie},
                    expect_rules=expect,
                    rules=count,
                    client=self.client,
                    concurrencies=concurrencies,
                    label=f"Etalage personalizing, {count} rule(s)",
                )
            self.registry.stop(etalage)

    def run_clients(self) -> None:
        self.log("== upstream clients: Etalage with ETALAGE_UPSTREAM_CLIENT, and a bare proxy per client")
        concurrencies = (32,) if self.args.quick else (32, 1)
        for client in [c for c in CLIENTS if c != self.client]:
            etalage, port, why = self.start_etalage(20, client)
            if etalage is None:
                why = f"etalage serve refused ETALAGE_UPSTREAM_CLIENT={client}: {why.splitlines()[-1] if why else ''}"
                self.log(f"  not available: {why}")
                for config in ("etalage-pass", "etalage-pers"):
                    self.na(group="clients", config=config, why=why, client=client, rules=20, concurrencies=concurrencies)
                self.na(
                    group="clients", config="etalage-pers", why=why, client=client, rules=20, concurrencies=(32,), origins=("per-request",)
                )
                continue
            cookie = self.establish_visitor(port)
            get(port, "/list/100k")
            loaded = [m for m in ("aiohttp", "httpx_aiohttp") if any(f"/{m}/" in line for line in self.maps(etalage))]
            if "aiohttp" not in loaded:
                why = (
                    f"etalage serve accepted ETALAGE_UPSTREAM_CLIENT={client} but never loaded aiohttp "
                    "(its upstream is still httpx), so there is nothing different to measure"
                )
                self.log(f"  not available: {why}")
                for config in ("etalage-pass", "etalage-pers"):
                    self.na(group="clients", config=config, why=why, client=client, rules=20, concurrencies=concurrencies)
                self.na(
                    group="clients", config="etalage-pers", why=why, client=client, rules=20, concurrencies=(32,), origins=("per-request",)
                )
                self.registry.stop(etalage)
                continue
            self.measure(
                group="clients",
                config="etalage-pass",
                port=port,
                path="/list/100k",
                page="100k",
                origin="cached",
                sut=etalage,
                client=client,
                rules=20,
                concurrencies=concurrencies,
                label=f"Etalage pass-through, {client}",
            )
            self.measure(
                group="clients",
                config="etalage-pers",
                port=port,
                path="/list/100k",
                page="100k",
                origin="cached",
                sut=etalage,
                headers={"Cookie": cookie},
                expect_rules=pages.MAIN_RULE_IDS,
                client=client,
                rules=20,
                concurrencies=concurrencies,
                label=f"Etalage personalizing, {client}",
            )
            self.measure(
                group="clients",
                config="etalage-pers",
                port=port,
                path="/dyn/list/100k",
                page="100k",
                origin="per-request",
                sut=etalage,
                headers={"Cookie": cookie},
                expect_rules=pages.MAIN_RULE_IDS,
                client=client,
                rules=20,
                concurrencies=(32,),
                label=f"Etalage personalizing, {client}",
            )
            self.registry.stop(etalage)
        for client in CLIENTS:
            peer, port = self.start_peer("bare_proxy", {"PEER_CLIENT": client}, name=f"bare-proxy-{client}")
            self.measure(
                group="clients",
                config="bare",
                port=port,
                path="/list/100k",
                page="100k",
                origin="cached",
                sut=peer,
                client=client,
                concurrencies=(32,),
                label=f"bare streaming proxy, {client}",
            )
            self.registry.stop(peer)

    @staticmethod
    def maps(proc: harness.Proc) -> list[str]:
        lines = []
        for pid in proc.pids():
            try:
                lines += Path(f"/proc/{pid}/maps").read_text().splitlines()
            except OSError:
                pass
        return lines

    def run_soak(self, minutes: float) -> None:
        self.log(f"== soak: Etalage personalizing, per-request-different 100 KB pages, c32 for {minutes:g} min")
        etalage, port, why = self.start_etalage(20)
        if etalage is None:
            self.soak = {"status": "not available", "note": why}
            return
        cookie = self.establish_visitor(port)
        path = self.path("100k", "per-request")
        try:
            self.check("etalage-pers", port, path, "100k", "per-request", {"Cookie": cookie}, pages.MAIN_RULE_IDS)
        except CheckFailed as exc:
            self.soak = {"status": "check failed", "note": str(exc)}
            return
        samples: list[tuple[float, int]] = []
        stop = threading.Event()
        interval = 2.0 if minutes >= 1 else 0.5

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((round(time.monotonic() - t0, 1), harness.rss_kib(etalage.pids())))
                stop.wait(interval)

        rss_before = harness.rss_kib(etalage.pids())
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = run_wrk(port, path, 32, minutes * 60, {"Cookie": cookie}, etalage.pids(), self.origin.pids())
        finally:
            stop.set()
            sampler.join()
        self.soak = {
            "status": "ok" if etalage.alive() else "crashed",
            "minutes": minutes,
            "rss_kib_idle_before": rss_before,
            "samples": samples,
            "wrk": result,
            **report.soak_summary(samples),
        }
        self.log(
            f"  {result.get('rps', 0):.0f} req/s; RSS start {self.soak['start_mib']:.1f} MiB, end {self.soak['end_mib']:.1f} MiB, "
            f"max {self.soak['max_mib']:.1f} MiB, slope {self.soak['slope_mib_per_min']:+.2f} MiB/min"
        )
        self.registry.stop(etalage)

    def run_profile(self) -> None:
        pyspy = shutil.which("py-spy", path=str(self.peer_python.parent)) or shutil.which("py-spy")
        if not pyspy:
            self.profile = {"status": "not available", "note": "py-spy is not installed (benchmarks/run --profile installs it)"}
            return
        self.profile = {"status": "ok", "cases": []}
        for origin in ORIGINS:
            etalage, port, why = self.start_etalage(20)
            if etalage is None:
                self.profile = {"status": "not available", "note": why}
                return
            cookie = self.establish_visitor(port)
            path = self.path("100k", origin)
            raw = self.out / f"profile-personalized-{origin}.txt"
            seconds = 4 if self.args.quick else 10
            spy = subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "--pid",
                    str(etalage.pid),
                    "--duration",
                    str(seconds + 1),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            time.sleep(0.5)
            run_wrk(port, path, 32, seconds, {"Cookie": cookie}, etalage.pids(), self.origin.pids())
            try:
                _, err = spy.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(spy.pid, signal.SIGTERM)
                _, err = spy.communicate()
            self.registry.stop(etalage)
            if not raw.exists():
                self.profile["cases"].append({"origin": origin, "status": "failed", "note": err.decode()[-400:]})
                continue
            self.profile["cases"].append({"origin": origin, "status": "ok", "file": raw.name, **report.profile_summary(raw.read_text())})

    @staticmethod
    def path(page: str, origin: str) -> str:
        return ORIGINS[origin] + page

    # -- output -----------------------------------------------------------------------------------------

    def document(self) -> dict:
        own = {k: v for k, v in self.own.items() if k != "script"} or None
        return {"meta": self.meta, "results": self.results, "soak": self.soak, "profile": self.profile, "own": own}

    def collect_meta(self) -> None:
        def out(argv):
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                return (done.stdout + done.stderr).strip()
            except OSError:
                return "not found"

        self.out.mkdir(parents=True, exist_ok=True)
        commit = out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        dirty = out(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "pyproject.toml"])
        if self.etalage_env:
            diff = subprocess.run(["git", "-C", str(REPO), "diff", "HEAD", "--", "src"], capture_output=True).stdout
            (self.out / "etalage-src.diff").write_bytes(diff)
        cpu = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?"
        )
        self.meta = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit + (" + uncommitted changes in src/ (etalage-src.diff)" if dirty else ""),
            "etalage_source": "a copy of src/etalage taken when the run started" if self.etalage_env else "the live src/ tree",
            "machine": f"{os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {platform.platform()}",
            "python": out([str(self.project_python), "--version"]),
            "wrk": out(["wrk", "-v"]).splitlines()[0] if out(["wrk", "-v"]) else "?",
            "nginx": out(["nginx", "-v"]),
            "mode": "quick" if self.args.quick else "full",
            "runs": self.runs,
            "duration_s": self.duration,
            "warmup_s": self.warmup,
            "etalage_client": self.client,
            "etalage_default_client": self.default_client,
            "pinning": f"system under test on core {harness.SUT_CORE}; wrk and the origin on core {harness.LOAD_CORE}",
            "page_bytes": getattr(self, "page_bytes", {}),
        }

    def finish(self) -> None:
        self.meta["elapsed_min"] = round((time.time() - self.started) / 60, 1)
        (self.out / "results.json").write_text(json.dumps(self.document(), indent=1))
        report.write(self.document(), self.out)
        self.log(f"results: {self.out / 'results.md'}, {self.out / 'results.json'}, {self.out / 'results.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs on a subset (smoke-tests the kit in about 2 minutes)")
    parser.add_argument("--soak-minutes", type=float, default=None, help="length of the memory soak (default 10; quick: 0.25; 0 skips)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/<timestamp>/)")
    parser.add_argument("--runs", type=int, help="runs per measurement (default 3; quick 1)")
    parser.add_argument("--duration", type=int, help="seconds per run (default 8; quick 2)")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated groups: main, rules, clients, scale, own (default: all but own; with --record or --pages: own)",
    )
    own = parser.add_argument_group("your own shop's pages (benchmarks/README.md, 'Benchmark your own shop')")
    own.add_argument(
        "--record", type=Path, metavar="URLS", help="a file of URLs of your running shop, one a line: record them, then measure"
    )
    own.add_argument(
        "--pages", type=Path, metavar="DIR", help="a recording to measure (with --record: where to record; default <out>/recorded)"
    )
    own.add_argument("--rules", type=Path, default=REPO / "rules", help="your rules folder (default: the project's rules/, the demo's)")
    own.add_argument(
        "--consent-cookie",
        default=f"OptanonConsent={CONSENT}",
        help="the Cookie header that gives consent on your shop (default: a OneTrust cookie with groups C0001 and C0004)",
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        help="Etalage's upstream client for the main matrix, rule counts and soak (default: Etalage's own default)",
    )
    parser.add_argument("--profile", action="store_true", help="also sample Etalage with py-spy while personalizing")
    parser.add_argument(
        "--project-python", default=str(REPO / ".venv" / "bin" / "python"), help="python of the project's .venv (runs etalage)"
    )
    parser.add_argument("--live-source", action="store_true", help="run Etalage from the live src/ instead of a copy taken at the start")
    parser.add_argument("--peer-python", default=sys.executable, help="python with the peers' packages (benchmarks/.venv)")
    args = parser.parse_args(argv)
    own_pages = bool(args.record or args.pages)
    if args.only is None:
        args.only = "own" if own_pages else "main,rules,clients,scale"
    if args.soak_minutes is None:
        args.soak_minutes = 0 if own_pages else 0.25 if args.quick else 10
    if args.out is None:
        args.out = HERE / "results" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = args.out.resolve()
    if args.pages and not args.record and not (args.pages / "recording.json").exists():
        raise SystemExit(f"--pages {args.pages}: no recording.json there (record one with --record URLS)")
    args.project_python = str(Path(args.project_python).absolute())
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (benchmarks/run installs it)")
    if os.cpu_count() < 2:
        raise SystemExit("needs at least 2 cores: the system under test on core 0, wrk and the origin on core 1")

    bench = Bench(args)
    groups = {g.strip() for g in args.only.split(",") if g.strip()}
    if "own" in groups and not own_pages:
        raise SystemExit("--only own needs your pages: --record URLS or --pages DIR")

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        bench.collect_meta()
        bench.prepare()
        bench.collect_meta()
        bench.start_origin()
        if "main" in groups:
            bench.run_main()
        if "rules" in groups:
            bench.run_rules()
        if "clients" in groups:
            bench.run_clients()
        if "scale" in groups:
            bench.run_scale()
        if "own" in groups:
            bench.run_own()
        if args.soak_minutes > 0:
            bench.run_soak(args.soak_minutes)
        if args.profile:
            bench.run_profile()
        bench.finish()
    except KeyboardInterrupt:
        print("interrupted; stopping everything", file=sys.stderr)
        return 130
    finally:
        bench.registry.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
