"""`etalage serve --workers 2` as a user runs it: a subprocess on a free port, ready once both workers
said so (uvicorn logs "Application startup complete" per worker; read from its output, not waited for)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping

__all__ = ["free_port", "serving_workers"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving_workers(arguments: list[str], env: Mapping[str, str], workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """(its URL, the process) of `etalage serve --workers N` with `arguments`; stopped (SIGTERM) at the end."""
    port = free_port()
    command = [sys.executable, "-m", "etalage", "serve", "--workers", str(workers), "--port", str(port), *arguments]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment) as server:
        try:
            started, output = 0, []
            for line in server.stdout:  # type: ignore[union-attr]
                output.append(line)
                started += "Application startup complete" in line
                if started == workers:
                    break
            assert started == workers, "".join(output)
            yield f"http://127.0.0.1:{port}", server
        finally:
            server.terminate()
            server.wait(timeout=30)
