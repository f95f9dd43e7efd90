"""Counters that say what Etalage did and why it held back, exposed in Prometheus text format."""

from __future__ import annotations

from collections import Counter

__all__ = ["Metrics"]

_HELP = {
    "etalage_requests_total": "Requests proxied, by outcome.",
    "etalage_fail_open_total": "Times Etalage served the origin's page unchanged because something failed, by reason.",
    "etalage_rule_fired_total": "Rules that changed a page, by rule.",
    "etalage_upstream_errors_total": "Upstream failures answered with 502/504, by kind.",
    "etalage_origin_cookies_dropped_total": "Set-Cookie headers of the origin's that would have set or removed one of Etalage's own cookies.",
    "etalage_layouts_total": "Page bodies whose blocks were located: analysed, or a layout reused for a body that differs only in harmless attribute values.",
}


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def inc(self, name: str, **labels: str) -> None:
        items = tuple(labels.items())
        self._counts[(name, items if len(items) < 2 else tuple(sorted(items)))] += 1

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
