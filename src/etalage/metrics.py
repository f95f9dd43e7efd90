"""What Etalage did, how long it took and why it held back, for Prometheus.

prometheus-client keeps the values. Every metric is declared here with its help text, type and
labels, so a scrape lists each one even before it first counts, and a misspelt name fails at once.
With several worker processes (`etalage serve --workers N`), each writes its values to files in
the folder PROMETHEUS_MULTIPROC_DIR names (prometheus-client's multiprocess mode; `serve` sets one
up), and a scrape, whichever worker answers it, sums them: every scrape sees the totals.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["Metrics", "BlockMiss", "RECENT_MISSES", "CONTENT_TYPE", "multiprocess_dir"]

RECENT_MISSES = 20  # block misses kept for the admin status; older ones are only counted
_MISS_TEXT = 200  # characters kept of a miss's path and detail: a client chooses the path
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "etalage_requests_total": ("Requests proxied, by outcome.", ("outcome",)),
    "etalage_fail_open_total": ("Times Etalage served the origin's page unchanged because something failed, by reason.", ("reason",)),
    "etalage_rule_fired_total": ("Rules that changed a page, by rule.", ("rule",)),
    "etalage_rule_errors_total": ("Rules whose action raised an error; their block went out as the origin sent it, by rule.", ("rule",)),
    "etalage_store_dropped_events_total": ("Page-view events dropped because the store's write queue was full.", ()),
    "etalage_shed_total": ("Page views served unpersonalized because the event loop was behind (load shedding).", ()),
    "etalage_upstream_errors_total": ("Upstream failures answered with 502/504, by kind.", ("kind",)),
    "etalage_origin_cookies_dropped_total": (
        "Set-Cookie headers of the origin's that would have set or removed one of Etalage's own cookies.",
        (),
    ),
    "etalage_layouts_total": (
        "Page bodies whose blocks were located: analysed, or a layout reused for a body that differs only in harmless values.",
        ("source",),
    ),
    "etalage_logins_ignored_total": (
        "Logins not linked because the login source behaves like a session, not a customer id, by reason.",
        ("reason",),
    ),
    "etalage_blocks_missed_total": (
        "Blocks that could not be located or verified in an analysed page body, by block and reason.",
        ("block", "reason"),
    ),
    "etalage_experiment_assignments_total": (
        "Visitors put in an experiment's variant, by experiment and variant.",
        ("experiment", "variant"),
    ),
    "etalage_experiment_exposures_total": (
        "First exposures of visitors to their variant, by experiment and variant (a visitor whose pages two workers served at once may count twice).",
        ("experiment", "variant"),
    ),
    "etalage_experiment_conversions_total": (
        "Goals reached by visitors exposed to an experiment, by experiment, variant and goal.",
        ("experiment", "variant", "goal"),
    ),
    "etalage_order_headers_total": (
        "Orders the shop announced in its [orders] header, by outcome: learned, or invalid (not recorded; the log says why).",
        ("outcome",),
    ),
    "etalage_holdout_page_views_total": ("Page views of visitors in the programme holdout, served as the origin sent them.", ()),
    "etalage_moments_total": ("Moments a trigger found and queued for the messaging platform's webhook, by trigger.", ("trigger",)),
    "etalage_triggers_failed_total": (
        "Profile changes whose triggers could not be evaluated or whose moments could not be queued, by reason (evaluation, queue).",
        ("reason",),
    ),
    "etalage_webhooks_delivered_total": ("Webhooks the receiver accepted (2xx), by trigger.", ("trigger",)),
    "etalage_webhooks_failed_total": (
        "Failed webhook attempts (each is retried until the last), by trigger and reason (status, timeout, error, store, queue).",
        ("trigger", "reason"),
    ),
    "etalage_webhooks_dead_lettered_total": (
        "Webhooks given up after the last attempt, onto the dead-letter list, by trigger.",
        ("trigger",),
    ),
    "etalage_webhooks_dropped_total": (
        "Queued moments not delivered because they no longer hold, by reason (no_consent: withdrawn or erased; ordered: a basket led to an order).",
        ("reason",),
    ),
}
# Label values known in advance, listed at 0 from the start: `increase(etalage_fail_open_total{reason="store_error"}[5m])`
# is then 0 before the first failure, not "no data", with one worker and with several.
_KNOWN_LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "etalage_requests_total": ("outcome", ("passed", "personalized")),
    "etalage_fail_open_total": (
        "reason",
        (
            "store_error",
            "store_timeout",
            "store_link_error",
            "store_unlink_error",
            "store_record_error",
            "store_erase_error",
            "rule_error",
            "rule_overlap",
            "rewrite_error",
            "undecodable_body",
            "page_too_large",
            "page_too_complex",
            "analysis_timeout",
            "no_transform",
        ),
    ),
    "etalage_upstream_errors_total": ("kind", ("timeout", "unavailable", "body", "internal")),
    "etalage_layouts_total": ("source", ("analysed", "reused")),
    "etalage_order_headers_total": ("outcome", ("learned", "invalid")),
    "etalage_triggers_failed_total": ("reason", ("evaluation", "queue")),
}
# Seconds, from 1 ms (a reused layout) to the upstream read timeout.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HISTOGRAMS: dict[str, str] = {
    "etalage_personalize_seconds": "Time to personalize one page body (layout, rules, edits), including a first look's analysis.",
    "etalage_store_load_seconds": "Time to load one visitor's profile from the store.",
    "etalage_upstream_seconds": "Time from sending a request to the shop to its response headers.",
}
# name -> help, how a scrape combines the live workers' values (prometheus-client's multiprocess_mode)
_GAUGES: dict[str, tuple[str, Literal["livemax", "livemin", "livesum"]]] = {
    "etalage_event_loop_lag_seconds": ("How late the event loop ran a timer at the last sample (the worst worker).", "livemax"),
    "etalage_shed_ratio": ("Share of personalizable page views a worker serves unpersonalized now, to catch up (the highest).", "livemax"),
    "etalage_store_queued_events": ("Page-view events waiting to be written to the profile store.", "livesum"),
    # As Prometheus's own prometheus_config_last_reload_*: a worker whose last reload failed shows 0.
    "etalage_rules_last_reload_successful": ("1 when the rules folder's last load attempt is in force, 0 when it was refused.", "livemin"),
    "etalage_rules_last_reload_success_timestamp_seconds": ("When the rules in force were loaded (Unix time).", "livemax"),
    # The same Redis queue seen from every worker: the largest reading, not their sum.
    "etalage_webhooks_queue_depth": ("Webhooks waiting to be delivered or retried.", "livemax"),
}


def multiprocess_dir() -> str | None:
    """The folder worker processes share their metrics through, when prometheus-client's multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


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
        # Each app has its own registry (tests build many); in multiprocess mode the values live in files anyway.
        self.registry = CollectorRegistry(auto_describe=True)
        # `_created` series are noise here, and multiprocess mode has none: one output in both modes.
        prometheus_client.disable_created_metrics()
        self._counters = {name: Counter(name, text, labels, registry=self.registry) for name, (text, labels) in _COUNTERS.items()}
        self._histograms = {name: Histogram(name, text, buckets=_BUCKETS, registry=self.registry) for name, text in _HISTOGRAMS.items()}
        self._gauges = {name: Gauge(name, text, registry=self.registry, multiprocess_mode=mode) for name, (text, mode) in _GAUGES.items()}
        # Label sets come from the rules and a fixed list of reasons: a bounded number of children.
        self._children: dict[tuple[str, tuple[tuple[str, str], ...]], Counter] = {}
        self._misses: deque[BlockMiss] = deque(maxlen=RECENT_MISSES)
        for name, (label, values) in _KNOWN_LABELS.items():
            for value in values:
                self._children[(name, ((label, value),))] = self._counters[name].labels(**{label: value})

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(labels.items()))
        child = self._children.get(key)
        if child is None:
            # labels() validates and looks up under a lock: several microseconds, once per label set.
            counter = self._counters[name]
            child = self._children[key] = counter.labels(**labels) if labels else counter
        child.inc(amount)

    def observe(self, name: str, seconds: float) -> None:
        self._histograms[name].observe(seconds)

    def set(self, name: str, value: float) -> None:
        self._gauges[name].set(value)

    def rules_reloaded(self, in_force: bool, loaded_at: float) -> None:
        """RuleBook's on_reload: the outcome of the last load attempt of the rules folder."""
        self.set("etalage_rules_last_reload_successful", 1.0 if in_force else 0.0)
        self.set("etalage_rules_last_reload_success_timestamp_seconds", loaded_at)

    def block_missed(self, block: str, reason: str, path: str, detail: str) -> None:
        """Count a block missing from a page under its block and reason only (the page's path as a
        label would make a series per address a client makes up) and keep the path and the full
        reason with the last RECENT_MISSES misses, so the admin status can say where to look."""
        self.inc("etalage_blocks_missed_total", block=block, reason=reason)
        self._misses.append(BlockMiss(time.time(), block, reason, path[:_MISS_TEXT], detail[:_MISS_TEXT]))

    def recent_misses(self) -> list[BlockMiss]:
        """The last RECENT_MISSES block misses of this process, newest first."""
        return list(reversed(self._misses))

    def value(self, name: str, **labels: str) -> float:
        """A counter's value (summed over the workers in multiprocess mode): for the admin status."""
        for metric in self._collect():
            for sample in metric.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (every worker's, in multiprocess mode)."""
        if multiprocess_dir() is None:
            return prometheus_client.generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return prometheus_client.generate_latest(merged)

    def close(self) -> None:
        """A worker that stops takes its gauges out of the sums (its counters stay counted)."""
        if multiprocess_dir() is not None:
            mark_process_dead(os.getpid())

    def _collect(self) -> list[prometheus_client.Metric]:
        if multiprocess_dir() is None:
            return list(self.registry.collect())
        return list(MultiProcessCollector(None).collect())
