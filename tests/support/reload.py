"""Waiting for a running Etalage to reload its rules folder, on the reload counter rather than a clock."""

from __future__ import annotations

import time
from collections.abc import Callable

from etalage.rules.rulebook import RuleBook

__all__ = ["wait_until"]


def wait_until(book: RuleBook, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Block until a completed reload makes `condition` true (the watcher runs in the server thread)."""
    deadline = time.monotonic() + timeout
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not book.wait_for_generation(book.generation + 1, remaining):
            return condition()
    return True
