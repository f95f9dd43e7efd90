"""Steady load for failover tests: a visitor who consented browses without pause in a thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import httpx

__all__ = ["steady_browsing"]


@contextlib.contextmanager
def steady_browsing(url: str) -> Iterator[list[int]]:
    """Browse `url` until the block ends; yields the status of every page served so far (a growing list)."""
    statuses: list[int] = []
    stop = threading.Event()

    def browse() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:  # every page must be served; how fast is for benchmarks/
            client.post("/consent", data={"choice": "accept"})
            while not stop.is_set():
                for path in ("/", "/c/dogs", "/c/rodents"):
                    statuses.append(client.get(path).status_code)

    browser = threading.Thread(target=browse)
    browser.start()
    try:
        yield statuses
    finally:
        stop.set()
        browser.join()
