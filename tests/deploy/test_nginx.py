"""The nginx configurations in deploy/nginx are ones nginx accepts, and hold clients to deadlines and limits."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, missing_tool

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
MISSING = "nginx is not installed (Debian: apt-get install nginx); its config check needs it"
CONFIGS = ["etalage.conf", "existing-shop.conf", "compose.conf"]
# compose.conf names the compose services, which only Docker's DNS resolves; nginx -t resolves upstream hosts.
COMPOSE_HOSTS = re.compile(r"\b(etalage-1|etalage-2|shop)(?=:\d+)")


def wrapper(tmp: Path, conf: Path) -> Path:
    """An nginx.conf that includes `conf` in http {}, with every file nginx writes in `tmp`."""
    included = tmp / conf.name
    included.write_text(COMPOSE_HOSTS.sub("127.0.0.1", conf.read_text()))
    main = tmp / "nginx.conf"
    main.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;\n"
        f"    fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;\n"
        f"    include {included};\n}}\n"
    )
    return main


def directives(conf: Path) -> set[str]:
    return {line.strip().rstrip(";") for line in conf.read_text().splitlines() if line.strip() and not line.strip().startswith("#")}


@pytest.mark.parametrize("name", CONFIGS)
def test_nginx_config_passes_nginx_t(tmp_path, name):
    if NGINX is None:
        missing_tool(MISSING, "ETALAGE_REQUIRE_NGINX")  # CI installs nginx: there a missing one is a failure
    command = [
        NGINX,
        "-t",
        "-q",
        "-p",
        str(tmp_path),
        "-e",
        str(tmp_path / "error.log"),
        "-c",
        str(wrapper(tmp_path, DEPLOY / "nginx" / name)),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", CONFIGS)
def test_nginx_config_bounds_slow_clients_and_headers(name):
    assert {
        "client_header_timeout 10s",
        "large_client_header_buffers 4 16k",
        "underscores_in_headers off",
        "proxy_http_version 1.1",
        "keepalive 64",
    } <= directives(DEPLOY / "nginx" / name)


@pytest.mark.parametrize("name", CONFIGS)
def test_nginx_config_sends_its_request_id_to_etalage(name):
    assert "proxy_set_header X-Request-Id $request_id" in directives(DEPLOY / "nginx" / name)


def test_nginx_compose_config_spreads_pages_over_both_replicas():
    assert {"server etalage-1:8000 max_fails=3 fail_timeout=10s", "server etalage-2:8000 max_fails=3 fail_timeout=10s"} <= directives(
        DEPLOY / "nginx" / "compose.conf"
    )
