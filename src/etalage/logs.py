"""Log lines as text or as JSON objects, and the id of the request a line was written for.

The request id lives in a context variable: Etalage sets it when a request arrives, and every line
written while that request is handled (by Etalage, by uvicorn's access log, by a task the request
started) carries it. JSON lines are one object each: time, level, logger, message, request_id when
there is one, and for access-log lines the client, method, path, HTTP version and status.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "json_logging"]

REQUEST_ID: ContextVar[str | None] = ContextVar("etalage_request_id", default=None)

# uvicorn's access logger formats '%s - "%s %s HTTP/%s" %d' with these arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


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
            entry.update(zip(_ACCESS_FIELDS, record.args))
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
