"""The `etalage` command as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import uvicorn
import uvloop

from etalage.app import create_app
from etalage.cli import _default_rules, main
from etalage.tokens import PreviewSigner
from tests.support.config import ACCEPT_ONETRUST, PROJECT_RULES, REPO, RULESETS, settings_for
from tests.support.servers import closed_port_url, running

BAD = RULESETS / "bad"


def test_cli_rules_check_accepts_the_project_rules(capsys):
    assert main(["rules", "check", str(PROJECT_RULES)]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_rules_check_lists_experiments_and_the_holdout(capsys):
    assert main(["rules", "check", str(PROJECT_RULES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "  experiment hero-banner (version 1, running, planned 6,000 units): per-category 33%, one-template 33%, none 33%",
        "  programme holdout: 5% of consenting visitors",
    ]
    main(["rules", "check", "--format", "json", str(PROJECT_RULES)])
    report = json.loads(capsys.readouterr().out)
    assert report["experiments"]["hero-banner"]["variants"] == ["per-category", "one-template", "none"] and report["holdout"] == 0.05
    assert report["experiments"]["hero-banner"]["planned_units"] == 6000


def test_cli_rules_check_lists_problems_and_fails(capsys):
    assert main(["rules", "check", str(BAD / "typo-key")]) == 1
    assert capsys.readouterr().out.splitlines() == (BAD / "typo-key" / "expected.txt").read_text().splitlines()


def test_cli_rules_check_json_output(capsys):
    main(["rules", "check", "--format", "json", str(BAD / "typo-key")])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"][1] == {
        "file": "typo-key/site.toml",
        "line": 10,
        "message": "rule 'hero': unknown key 'blok'",
        "hint": "did you mean 'block'?",
    }


def test_cli_serve_refuses_to_start_without_a_secret(capsys, monkeypatch):
    monkeypatch.delenv("ETALAGE_SECRET", raising=False)
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--rules", str(PROJECT_RULES)]) == 2
    assert "ETALAGE_SECRET" in capsys.readouterr().err


def test_cli_refuses_an_unknown_log_level_with_one_line(capsys, monkeypatch):
    # It was a traceback: logging was set up before any setting was checked.
    monkeypatch.setenv("ETALAGE_LOG_LEVEL", "verbose")
    assert main(["rules", "check", str(PROJECT_RULES)]) == 2
    assert capsys.readouterr().err == "etalage: ETALAGE_LOG_LEVEL: 'verbose' is not one of critical, error, warning, info, debug, trace\n"


def test_cli_serve_refuses_a_broken_rules_folder(capsys, monkeypatch):
    monkeypatch.setenv("ETALAGE_SECRET", "0123456789abcdef0123")
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--rules", str(BAD / "typo-key")]) == 2
    assert "typo-key/site.toml:10" in capsys.readouterr().err


def test_cli_serve_runs_on_uvicorns_event_loop(monkeypatch):
    # One worker used to run on asyncio's default loop while several got uvloop.
    loops: list[str] = []

    async def serve(self: uvicorn.Server, sockets: object = None) -> None:
        loops.append(type(asyncio.get_running_loop()).__module__)

    monkeypatch.setenv("ETALAGE_SECRET", "0123456789abcdef0123")
    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--rules", str(PROJECT_RULES), "--workers", "1"]) == 0
    assert loops == [uvloop.Loop.__module__]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_demo_serves_the_shop_through_etalage(tmp_path):
    port, shop_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "etalage", "demo", "--port", str(port), "--shop-port", str(shop_port), "--state-dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as demo:
        try:
            # uvicorn logs one "running on" line per server once it accepts connections.
            seen, output = 0, []
            for line in demo.stdout:  # type: ignore[union-attr]
                output.append(line)
                seen += "Uvicorn running on" in line
                if seen == 2:
                    break
            text = "".join(output)
            assert f"http://127.0.0.1:{shop_port}/" in text and f"http://127.0.0.1:{port}/" in text
            response = httpx.get(f"http://127.0.0.1:{port}/", cookies={"OptanonConsent": ACCEPT_ONETRUST})
            assert response.status_code == 200 and "Pootjes" in response.text
            assert re.match(r"etalage_vid=[\w-]{22}\.[\w-]+;", response.headers["set-cookie"])
        finally:
            demo.terminate()
            demo.wait(timeout=30)


def test_cli_serve_refuses_several_workers_on_the_embedded_store(capsys, monkeypatch):
    monkeypatch.setenv("ETALAGE_SECRET", "0123456789abcdef0123")
    assert main(["serve", "--upstream", "http://127.0.0.1:9", "--rules", str(PROJECT_RULES), "--workers", "2"]) == 2
    assert "--redis-url" in capsys.readouterr().err


def test_cli_rules_explain_prints_rules_and_the_diff(shop, capsys):
    assert main(["rules", "explain", f"{shop}/", "--rules", str(PROJECT_RULES), "--views", "rodents=3"]) == 0
    out = capsys.readouterr().out
    assert "fired   hero-by-interest" in out and "+" in out and "Small pets" in out


def test_cli_rules_check_against_shows_the_blocks_of_each_page(shop, capsys):
    assert main(["rules", "check", str(PROJECT_RULES), "--against", f"{shop}/", f"{shop}/c/dogs"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  hero +found +not found$", out, re.MULTILINE) and "no problems" in out


def test_cli_rules_check_against_fails_when_a_rule_misses_its_block(shop, capsys, tmp_path):
    (tmp_path / "site.toml").write_text(
        '[site]\ncategories = { dogs = "Dogs" }\n[blocks.hero]\nselector = "#hero"\n'
        '[[rule]]\nid = "category-hero"\naction = "hide"\nblock = "hero"\npages = [\'^/c/\']\n'
    )
    assert main(["rules", "check", str(tmp_path), "--format", "json", "--against", f"{shop}/c/dogs"]) == 1
    (page,) = json.loads(capsys.readouterr().out)["pages"]
    assert page["blocks"] == {"hero": "not found"}
    assert page["problems"] == ["rule 'category-hero' changes block 'hero', which is not on this page: hero: selector matched nothing"]


def test_cli_rules_explain_reports_on_each_page(shop, capsys):
    assert main(["rules", "explain", f"{shop}/", f"{shop}/c/dogs", "--rules", str(PROJECT_RULES), "--views", "rodents=3"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^GET (\S+) -> 200$", out, re.MULTILINE) == [f"{shop}/", f"{shop}/c/dogs"]


def test_cli_rules_explain_goes_on_past_a_page_it_cannot_fetch(shop, capsys):
    gone = closed_port_url() + "/"
    assert main(["rules", "explain", gone, f"{shop}/", "--rules", str(PROJECT_RULES)]) == 2
    captured = capsys.readouterr()
    assert f"could not fetch {gone}" in captured.err and captured.out.startswith(f"GET {shop}/ -> 200")


def test_cli_rules_explain_prints_no_log_lines(shop):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    env.pop("ETALAGE_LOG_LEVEL", None)  # the default, info, where httpx logs each request
    command = [sys.executable, "-m", "etalage", "rules", "explain", f"{shop}/", "--rules", str(PROJECT_RULES)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith(f"GET {shop}/ -> 200\n")
    assert (" INFO " not in result.stdout, result.stderr) == (True, "")


def test_cli_rules_preview_prints_a_signed_link(capsys, monkeypatch):
    monkeypatch.setenv("ETALAGE_ADMIN_TOKEN", "admin-token-for-tests")
    url = closed_port_url()  # no Etalage answers to check the token: the link is printed all the same, with a warning
    assert main(["rules", "preview", url, "--views", "rodents=3"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{url}/.etalage/preview?token=") and "could not reach" in err


def test_cli_rules_preview_refuses_a_token_the_running_etalage_does_not_have(shop, capsys, monkeypatch):
    # The link would only say "invalid or expired preview link" in the marketer's browser.
    monkeypatch.setenv("ETALAGE_ADMIN_TOKEN", "another-admin-token-0123")
    with running(create_app(settings_for(shop, PROJECT_RULES, admin_token="admin-token-for-tests"))) as url:
        assert main(["rules", "preview", url, "--views", "rodents=3"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "has another ETALAGE_ADMIN_TOKEN" in err


def test_cli_rules_preview_checks_the_token_with_the_running_etalage(shop, capsys, monkeypatch):
    monkeypatch.setenv("ETALAGE_ADMIN_TOKEN", "admin-token-for-tests")
    with running(create_app(settings_for(shop, PROJECT_RULES, admin_token="admin-token-for-tests"))) as url:
        assert main(["rules", "preview", url]) == 0
    assert capsys.readouterr().out.startswith(f"{url}/.etalage/preview?token=")


def test_cli_rules_preview_needs_the_admin_token(capsys, monkeypatch):
    monkeypatch.delenv("ETALAGE_ADMIN_TOKEN", raising=False)
    assert main(["rules", "preview", "http://127.0.0.1:8000"]) == 2
    assert "ETALAGE_ADMIN_TOKEN" in capsys.readouterr().err


def test_cli_rules_explain_shows_the_variant_asked_for(shop, capsys):
    args = ["rules", "explain", f"{shop}/", "--rules", str(PROJECT_RULES), "--views", "rodents=3"]
    assert main([*args, "--variant", "hero-banner=one-template"]) == 0
    out = capsys.readouterr().out
    assert "fired   hero-one-template" in out and "experiment 'hero-banner' shows this visitor variant 'one-template'" in out


def test_cli_rules_explain_refuses_an_unknown_variant_with_a_hint(shop, capsys):
    args = ["rules", "explain", f"{shop}/", "--rules", str(PROJECT_RULES), "--variant", "hero-banner=one-templat"]
    assert main(args) == 2
    assert "experiment 'hero-banner' has no variant 'one-templat' (did you mean 'one-template'?)" in capsys.readouterr().err


def test_cli_rules_preview_link_carries_the_variant_asked_for(capsys, monkeypatch):
    monkeypatch.setenv("ETALAGE_ADMIN_TOKEN", "admin-token-for-tests")
    assert main(["rules", "preview", closed_port_url(), "--variant", "hero-banner=none"]) == 0
    token = capsys.readouterr().out.strip().partition("token=")[2]
    profile = PreviewSigner("admin-token-for-tests").verify(token)
    assert profile is not None and profile.assignments["hero-banner"].variant == "none"


def test_cli_rules_default_to_etalage_rules_dir_as_serve_does(monkeypatch, tmp_path):
    monkeypatch.setenv("ETALAGE_RULES_DIR", str(tmp_path / "shop-rules"))
    assert _default_rules() == tmp_path / "shop-rules"


def test_cli_rules_default_to_the_rules_folder_where_the_command_runs(monkeypatch, tmp_path):
    # A marketer's own rules/, not the checkout's demo rules: explain said a rule they had removed fired.
    monkeypatch.delenv("ETALAGE_RULES_DIR", raising=False)
    (tmp_path / "rules").mkdir()
    monkeypatch.chdir(tmp_path)
    assert _default_rules() == Path("rules")


def test_cli_rules_explain_says_a_mistyped_address_in_one_line(capsys):
    # httpx.InvalidURL is no HTTPError: it ended in a traceback.
    assert main(["rules", "explain", "http://[::1", "--rules", str(PROJECT_RULES)]) == 2
    assert capsys.readouterr().err.startswith("etalage: could not fetch http://[::1: ")
