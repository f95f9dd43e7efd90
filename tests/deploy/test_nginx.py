"""deploy/nginx/etalage.conf, the front proxy that holds slow clients to deadlines, is a configuration nginx accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.config import REPO

CONF = REPO / "deploy" / "nginx" / "etalage.conf"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def wrapper(tmp: Path) -> Path:
    """An nginx.conf that includes the snippet in http {}, with every file nginx writes in `tmp`."""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n    client_body_temp_path {tmp}/body;\n    proxy_temp_path {tmp}/proxy;\n"
        f"    fastcgi_temp_path {tmp}/fastcgi;\n    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;\n"
        f"    include {CONF};\n}}\n"
    )
    return conf


MISSING = "nginx is not installed (Debian: apt-get install nginx); its config check needs it"


def test_deploy_nginx_config_passes_nginx_t(tmp_path):
    if NGINX is None:
        if os.environ.get("ETALAGE_REQUIRE_NGINX") == "1":  # CI installs nginx: there a missing one is a failure
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    result = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(wrapper(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_deploy_nginx_config_bounds_slow_clients_and_headers():
    directives = {line.strip().rstrip(";") for line in CONF.read_text().splitlines() if line.strip() and not line.strip().startswith("#")}
    assert {
        "client_header_timeout 10s",
        "large_client_header_buffers 4 16k",
        "underscores_in_headers off",
        "proxy_http_version 1.1",
    } <= directives
    assert "keepalive 64" in directives
