"""Counters that say what Etalage did and why it held back, exposed in Prometheus text format."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass

__all__ = ["Metrics", "BlockMiss", "RECENT_MISSES"]

RECENT_MISSES = 20  # block misses kept for the admin status; older ones are only counted
_MISS_TEXT = 200  # characters kept of a miss's path and detail: a client chooses the path

_HELP = {
    "etalage_requests_total": "Requests proxied, by outcome.",
    "etalage_fail_open_total": "Times Etalage served the origin's page unchanged because something failed, by reason.",
    "etalage_rule_fired_total": "Rules that changed a page, by rule.",
    "etalage_upstream_errors_total": "Upstream failures answered with 502/504, by kind.",
    "etalage_origin_cookies_dropped_total": "Set-Cookie headers of the origin's that would have set or removed one of Etalage's own cookies.",
    "etalage_layouts_total": "Page bodies whose blocks were located: analysed, or a layout reused for a body that differs only in harmless attribute values.",
    "etalage_blocks_missed_total": "Blocks that could not be located or verified in an analysed page body, by block and reason.",
    "etalage_experiment_assignments_total": "Visitors put in an experiment's variant, by experiment and variant.",
    "etalage_experiment_exposures_total": "First exposures of visitors to their variant, by experiment and variant (a visitor whose pages two workers served at once may count twice).",
    "etalage_experiment_conversions_total": "Goals reached by visitors exposed to an experiment, by experiment, variant and goal.",
    "etalage_holdout_page_views_total": "Page views of visitors in the programme holdout, served as the origin sent them.",
}


@dataclass(frozen=True, slots=True)
class BlockMiss:
    """One block missing from one analysed page: what /.etalage/admin/rules shows of the last few."""

    at: float
    block: str
    reason: str  # one of etalage.html.page.MISS_REASONS
    path: str
    detail: str


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._misses: deque[BlockMiss] = deque(maxlen=RECENT_MISSES)

    def inc(self, name: str, **labels: str) -> None:
        items = tuple(labels.items())
        self._counts[(name, items if len(items) < 2 else tuple(sorted(items)))] += 1

    def block_missed(self, block: str, reason: str, path: str, detail: str) -> None:
        """Count a block missing from a page under its block and reason only (the page's path as a
        label would make a series per address a client makes up) and keep the path and the full
        reason with the last RECENT_MISSES misses, so the admin status can say where to look."""
        self.inc("etalage_blocks_missed_total", block=block, reason=reason)
        self._misses.append(BlockMiss(time.time(), block, reason, path[:_MISS_TEXT], detail[:_MISS_TEXT]))

    def recent_misses(self) -> list[BlockMiss]:
        """The last RECENT_MISSES block misses, newest first."""
        return list(reversed(self._misses))

    def value(self, name: str, **labels: str) -> int:
        return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        lines = []
        names = sorted({name for name, _ in self._counts} | set(_HELP))
        for name in names:
            lines.append(f"# HELP {name} {_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for (counted, labels), value in sorted(self._counts.items()):
                if counted != name:
                    continue
                label_text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels)
                lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
