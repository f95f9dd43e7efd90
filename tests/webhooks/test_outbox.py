"""The outbox's guard: a trigger that fails is logged and counted, and the caller (a page view) goes on."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from etalage.metrics import Metrics
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import ConsentRecord, Event, Profile
from etalage.rules.loader import load_rules
from etalage.webhooks.courier import Courier
from etalage.webhooks.file_queue import FileQueue
from etalage.webhooks.outbox import Outbox
from tests.support.config import RULESETS

RULES = load_rules(RULESETS / "good" / "triggers")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_800_000_000.0


def test_outbox_a_failing_trigger_is_logged_and_counted_not_raised(caplog):
    # A rule set the loader would refuse: interest that halves in no time divides by zero.
    broken = dataclasses.replace(RULES, site=dataclasses.replace(RULES.site, half_life=0.0))
    metrics = Metrics()
    queue = FileQueue(None)
    outbox = Outbox(
        queue,
        Courier(queue, "http://127.0.0.1:9/", SECRET, MemoryStore(retention=60), metrics, timeout=1, max_attempts=1, retry_base=1),
        metrics,
    )
    profile = Profile(consent=ConsentRecord(True, ("onetrust",), ("onetrust:C0004",), NOW))
    was = outbox.before(broken, profile, NOW)
    profile.apply([Event("category_view", "dogs", NOW)])
    with caplog.at_level(logging.ERROR, "etalage.webhooks"):
        outbox.notice(broken, was, profile, "visitor-1", "/", NOW)
    assert metrics.value("etalage_triggers_failed_total", reason="evaluation") == 1
    assert "evaluating the triggers failed" in caplog.text
    assert asyncio.run(queue.depth()) == 0
