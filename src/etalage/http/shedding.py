"""Shedding personalization under overload, gradually.

A rewrite costs CPU on the event loop; when the loop falls behind, every request waits longer, and
queueing more rewrites only makes it worse. Passing a page through costs about a third of rewriting
it, so giving up some rewrites lets the proxy keep up instead of queueing.

The signal is how late a short timer fires (event-loop lag), sampled every 10 ms: it grows with the
work that is ready to run, whatever the origin, the store or the clients are doing, and a request
waits a few such turns of the loop (about three times the lag, measured at twice the saturating
load). A request's own latency would count a slow origin as overload; a concurrency limit would too
(requests waiting on the origin are in flight but cost nothing), so neither is used.

The decision is a share of the personalizable page views to skip, adjusted after every sample by
how far the smoothed lag is from its target, as PIE (RFC 8033) adjusts its drop probability from
queueing delay: it grows while the loop stays behind, shrinks once it has caught up, and settles
where the lag meets the target, or at 1 (every page passed through) when even that cannot. Views
are skipped evenly at that share (a running credit, no randomness), so there is no all-or-nothing
flapping. Shed views still go to the visitor as the origin sent them and are still learned from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

__all__ = ["LoadShedder"]

log = logging.getLogger("etalage.shedding")

# How much one sample moves the smoothed lag: about the last five samples count.
_SMOOTHING = 0.2
# The largest change of the share per sample (at twice the target or more): from none to all skipped in
# 20 samples, about a quarter of a second under load.
_STEP = 0.05
# Shedding is over (and logged as such) once the share has stayed at 0 for this many samples (a second
# when idle): a lag hovering at the target does not log an episode per sample.
_QUIET_SAMPLES = 100


class LoadShedder:
    def __init__(self, target: float, interval: float = 0.01, clock: Callable[[], float] = time.perf_counter) -> None:
        self.target = target
        self.interval = interval
        self._clock = clock
        self.lag = 0.0  # smoothed, seconds
        self.share = 0.0  # of personalizable page views skipped
        self.shedding = False  # an episode is under way (for the log)
        self._announced = False  # this episode has served a page unpersonalized, and the log said so
        self._quiet = 0
        self._credit = 0.0

    def observe(self, lag: float) -> None:
        """Take one lag sample (seconds) and move the share toward what keeps the lag at the target."""
        self.lag += (lag - self.lag) * _SMOOTHING
        error = min(max((self.lag - self.target) / self.target, -1.0), 1.0)
        self.share = min(max(self.share + _STEP * error, 0.0), 1.0)
        if self.share > 0.0:
            self._quiet = 0
            self.shedding = True
        elif self.shedding:
            self._quiet += 1
            if self._quiet >= _QUIET_SAMPLES:
                self.shedding = False
                if self._announced:
                    log.info("event loop caught up: personalizing every page again")
                self._announced = False

    def skip(self) -> bool:
        """Whether to serve this personalizable page view unpersonalized: `share` of them, evenly spread."""
        if self.share <= 0.0:
            self._credit = 0.0  # no skips banked from an earlier episode
            return False
        self._credit += self.share
        if self._credit >= 1.0:
            self._credit -= 1.0
            if not self._announced:
                # Said when a page first goes out unpersonalized, not when the lag first rises: a start-up's
                # busy first samples, with no page view in them, are no overload anyone meets.
                self._announced = True
                log.warning(
                    "event loop %.1f ms behind (target %.1f ms): serving a share of pages unpersonalized until it catches up",
                    self.lag * 1000,
                    self.target * 1000,
                )
            return True
        return False

    async def run(self) -> None:
        """Sample the event-loop lag until cancelled."""
        while True:
            started = self._clock()
            await asyncio.sleep(self.interval)
            self.observe(max(self._clock() - started - self.interval, 0.0))
