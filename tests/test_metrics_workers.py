"""`etalage serve --workers 2` on Redis: whichever worker answers a scrape, it reports every worker's counts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support.config import PROJECT_RULES
from tests.support.redis_server import RedisServer

TOKEN = "metrics-token"
REQUESTS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_workers(origin: str, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ETALAGE_SECRET": "0123456789abcdef0123",
        "ETALAGE_ADMIN_TOKEN": TOKEN,
    }
    command = [sys.executable, "-m", "etalage", "serve", "--workers", "2", "--port", str(port)]
    command += ["--upstream", origin, "--rules", str(PROJECT_RULES), "--redis-url", redis_server.url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as server:
        try:
            started, output = 0, []
            for line in server.stdout:  # type: ignore[union-attr]
                output.append(line)
                started += "Application startup complete" in line
                if started == 2:
                    break
            assert started == 2, "".join(output)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)


def passed(text: str) -> float:
    match = re.search(r'^etalage_requests_total\{outcome="passed"\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_every_scrape_of_several_workers_sees_the_totals(two_workers):
    for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over both workers
        assert httpx.get(f"{two_workers}/style.css").status_code == 200
    scrapes = [httpx.get(f"{two_workers}/.etalage/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text for _ in range(8)]
    assert [passed(text) for text in scrapes] == [REQUESTS] * 8
