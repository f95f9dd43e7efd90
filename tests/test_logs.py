"""Log lines as JSON objects, one per line, with the request id; `etalage serve --log-format json`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys

import httpx
import pytest

from etalage.logs import REQUEST_ID, JsonFormatter, Throttled
from etalage.profiles.profile import Event
from etalage.profiles.redis import RedisStore
from tests.support.config import PROXY_RULES, REPO
from tests.support.redis_server import RedisServer


def record(name: str, message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]


def formatted(rec: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    return json.loads(line)


def test_logs_json_line_has_time_level_logger_and_message():
    entry = formatted(record("etalage.proxy", "GET %s: %s", "/x", "refused"))
    assert {key: entry[key] for key in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "etalage.proxy",
        "message": "GET /x: refused",
    }
    assert str(entry["time"]).endswith("+00:00")


def test_logs_json_line_has_no_request_id_outside_a_request():
    assert "request_id" not in formatted(record("etalage", "starting"))


def test_logs_json_line_carries_the_request_id_of_its_context():
    token = REQUEST_ID.set("req-7")
    try:
        assert formatted(record("etalage", "x"))["request_id"] == "req-7"
    finally:
        REQUEST_ID.reset(token)


def test_logs_json_line_keeps_a_traceback_on_its_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        entry = formatted(record("etalage", "failed", exc_info=sys.exc_info()))
    assert "ValueError: boom\nsecond line" in str(entry["exception"])


def test_logs_json_access_line_has_the_request_fields():
    entry = formatted(record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/c/dogs?page=2", "1.1", 200))
    assert {key: entry[key] for key in ("client", "method", "path", "http_version", "status")} == {
        "client": "10.0.0.1:5000",
        "method": "GET",
        "path": "/c/dogs",
        "http_version": "1.1",
        "status": 200,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_logs_serve_with_json_format_writes_the_access_log_with_the_request_id(origin):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
        "ETALAGE_SECRET": "0123456789abcdef0123",
        "ETALAGE_TRUSTED_PROXIES": "127.0.0.1",
        "ETALAGE_LOG_LEVEL": "info",
    }
    command = [sys.executable, "-m", "etalage", "serve", "--log-format", "json", "--port", str(port), "--upstream", origin]
    command += ["--rules", str(PROXY_RULES)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) as server:
        try:
            lines = []
            for line in server.stderr:  # type: ignore[union-attr]
                lines.append(line)
                if "Uvicorn running on" in line:
                    break
            assert httpx.get(f"http://127.0.0.1:{port}/echo", headers={"X-Request-Id": "req-from-nginx"}).status_code == 200
        finally:
            server.terminate()
            lines += server.stderr.readlines()  # type: ignore[union-attr]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    (access,) = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert (access["request_id"], access["path"], access["status"]) == ("req-from-nginx", "/echo", 200)


class Collect(logging.Handler):
    """Keeps formatted JSON entries, and wakes a waiting test on the loop that logged one."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.entries: list[dict[str, object]] = []
        self.arrived = asyncio.Event()

    def emit(self, rec: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.format(rec)))
        self.arrived.set()


@pytest.mark.redis
def test_logs_redis_flusher_lines_name_no_request(redis_server: RedisServer):
    """The request whose page view starts the background flusher must not name the flusher's lines ever after."""

    async def flush_during_an_outage() -> list[dict[str, object]]:
        collect = Collect()
        logger = logging.getLogger("etalage.redis_store")
        logger.addHandler(collect)
        store = RedisStore(redis_server.url, retention=3600, flush_interval=0.01)
        try:
            redis_server.kill()
            token = REQUEST_ID.set("req-that-started-it")
            try:
                await store.record("v1", [Event("category_view", "dogs", 1.0)])  # starts the flusher
            finally:
                REQUEST_ID.reset(token)
            await asyncio.wait_for(collect.arrived.wait(), 30)  # its warning: Redis unreachable
            return collect.entries
        finally:
            logger.removeHandler(collect)
            await store.aclose()

    entries = asyncio.run(flush_during_an_outage())
    assert entries and all("request_id" not in entry for entry in entries)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_logs_throttled_warning_holds_back_repeats_and_says_how_many(caplog):
    clock = Clock()
    warnings = Throttled(logging.getLogger("etalage.test"), interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="etalage.test"):
        for second in (0.0, 1.0, 2.0, 9.0, 10.5):
            clock.now = second
            warnings.warning("load", "store failed (%s)", "down")
    assert [record.getMessage() for record in caplog.records] == [
        "store failed (down)",
        "store failed (down) (and 3 more like it in the last 10 s)",
    ]


def test_logs_throttled_warning_keeps_kinds_apart(caplog):
    warnings = Throttled(logging.getLogger("etalage.test"), clock=Clock())
    with caplog.at_level(logging.WARNING, logger="etalage.test"):
        warnings.warning("load", "load failed")
        warnings.warning("record", "record failed")
    assert [record.getMessage() for record in caplog.records] == ["load failed", "record failed"]


def test_logs_json_access_line_leaves_the_query_out():
    # A preview link's token, an e-mail address in a form's GET, a search: none of them belongs in a log.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:5", "GET", "/.etalage/preview?token=SECRET", "1.1", 303),
        None,
    )
    line = JsonFormatter().format(record)
    assert "SECRET" not in line and json.loads(line)["path"] == "/.etalage/preview"
