"""Log lines as text or as JSON objects, and the id of the request a line was written for.

The request id lives in a context variable: Etalage sets it when a request arrives, and every line
written while that request is handled (by Etalage, by uvicorn's access log, by a task the request
started) carries it. JSON lines are one object each: time, level, logger, message, request_id when
there is one, and for access-log lines the client, method, path, HTTP version and status.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "Throttled", "json_logging"]

REQUEST_ID: ContextVar[str | None] = ContextVar("etalage_request_id", default=None)

# uvicorn's access logger formats '%s - "%s %s HTTP/%s" %d' with these arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class Throttled:
    """Warnings that recur on every request while something is down (the profile store, say), written
    at most once per `interval` seconds of each kind; the next line says how many were held back.
    A line per page view would bury the log during an outage; the metrics count every one."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # kind -> (when its last line was written, lines held back since)

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last[0] < self._interval:
            self._last[kind] = (last[0], last[1] + 1)
            return
        self._last[kind] = (now, 0)
        if last is not None and last[1]:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, last[1], now - last[0])
        self._logger.warning(message, *args)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == len(_ACCESS_FIELDS):
            # The path without its query: a query may carry a preview link's token, an e-mail address, a search.
            fields = dict(zip(_ACCESS_FIELDS, record.args))
            fields["path"] = str(fields["path"]).partition("?")[0]
            entry.update(fields)
            entry["message"] = record.msg % tuple(fields.values())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def json_logging(level: str) -> dict[str, Any]:
    """A logging.config.dictConfig for JSON lines on stderr: Etalage's, uvicorn's and its access log.

    uvicorn applies it in every worker process too (uvicorn.Config(log_config=...))."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's loggers hand their records to the root's handler instead of their own.
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
