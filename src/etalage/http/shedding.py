"""Shedding personalization under overload.

A rewrite costs CPU on the event loop; when the loop falls behind, every request waits longer,
and queueing more rewrites only makes it worse. The shedder measures how late a periodic timer
fires (event-loop lag): above the budget, personalization is skipped and pages go out as the
origin sent them (still forwarded, still learned from) until the lag has fallen back to half the
budget. Passing a page through costs a fraction of rewriting it, so the proxy keeps up instead
of timing out.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["LoadShedder"]

log = logging.getLogger("etalage.shedding")


class LoadShedder:
    def __init__(self, budget: float, interval: float = 0.05) -> None:
        self.budget = budget
        self.interval = interval
        self.overloaded = False
        self.lag = 0.0

    def observe(self, lag: float) -> None:
        """Take one lag sample; enter overload above the budget, leave it below half of it."""
        self.lag = lag
        if not self.overloaded and lag > self.budget:
            self.overloaded = True
            log.warning("event loop %.0f ms behind: serving pages unpersonalized until it catches up", lag * 1000)
        elif self.overloaded and lag < self.budget / 2:
            self.overloaded = False
            log.info("event loop caught up: personalizing again")

    async def run(self) -> None:
        """Sample the event-loop lag until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval)
            self.observe(max(loop.time() - started - self.interval, 0.0))
