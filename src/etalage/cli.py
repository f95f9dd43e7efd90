"""The `etalage` command: demo, serve, rules check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import logging.config
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict

import httpx
import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG, LifespanType
from uvicorn.supervisors import Multiprocess

from etalage.app import create_app, create_store
from etalage.logs import json_logging
from etalage.metrics import multiprocess_dir
from etalage.profiles.profile import Profile, ProfileDecodeError, profile_from_json
from etalage.profiles.store import StoreError
from etalage.rules.fields import RuleSetError
from etalage.rules.loader import load_rules
from etalage.rules.ruleset import RuleSet
from etalage.settings import LOG_FORMATS, LOG_LEVELS, Settings, SettingsError
from etalage.tokens import PreviewSigner, VisitorSigner
from etalage.tools.blocks import check_pages, render_table
from etalage.tools.explain import explain, profile_from_options, with_variants

__all__ = ["main"]

_LOG_FORMAT_HELP = "text (default), or json: one JSON object per line with the request id, access log included (ETALAGE_LOG_FORMAT)"

_PROJECT_RULES = Path(__file__).resolve().parents[2] / "rules"


def _default_rules() -> Path:
    """The folder `serve` would load: ETALAGE_RULES_DIR, else ./rules, else (in a checkout) the project's rules/."""
    if "ETALAGE_RULES_DIR" in os.environ:
        return Path(os.environ["ETALAGE_RULES_DIR"])
    here = Path("rules")
    return _PROJECT_RULES if not here.is_dir() and _PROJECT_RULES.is_dir() else here


_RULES_DEFAULT = "default: ETALAGE_RULES_DIR, else ./rules, else the project's rules/"


class _UvicornOptions(TypedDict):
    lifespan: LifespanType
    server_header: bool
    date_header: bool
    proxy_headers: bool
    access_log: bool
    log_level: str
    log_config: dict[str, Any]


def _uvicorn(settings: Settings) -> _UvicornOptions:
    """Etalage forwards the origin's own Date and Server headers, and handles X-Forwarded-* itself.
    JSON logs include uvicorn's access log (a line per request, with its id); text logs keep uvicorn's own lines, without it."""
    json_logs = settings.log_format == "json"
    return {
        "lifespan": "on",
        "server_header": False,
        "date_header": False,
        "proxy_headers": False,
        "access_log": json_logs,
        "log_level": settings.log_level,
        "log_config": json_logging(settings.log_level) if json_logs else LOGGING_CONFIG,
    }


def _server(app: ASGIApp, host: str, port: int, settings: Settings) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, **_uvicorn(settings)))


def _demo_secret(state_dir: Path) -> str:
    """A signing key kept in the demo's state folder, so visitor cookies survive a restart."""
    path = state_dir / "secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def _cmd_demo(args: argparse.Namespace) -> int:
    from etalage.demo.shop import create_shop_app

    environ = dict(os.environ)
    environ.setdefault("ETALAGE_SECRET", _demo_secret(Path(args.state_dir)))
    # The demo's visitors keep their profiles across restarts (the embedded store saves them here).
    environ.setdefault("ETALAGE_PROFILES_FILE", str(Path(args.state_dir) / "profiles.json"))
    settings = Settings.from_env(
        environ,
        upstream=f"http://127.0.0.1:{args.shop_port}",
        rules_dir=Path(args.rules),
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        log_format=args.log_format,
    )
    app = create_app(settings)
    shop = _server(create_shop_app(), "127.0.0.1", args.shop_port, settings)
    proxy = _server(app, settings.host, settings.port, settings)
    print(f"Demo shop (the origin):   http://127.0.0.1:{args.shop_port}/")
    print(f"Etalage in front of it:   http://{settings.host}:{settings.port}/")
    print("Accept the cookie banner, browse /c/rodents three times, then open / through Etalage. Ctrl-C stops both.")

    async def run() -> None:
        await asyncio.gather(shop.serve(), proxy.serve())

    asyncio.run(run())
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    flags = {
        "upstream": args.upstream,
        "rules_dir": Path(args.rules) if args.rules else None,
        "host": args.host,
        "port": args.port,
        "redis_url": args.redis_url,
        "workers": args.workers,
        "log_format": args.log_format,
        "webhook_url": args.webhook_url,
    }
    settings = Settings.from_env(os.environ, **flags)
    # Automatic: one per core with Redis; the embedded store's profiles live in one process.
    workers = settings.workers or ((os.cpu_count() or 1) if settings.redis_url else 1)
    if workers > 1 and not settings.redis_url:
        raise SettingsError("workers: the embedded profile store lives in one process; give --redis-url to run several workers")
    app = create_app(settings)  # fails fast here, in the parent, on bad settings or rules
    started = f"Etalage on http://{settings.host}:{settings.port}/ in front of {settings.upstream_origin} ({workers} worker(s))"
    if settings.log_format == "json":  # log collectors read every line of a container's output as JSON then
        logging.getLogger("etalage").info(started)
    else:
        print(started)
    if workers == 1:
        # run(), not asyncio.run(serve()): it sets up uvicorn's event loop (uvloop when installed), as the workers get.
        _server(app, settings.host, settings.port, settings).run()
        return 0
    # Worker processes build their own app from the environment: hand the flags over there.
    for name, value in flags.items():
        if value is not None:
            os.environ[f"ETALAGE_{name.upper()}"] = str(value)
    with _metrics_folder():
        config = uvicorn.Config(
            "etalage.app:create_app_from_env", factory=True, workers=workers, host=settings.host, port=settings.port, **_uvicorn(settings)
        )
        _Workers(config, sockets=[config.bind_socket()]).run()
    return 0


class _Workers(Multiprocess):
    """uvicorn's worker supervisor (what uvicorn.run starts for several workers), but it stops listening
    before the workers drain: uvicorn's kept the listening socket open in the parent meanwhile, so a new
    connection waited in the backlog for the whole drain and then got a reset, where one worker refuses
    it at once and a load balancer tries another instance."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


@contextlib.contextmanager
def _metrics_folder() -> Iterator[None]:
    """The folder the workers share their metrics through (prometheus-client's multiprocess mode), set
    before they start so each one's prometheus-client writes there. One the operator names in
    PROMETHEUS_MULTIPROC_DIR is emptied first (values of an earlier run would be summed in); one made
    here is removed at the end."""
    given = multiprocess_dir()
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="etalage-metrics-"))
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def _quiet_fetches() -> None:
    """The report of `rules explain` and `rules check --against` says which pages were fetched:
    httpx's line per request would only be noise between its lines on the terminal."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _cmd_rules_check(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    _quiet_fetches()
    try:
        ruleset = load_rules(directory)
    except RuleSetError as exc:
        if args.format == "json":
            print(json.dumps({"ok": False, "problems": [dataclasses.asdict(p) for p in exc.problems]}, indent=2))
        else:
            for problem in exc.problems:
                print(problem)
            print(f"{len(exc.problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    pages = check_pages(ruleset, args.against) if args.against else []
    ok = not any(page.problems for page in pages)
    if args.format == "json":
        report: dict[str, object] = {
            "ok": ok,
            "rules": [rule.id for rule in ruleset.rules],
            "blocks": list(ruleset.blocks),
            "experiments": {
                e.id: {"status": e.status, "version": e.version, "variants": [v.id for v in e.variants], "planned_units": e.planned_units}
                for e in ruleset.experiments
            },
            "holdout": ruleset.site.holdout,
        }
        if args.against:
            report["pages"] = [
                {
                    "url": page.url,
                    "status": page.status,
                    "note": page.note,
                    "blocks": {name: page.cell(name) for name in ruleset.blocks},
                    "problems": page.problems,
                }
                for page in pages
            ]
        print(json.dumps(report, indent=2))
    else:
        print(f"{directory}: OK, {len(ruleset.rules)} rule(s), {len(ruleset.blocks)} block(s)")
        for experiment in ruleset.experiments:
            variants = ", ".join(f"{variant.id} {variant.weight:.0%}" for variant in experiment.variants)
            planned = f", planned {experiment.planned_units:,} units" if experiment.planned_units else ""
            print(f"  experiment {experiment.id} (version {experiment.version}, {experiment.status}{planned}): {variants}")
        if ruleset.site.holdout:
            print(f"  programme holdout: {ruleset.site.holdout:.0%} of consenting visitors")
        if args.against:
            print(render_table(ruleset, pages), end="")
    return 0 if ok else 1


def _profile_from_args(args: argparse.Namespace) -> Profile:
    """The profile a command should assume: a JSON file, a stored visitor, or inline attributes."""
    if args.profile:
        return profile_from_json(Path(args.profile).read_bytes())
    if args.visitor:
        settings = Settings.from_env(os.environ, redis_url=args.redis_url, profiles_file=args.profiles_file)
        if not settings.redis_url and not settings.profiles_file:
            raise SettingsError("--visitor needs --redis-url or --profiles-file to look the visitor up")

        async def lookup() -> Profile | None:
            store = create_store(settings)
            try:
                return await store.load(args.visitor.split(".")[0])
            finally:
                await store.aclose()

        return asyncio.run(lookup()) or Profile()
    return profile_from_options(args.views, args.interest, args.exclude, args.subscribed, args.purchase)


def _with_variants(profile: Profile, ruleset: RuleSet, choices: list[str]) -> Profile:
    try:
        return with_variants(profile, ruleset, choices)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc


def _cmd_rules_explain(args: argparse.Namespace) -> int:
    folder = Path(args.rules) if args.rules else _default_rules()
    if not args.rules:  # say which folder explains, when none was named
        print(f"etalage: the rules in {folder}", file=sys.stderr)
    ruleset = load_rules(folder)
    profile = _with_variants(_profile_from_args(args), ruleset, args.variant)
    _quiet_fetches()
    status, printed = 0, False
    for url in args.url:
        # One report per page, for the same visitor, a blank line between them; a page that
        # cannot be fetched does not keep the others from being explained.
        try:
            report = explain(url, ruleset, profile, user_agent=args.user_agent)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            print(f"etalage: could not fetch {url}: {exc}", file=sys.stderr)
            status = 2
            continue
        print(("\n" if printed else "") + report.render(profile), end="")
        printed = True
    return status


def _preview_refusal(base_url: str, admin_token: str) -> str | None:
    """Why the Etalage at `base_url` would refuse links signed with this token, if it answers and would:
    a link it cannot open is found out here, not in the marketer's browser."""
    try:
        status = httpx.get(f"{base_url}/.etalage/admin/rules", headers={"Authorization": f"Bearer {admin_token}"}, timeout=5).status_code
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        print(f"etalage: could not reach {base_url} to check the admin token ({exc}); the link may not open", file=sys.stderr)
        return None
    if status == 404:
        return f"admin_token: the Etalage at {base_url} has no ETALAGE_ADMIN_TOKEN, so it opens no preview link; set it there"
    if status == 401:
        return f"admin_token: the Etalage at {base_url} has another ETALAGE_ADMIN_TOKEN; its links are signed with that one"
    return None


def _cmd_rules_preview(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    if not settings.admin_token:
        raise SettingsError("admin_token: previews are signed with ETALAGE_ADMIN_TOKEN; set it (the same value as the running Etalage)")
    profile = _profile_from_args(args)
    if args.variant:
        profile = _with_variants(profile, load_rules(Path(args.rules)), args.variant)
    base_url = args.base_url.rstrip("/")
    if refusal := _preview_refusal(base_url, settings.admin_token):
        raise SettingsError(refusal)
    token = PreviewSigner(settings.admin_token).issue(profile.to_dict(), time.time() + args.hours * 3600)
    print(f"{base_url}/.etalage/preview?token={token}")
    print(f"Valid for {args.hours:g} hour(s) in the browser that opens it; end it at /.etalage/preview/end.", file=sys.stderr)
    return 0


def _profile_arguments(parser: argparse.ArgumentParser) -> None:
    given = parser.add_argument_group("the visitor to assume (default: a new visitor)")
    given.add_argument("--profile", help="a JSON file with profile fields (as /.etalage/me.json shows them)")
    given.add_argument("--visitor", help="a visitor id (or its cookie value) to look up in the store")
    given.add_argument("--redis-url", help="with --visitor: the Redis holding the profiles")
    given.add_argument("--profiles-file", help="with --visitor: the embedded store's file")
    given.add_argument("--views", action="append", default=[], metavar="CATEGORY=N", help="category views, e.g. rodents=3")
    given.add_argument("--interest", action="append", default=[], metavar="CATEGORY", help="an interest the visitor chose")
    given.add_argument("--exclude", action="append", default=[], metavar="CATEGORY", help="a category the visitor excluded")
    given.add_argument("--subscribed", action="append", default=[], metavar="CATEGORY", help="a newsletter the visitor has")
    given.add_argument("--purchase", action="append", default=[], metavar="SKU[@DAYS_AGO]", help="a purchase, e.g. dog-kibble-5kg@27")
    given.add_argument(
        "--variant", action="append", default=[], metavar="EXPERIMENT=VARIANT", help="put the visitor in an experiment's variant"
    )


def _store_settings(args: argparse.Namespace, command: str, hint: str = "", **flags: Any) -> Settings:
    """Settings for an offline command on the profile store its flags name (--profiles-file wins over an
    ETALAGE_REDIS_URL in the environment); SettingsError when they name none."""
    chosen = {"redis_url": "" if args.profiles_file else args.redis_url, "profiles_file": args.profiles_file, **flags}
    settings = Settings.from_env(os.environ, **chosen)
    if not settings.redis_url and not settings.profiles_file:
        raise SettingsError(f"{command}: give --redis-url (ETALAGE_REDIS_URL) or --profiles-file (ETALAGE_PROFILES_FILE){hint}")
    return settings


def _cmd_report(args: argparse.Namespace) -> int:
    from etalage.engine.results import ExperimentResult, as_json, render, results

    ruleset = load_rules(Path(args.rules))
    settings = _store_settings(args, "report", ", where the profiles are")

    async def add_up() -> list[ExperimentResult]:
        store = create_store(settings)
        try:
            return await results(ruleset, store.every_profile())
        finally:
            await store.aclose()

    found = asyncio.run(add_up())
    print(json.dumps(as_json(found), indent=2) if args.format == "json" else render(found))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from etalage.tools.simulate import Options, SimulationError, simulate

    settings = Settings.from_env(os.environ)
    if not settings.admin_token:
        raise SettingsError("simulate: the results are read with the admin token; set ETALAGE_ADMIN_TOKEN (the running Etalage's)")
    options = Options(
        args.base_url.rstrip("/"),
        settings.admin_token,
        visitors=args.visitors,
        concurrency=args.concurrency,
        base_rate=args.base_rate,
        uplift=args.uplift,
        experiment=args.experiment,
        variant=args.variant,
        goal=args.goal,
        seed=args.seed,
        # With the server's secret the visitor ids come from the seed: a run can be repeated exactly.
        signer=VisitorSigner(settings.secret) if settings.secret else None,
        cookie_name=settings.cookie_name,
    )
    if not 0 < args.base_rate * (1 + args.uplift) <= 1:
        raise SettingsError(f"simulate: --base-rate {args.base_rate} with --uplift {args.uplift} is no probability (between 0 and 1)")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury the result
    try:
        simulation = asyncio.run(simulate(options))
    except SimulationError as exc:
        print(f"etalage simulate: {exc}", file=sys.stderr)
        return 2
    print(simulation.render(), end="")
    return 0 if simulation.target.covers else 1


def _replaced_fields(text: str) -> tuple[str, ...]:
    fields = tuple(dict.fromkeys(field.strip() for field in text.split(",") if field.strip()))
    unknown = [field for field in fields if field not in ("segments", "newsletters")]
    if unknown or not fields:
        raise argparse.ArgumentTypeError(f"--replace takes segments, newsletters or both (comma-separated), not {text!r}")
    return fields


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _cmd_import(args: argparse.Namespace) -> int:
    from etalage.tools.customers.command import run_import
    from etalage.tools.customers.read import ImportFileError, detect_format

    settings = _store_settings(
        args,
        "import",
        ", e.g. --profiles-file .etalage-demo/profiles.json for the demo (an import into memory would vanish at exit)",
        rules_dir=Path(args.rules) if args.rules else None,
    )
    path = Path(args.file)
    try:
        detect_format(path, args.format)
    except ImportFileError as exc:
        raise SettingsError(f"import: {exc}") from None
    ruleset = load_rules(settings.rules_dir if args.rules or "ETALAGE_RULES_DIR" in os.environ else _default_rules())
    # Redis: a bounded number of store calls at once; the embedded store answers without waiting.
    concurrency = 32 if settings.redis_url else 1

    async def run() -> int:
        return await run_import(path, create_store(settings), ruleset, fmt=args.format, concurrency=concurrency, replace=args.replace)

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        print("etalage import: interrupted; the customers written so far are complete, importing the file again is safe", file=sys.stderr)
        return 130


def _cmd_customers(args: argparse.Namespace) -> int:
    """An access (export) or erasure request by customer id, against the store the flags name."""
    from etalage.control.customers import customer_export

    settings = _store_settings(args, f"customers {args.action}")

    async def run() -> dict[str, Any]:
        store = create_store(settings)
        try:
            if args.action == "erase":
                return {"customer_id": args.customer_id, "erased": await store.erase_customer(args.customer_id)}
            return await customer_export(store, load_rules(Path(args.rules)), args.customer_id, time.time())
        finally:
            await store.aclose()

    print(json.dumps(asyncio.run(run()), indent=2, ensure_ascii=False))
    return 0


def _cmd_export_segment(args: argparse.Namespace) -> int:
    """A segment's members for email and ad platforms, from the store the flags name."""
    from etalage.engine.audience import UnknownSegment, audience
    from etalage.tools.export import export_segment

    settings = _store_settings(args, "export segment")
    try:
        segment = audience(load_rules(Path(args.rules)), args.name)
    except UnknownSegment as exc:
        raise SettingsError(f"export segment: {exc}") from None
    asyncio.run(export_segment(create_store(settings), segment, args.format, time.time(), path=Path(args.out) if args.out else None))
    return 0


def _cmd_import_products(args: argparse.Namespace) -> int:
    from etalage.tools.products.command import import_products, parse_mapping

    rules = (
        Path(args.rules) if args.rules else Path(os.environ["ETALAGE_RULES_DIR"]) if "ETALAGE_RULES_DIR" in os.environ else _default_rules()
    )
    try:
        overrides = parse_mapping(args.map)
    except ValueError as exc:
        raise SettingsError(f"import-products: {exc}") from None
    return import_products(Path(args.file), rules, Path(args.out) if args.out else None, overrides=overrides, encoding=args.encoding)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="etalage", description="Consent-first personalization proxy for webshops.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the bundled pet shop with Etalage in front of it")
    demo.add_argument("--port", type=int, default=8000, help="Etalage's port (default 8000)")
    demo.add_argument("--shop-port", type=int, default=8080, help="the demo shop's port (default 8080)")
    demo.add_argument("--host", default="127.0.0.1", help="address Etalage listens on (default 127.0.0.1)")
    demo.add_argument("--rules", default=str(_default_rules()), help=f"rules folder ({_RULES_DEFAULT})")
    demo.add_argument("--state-dir", default=".etalage-demo", help="where the demo keeps its signing key and profiles")
    demo.add_argument("--redis-url", help="keep profiles in Redis (redis://host:port/db) instead of the embedded store")
    demo.add_argument("--log-format", choices=LOG_FORMATS, help=_LOG_FORMAT_HELP)
    demo.set_defaults(handler=_cmd_demo)

    serve = commands.add_parser("serve", help="run Etalage in front of a site")
    serve.add_argument("--upstream", help="the site's URL, e.g. http://127.0.0.1:8080 (ETALAGE_UPSTREAM)")
    serve.add_argument("--rules", help="rules folder (ETALAGE_RULES_DIR, default ./rules)")
    serve.add_argument("--host", help="listen address (ETALAGE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (ETALAGE_PORT, default 8000)")
    serve.add_argument("--redis-url", help="keep profiles in Redis, e.g. redis://127.0.0.1:6379/0 (ETALAGE_REDIS_URL)")
    serve.add_argument("--workers", type=int, help="worker processes (ETALAGE_WORKERS); default: one per core with --redis-url, else 1")
    serve.add_argument("--log-format", choices=LOG_FORMATS, help=_LOG_FORMAT_HELP)
    serve.add_argument(
        "--webhook-url", help="where the rules' triggers are posted (ETALAGE_WEBHOOK_URL; its secret only as ETALAGE_WEBHOOK_SECRET)"
    )
    serve.set_defaults(handler=_cmd_serve)

    rules = commands.add_parser("rules", help="work with rule folders")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate a rules folder; exit 1 with file:line: reason per problem")
    check.add_argument("directory")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument(
        "--against",
        nargs="+",
        metavar="URL",
        help="shop pages to fetch: show which blocks each has, and exit 1 if a rule's block is missing from a page the rule is for",
    )
    check.set_defaults(handler=_cmd_rules_check)

    explaining = rules_commands.add_parser("explain", help="show which rules fire on a page for a given visitor, why, and the HTML diff")
    explaining.add_argument("url", nargs="+", help="the shop pages, e.g. http://127.0.0.1:8080/ (one report each)")
    explaining.add_argument("--rules", help=f"rules folder ({_RULES_DEFAULT})")
    explaining.add_argument("--user-agent", default="Mozilla/5.0 (X11; Linux x86_64) etalage-explain", help="the visitor's browser")
    _profile_arguments(explaining)
    explaining.set_defaults(handler=_cmd_rules_explain)

    previewing = rules_commands.add_parser("preview", help="print an admin-signed link that shows the shop as a given visitor would see it")
    previewing.add_argument("base_url", help="where Etalage is reached, e.g. http://127.0.0.1:8000")
    previewing.add_argument("--hours", type=float, default=8, help="how long the link works (default 8)")
    previewing.add_argument("--rules", default=str(_default_rules()), help=f"with --variant: the rules folder ({_RULES_DEFAULT})")
    _profile_arguments(previewing)
    previewing.set_defaults(handler=_cmd_rules_preview)

    reporting = commands.add_parser("report", help="each experiment's results per variant and goal, from the stored profiles")
    reporting.add_argument("--rules", default=str(_default_rules()), help=f"rules folder ({_RULES_DEFAULT})")
    reporting.add_argument("--redis-url", help="the Redis holding the profiles (ETALAGE_REDIS_URL)")
    reporting.add_argument("--profiles-file", help="the embedded store's file (ETALAGE_PROFILES_FILE); it is saved every 30 s")
    reporting.add_argument("--format", choices=("text", "json"), default="text")
    reporting.set_defaults(handler=_cmd_report)

    simulating = commands.add_parser(
        "simulate",
        help="drive simulated visitors through a running Etalage with a known true uplift, and check the report finds it",
        description="Simulated visitors, each with its own cookies, accept the consent banner, browse, see their variant and\n"
        "order through the shop's checkout with a probability that depends on it; then the report's 95% interval\n"
        "for the variant under test is checked against the true uplift. Needs ETALAGE_ADMIN_TOKEN (to read the\n"
        "results); with ETALAGE_SECRET (the server's) the visitor ids come from --seed and a run repeats exactly.\n"
        "Exit status: 0 the interval covers the true uplift, 1 it does not, 2 the simulation could not run.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    simulating.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000", help="Etalage's address (default: the demo's)")
    simulating.add_argument("--visitors", type=_positive_int, default=2000, help="how many visitors (default 2000)")
    simulating.add_argument("--concurrency", type=_positive_int, default=16, help="visitors at once (default 16)")
    simulating.add_argument("--base-rate", type=_share, default=0.2, help="every variant's true order rate (default 0.2)")
    simulating.add_argument("--uplift", type=float, default=0.25, help="the tested variant's true relative uplift (default 0.25: +25%%)")
    simulating.add_argument("--experiment", help="the experiment (default: the first in the rules)")
    simulating.add_argument("--variant", help="the variant with the uplift (default: the experiment's second)")
    simulating.add_argument("--goal", default="order", help="the goal that orders reach (default: order)")
    simulating.add_argument("--seed", type=int, default=1, help="the visitors' random choices (default 1)")
    simulating.set_defaults(handler=_cmd_simulate)

    from etalage.tools.customers import __doc__ as import_doc

    importing = commands.add_parser(
        "import",
        help="load customers (segments, newsletters, purchases) from a CRM export into the profile store",
        description="Load customers from a CSV or JSON Lines file into the profile store.\n"
        "Bad rows are reported as FILE:LINE: reason while the good ones load. Exit status:\n"
        "0 all loaded, 1 some rows were bad (the others loaded), 2 the file or the store failed.",
        epilog=(import_doc or "").split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importing.add_argument("file", help="the export: .csv, or .jsonl / .ndjson")
    importing.add_argument(
        "--rules",
        help=f"rules folder whose categories and catalog the file is checked against ({_RULES_DEFAULT})",
    )
    target = importing.add_mutually_exclusive_group()
    target.add_argument("--redis-url", help="import into Redis, e.g. redis://127.0.0.1:6379/0 (ETALAGE_REDIS_URL); safe while Etalage runs")
    target.add_argument(
        "--profiles-file", help="import into the embedded store's file (ETALAGE_PROFILES_FILE); not while Etalage runs on it"
    )
    importing.add_argument("--format", choices=("csv", "jsonl"), help="the file's format (default: from its extension)")
    importing.add_argument(
        "--replace",
        type=_replaced_fields,
        default=(),
        metavar="segments,newsletters",
        help="these lists replace the customer's instead of adding to them (a customer dropped from a CRM group loses it)",
    )
    importing.set_defaults(handler=_cmd_import)

    customers = commands.add_parser(
        "customers",
        help="export or erase everything kept about a customer id (GDPR access and erasure requests)",
        description="export: the customer's profile and linked devices as JSON, in the shape of the visitor's own export.\n"
        "erase: the customer's profile and every link from a device to it; a linked device gets a fresh\n"
        "anonymous profile afterwards. The embedded store's file: not while Etalage runs on it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    customers.add_argument("action", choices=("export", "erase"))
    customers.add_argument("customer_id", help="the shop's customer id, as its login announces it")
    customers.add_argument("--rules", default=str(_default_rules()), help=f"rules folder, for the export's words ({_RULES_DEFAULT})")
    customer_target = customers.add_mutually_exclusive_group()
    customer_target.add_argument("--redis-url", help="the Redis holding the profiles (ETALAGE_REDIS_URL); safe while Etalage runs")
    customer_target.add_argument("--profiles-file", help="the embedded store's file (ETALAGE_PROFILES_FILE); not while Etalage runs on it")
    customers.set_defaults(handler=_cmd_customers)

    from etalage.engine.audience import __doc__ as audience_doc

    exporting = commands.add_parser("export", help="export data for other tools")
    exports = exporting.add_subparsers(dest="export_command", required=True)
    segment = exports.add_parser(
        "segment",
        help="a segment's members (customer ids of customers who consented) for email and ad platforms",
        description="Write the customer ids of a segment's members as CSV or JSON Lines; a summary goes to stderr.",
        epilog=(audience_doc or "").split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    segment.add_argument(
        "name", help="customers (built in: at least one order), crm:<name> (a CRM segment) or a [segments.<name>] of the rules"
    )
    segment.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="csv (a customer_id column, the default) or jsonl")
    segment.add_argument("--out", help="the file to write, whole or not at all (default: standard output)")
    segment.add_argument("--rules", default=str(_default_rules()), help=f"rules folder, for its segments ({_RULES_DEFAULT})")
    export_source = segment.add_mutually_exclusive_group()
    export_source.add_argument("--redis-url", help="the Redis holding the profiles (ETALAGE_REDIS_URL); safe while Etalage runs")
    export_source.add_argument("--profiles-file", help="the embedded store's file (ETALAGE_PROFILES_FILE); it is saved every 30 s")
    segment.set_defaults(handler=_cmd_export_segment)

    from etalage.tools.products import __doc__ as feeds_doc

    products = commands.add_parser(
        "import-products",
        help="write the shop's product catalogue (category and page of each product) from its Google Merchant Center feed",
        description="Write the product catalogue as a rule file from a product feed (CSV/TSV or RSS/Atom XML).\n"
        "Problems are reported as FILE:LINE: reason. Exit status: 0 written, 1 written with\n"
        "problems (unmapped products, bad rows), 2 nothing written.",
        epilog=(feeds_doc or "").split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    products.add_argument("file", help="the feed: .txt/.tsv/.csv, or RSS / Atom .xml (gzip-compressed is fine)")
    products.add_argument(
        "--rules",
        help=f"rules folder: its categories, [catalog_feed] mapping and [catalog] ({_RULES_DEFAULT})",
    )
    products.add_argument("--out", help="the rule file to write (default: catalog-feed.toml in the rules folder)")
    products.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TEXT=CATEGORY",
        help="map a feed category to a site category, e.g. 'Dog Supplies=dogs' (wins over [catalog_feed])",
    )
    products.add_argument("--encoding", help="the feed's text encoding when it is not UTF-8 and does not say, e.g. latin-1")
    products.set_defaults(handler=_cmd_import_products)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Log records go to stderr, never into a command's output (a report, JSON for CI).
    level = os.environ.get("ETALAGE_LOG_LEVEL", "info")
    if level not in LOG_LEVELS:
        print(f"etalage: ETALAGE_LOG_LEVEL: {level!r} is not one of {', '.join(LOG_LEVELS)}", file=sys.stderr)
        return 2
    logging.addLevelName(5, "TRACE")  # uvicorn's level below DEBUG, named as uvicorn names it
    if (getattr(args, "log_format", None) or os.environ.get("ETALAGE_LOG_FORMAT")) == "json":
        logging.config.dictConfig(json_logging(level))
    else:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    handler: Callable[[argparse.Namespace], int] = args.handler  # set_defaults(handler=_cmd_...) on each command
    try:
        return handler(args)
    except (SettingsError, RuleSetError, StoreError, ProfileDecodeError, OSError) as exc:
        print(f"etalage: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
