"""Triggers' webhooks end to end: Etalage in front of the scriptable origin, a real receiver on a
loopback port, the embedded store with its queue file or a throwaway redis-server. Nothing is mocked;
waits are conditions with a deadline."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import standardwebhooks

from etalage.app import create_app
from tests.support.config import ACCEPT_ONETRUST, REJECT_ONETRUST, RULESETS, rules_with, settings_for
from tests.support.servers import running
from tests.support.webhook_receiver import DEADLINE, Receiver, receiving

TRIGGERS = RULESETS / "good" / "triggers"
SECRET = "whsec_" + base64.b64encode(b"webhook-test-secret-0123456789ab").decode()
API_KEY = "shop-backend-key"
ADMIN = "admin-token-for-tests"
CONSENT = {"OptanonConsent": ACCEPT_ONETRUST}
POLL = 0.02  # the pace of a poll on a condition, not a wait for anything


def app_settings(origin: str, receiver: Receiver, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
        "webhook_retry_base": 0.01,  # retries at once: the test is about their count, not their pace
        "webhook_max_attempts": 20,  # none dead-lettered while a test holds the receiver down on a busy machine
        "api_key": API_KEY,
        "admin_token": ADMIN,
        **overrides,
    }
    return settings_for(origin, TRIGGERS, **values)


def browse(url: str, *paths: str) -> str:
    """A consenting visitor views `paths`; their visitor cookie's value."""
    with httpx.Client(base_url=url, cookies=CONSENT) as client:
        for path in paths:
            assert client.get(path).status_code == 200
        return str(client.cookies["etalage_vid"])


def recorded(url: str, event: dict[str, Any]) -> bool:
    """The shop's backend reports an event; whether Etalage had a profile to record it in."""
    answer = httpx.post(f"{url}/.etalage/api/events", json=event, headers={"Authorization": f"Bearer {API_KEY}"})
    assert answer.status_code == 200
    return bool(answer.json()["recorded"])


def order(url: str, visitor: str, order_id: str, products: list[str]) -> None:
    """An order, reported once the visitor's profile (written in the background after their page
    view) is there to record it in."""
    body = {"type": "order", "visitor": visitor, "order": order_id, "products": products, "value": "9.95", "currency": "EUR"}
    assert eventually(lambda: recorded(url, body)), "the order was never recorded"


def admin(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/.etalage/admin/webhooks", headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 200
    return dict(answer.json())


def metrics(url: str) -> str:
    return httpx.get(f"{url}/.etalage/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).text


def eventually(condition: Callable[[], bool]) -> bool:
    """Poll a condition (a server's state read over HTTP) until it holds or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL)
    return False


def accepted_triggers(receiver: Receiver) -> Counter[str]:
    verifier = standardwebhooks.Webhook(SECRET)
    return Counter(verifier.verify(attempt.body, attempt.headers)["data"]["trigger"] for attempt in receiver.accepted())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(Receiver()) as started:
        yield started


EVERY_TRIGGER = {"dogs-interest", "newsletter-worthy", "basket-left", "first-order", "kibble-runs-out"}


def test_webhooks_deliver_each_trigger_once_per_moment_through_failing_first_attempts(origin, receiver, tmp_path):
    receiver.fail_first = 2
    settings = app_settings(origin, receiver, webhook_queue_file=str(tmp_path / "webhooks.jsonl"))
    with running(create_app(settings)) as url:
        browse(url, "/c/dogs", "/c/dogs", "/c/basket")  # interest crossed twice over (dogs, newsletter), a basket left
        buyer = browse(url, "/c/cats")
        order(url, buyer, "o-1", ["kibble"])  # a first order, of a product that lasts a day
        assert receiver.wait_for(lambda r: len(r.accepted()) >= len(EVERY_TRIGGER))
        assert eventually(lambda: admin(url)["queue_depth"] == 0)
        browse(url, "/c/dogs")  # interest stays above the threshold: no new crossing
        order(url, buyer, "o-1", ["kibble"])  # the same order again: the same supply cycle, claimed already
        assert eventually(lambda: admin(url)["queue_depth"] == 0)
    assert accepted_triggers(receiver) == Counter(EVERY_TRIGGER)
    assert set(receiver.tries().values()) == {3}  # two failures, then the one accepted, all under one webhook-id


def test_webhooks_signatures_verify_with_the_standard_webhooks_library(origin, receiver, tmp_path):
    with running(create_app(app_settings(origin, receiver))) as url:
        order(url, browse(url, "/c/cats"), "o-2", ["ball"])
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
    attempt = receiver.accepted()[0]
    payload = standardwebhooks.Webhook(SECRET).verify(attempt.body, attempt.headers)
    assert payload["type"] == "moment.first_purchase" and payload["data"]["order"] == "o-2" and payload["data"]["products"] == ["ball"]


def test_webhooks_signature_fails_under_another_secret(origin, receiver):
    with running(create_app(app_settings(origin, receiver))) as url:
        order(url, browse(url, "/c/cats"), "o-3", ["ball"])
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
    attempt = receiver.accepted()[0]
    other = standardwebhooks.Webhook("whsec_" + base64.b64encode(b"another-secret-0123456789abcdef0").decode())
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        other.verify(attempt.body, attempt.headers)


@pytest.fixture(params=["file", "redis"])
def durable(request: pytest.FixtureRequest, tmp_path: Any) -> dict[str, Any]:
    """Settings that keep profiles and the webhook queue across a restart: files, or one Redis."""
    if request.param == "file":
        return {"webhook_queue_file": str(tmp_path / "webhooks.jsonl"), "profiles_file": str(tmp_path / "profiles.json")}
    server = request.getfixturevalue("redis_server")
    # An entry the stopped process had taken is taken over after a second (longer than an attempt may take).
    return {"redis_url": server.url, "webhook_reclaim_after": 1.0, "webhook_timeout": 0.5}


def test_webhooks_queued_when_etalage_stops_are_delivered_by_the_next_one(origin, receiver, durable):
    receiver.down = True
    settings = app_settings(origin, receiver, **durable)
    with running(create_app(settings)) as url:
        order(url, browse(url, "/c/cats"), "o-4", ["kibble"])
        # Both moments are queued and being retried when Etalage stops.
        assert receiver.wait_for(lambda r: len(r.tries()) == 2)
    receiver.down = False
    with running(create_app(settings)) as url:
        assert receiver.wait_for(lambda r: len(r.accepted()) >= 2)
        assert eventually(lambda: admin(url)["queue_depth"] == 0)
    assert accepted_triggers(receiver) == Counter({"first-order": 1, "kibble-runs-out": 1})


def test_webhooks_an_attempt_cut_off_by_a_stop_is_made_again_by_the_next_etalage(origin, receiver, durable):
    receiver.hold = held = threading.Event()
    settings = app_settings(origin, receiver, **durable)
    with running(create_app(settings)) as url:
        order(url, browse(url, "/c/cats"), "o-7", ["ball"])
        assert receiver.wait_for(lambda r: r.arrivals >= 1)  # taken from the queue, its attempt under way
    receiver.down = True
    held.set()  # the cut-off attempt gets its answer only now, to a client that left: it never counted
    assert receiver.wait_for(lambda r: len(r.attempts) == r.arrivals)
    receiver.down, receiver.hold = False, None
    with running(create_app(settings)) as url:
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
        assert eventually(lambda: admin(url)["queue_depth"] == 0)
    assert accepted_triggers(receiver) == Counter({"first-order": 1})
    assert len(receiver.tries()) == 1  # the same webhook-id on every attempt


def test_webhooks_a_basket_followed_by_an_order_is_not_sent(origin, receiver):
    with running(create_app(app_settings(origin, receiver))) as url:
        visitor = browse(url, "/c/basket")
        order(url, visitor, "o-8", ["ball"])
        assert eventually(lambda: 'etalage_webhooks_dropped_total{reason="ordered"} 1.0' in metrics(url))
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
    assert accepted_triggers(receiver) == Counter({"first-order": 1})


def test_webhooks_out_of_attempts_go_to_the_dead_letter_list_and_metrics(origin, receiver):
    receiver.down = True
    with running(create_app(app_settings(origin, receiver, webhook_max_attempts=2))) as url:
        order(url, browse(url, "/c/cats"), "o-5", ["ball"])
        assert eventually(lambda: len(admin(url)["dead_letters"]) == 1)
        status = admin(url)
        exposition = metrics(url)
    dead = status["dead_letters"][0]
    assert (dead["trigger"], dead["attempts"], dead["last_error"], status["queue_depth"]) == (
        "first-order",
        2,
        "the receiver answered 503",
        0,
    )
    assert 'etalage_webhooks_dead_lettered_total{trigger="first-order"} 1.0' in exposition
    assert 'etalage_webhooks_failed_total{reason="status",trigger="first-order"} 2.0' in exposition


def test_webhooks_a_hung_receiver_does_not_hold_up_page_views(origin, receiver):
    receiver.hold = held = threading.Event()
    with running(create_app(app_settings(origin, receiver))) as url:
        order(url, browse(url, "/c/cats"), "o-6", ["ball"])
        assert receiver.wait_for(lambda r: r.arrivals >= 1)  # the delivery is waiting on the receiver
        browse(url, "/c/dogs", "/c/dogs", "/c/cats")  # more moments and pages, all served
        assert not held.is_set() and receiver.accepted() == []
        held.set()


def test_webhooks_an_attempt_past_the_timeout_is_tried_again(origin, receiver):
    receiver.hold = held = threading.Event()
    with running(create_app(app_settings(origin, receiver, webhook_timeout=0.3))) as url:
        order(url, browse(url, "/c/cats"), "o-9", ["ball"])
        assert eventually(lambda: 'etalage_webhooks_failed_total{reason="timeout",trigger="first-order"}' in metrics(url))
        # The attempts held so far get their answer to a client that gave up: a failure, never counted.
        receiver.down, receiver.hold = True, None
        held.set()
        assert receiver.wait_for(lambda r: len(r.attempts) == r.arrivals)
        receiver.down = False
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
    assert accepted_triggers(receiver) == Counter({"first-order": 1})


def test_webhooks_not_sent_for_a_visitor_who_withdrew_consent_since(origin, receiver):
    receiver.down = True
    with running(create_app(app_settings(origin, receiver))) as url:
        visitor = browse(url, "/c/cats")
        order(url, visitor, "o-10", ["ball"])
        assert receiver.wait_for(lambda r: len(r.attempts) >= 1)
        with httpx.Client(base_url=url, cookies={"OptanonConsent": REJECT_ONETRUST, "etalage_vid": visitor}) as client:
            assert client.get("/c/cats").status_code == 200  # the refusal erases the profile, in the background
        assert eventually(lambda: not recorded(url, {"type": "newsletter", "visitor": visitor, "newsletter": "cats"}))
        receiver.down = False
        assert eventually(lambda: 'etalage_webhooks_dropped_total{reason="no_consent"} 1.0' in metrics(url))
    assert receiver.accepted() == []


def test_webhooks_off_without_a_url(origin, receiver):
    with running(create_app(settings_for(origin, TRIGGERS, admin_token=ADMIN))) as url:
        browse(url, "/c/dogs", "/c/dogs")
        assert admin(url) == {"enabled": False, "hint": "set ETALAGE_WEBHOOK_URL and ETALAGE_WEBHOOK_SECRET"}


def test_webhooks_an_order_announced_in_a_response_header_is_a_first_purchase(origin, receiver, tmp_path):
    rules = rules_with(TRIGGERS, tmp_path, {"orders.toml": '[orders]\nheader = "X-Shop-Order"\n'})
    with running(create_app(settings_for(origin, rules, webhook_url=receiver.url, webhook_secret=SECRET))) as url:
        with httpx.Client(base_url=url, cookies=CONSENT) as client:
            client.get("/c/cats")
            client.get("/c/cats")  # answered after the first view's profile write: the profile is there
            assert client.post("/order-placed", follow_redirects=False).status_code == 303
        assert receiver.wait_for(lambda r: "first-order" in accepted_triggers(r))
    verifier = standardwebhooks.Webhook(SECRET)
    payloads = [verifier.verify(attempt.body, attempt.headers) for attempt in receiver.accepted()]
    (first,) = [payload for payload in payloads if payload["type"] == "moment.first_purchase"]
    assert first["data"]["order"] == "100023"


def resend(url: str, webhook_id: str, token: str = ADMIN) -> httpx.Response:
    return httpx.post(f"{url}/.etalage/admin/webhooks/dead/{webhook_id}/resend", headers={"Authorization": f"Bearer {token}"})


def test_webhooks_a_dead_letter_resent_by_staff_is_delivered_under_its_webhook_id(origin, receiver, durable):
    receiver.down = True
    with running(create_app(app_settings(origin, receiver, webhook_max_attempts=1, **durable))) as url:
        order(url, browse(url, "/c/cats"), "o-9", ["ball"])
        assert eventually(lambda: len(admin(url)["dead_letters"]) == 1)
        dead = admin(url)["dead_letters"][0]["id"]
        receiver.down = False  # the receiver is fixed
        answer = resend(url, dead)
        assert receiver.wait_for(lambda r: len(r.accepted()) == 1)
        assert eventually(lambda: admin(url)["dead_letters"] == [] and admin(url)["queue_depth"] == 0)
    assert (answer.status_code, answer.json()) == (202, {"resent": dead, "trigger": "first-order"})
    assert receiver.accepted()[0].id == dead


def test_webhooks_resend_answers_404_for_no_such_dead_letter(origin, receiver):
    with running(create_app(app_settings(origin, receiver))) as url:
        answer = resend(url, "msg_unknown")
    assert answer.status_code == 404 and "no dead letter 'msg_unknown'" in answer.json()["error"]


def test_webhooks_resend_needs_the_admin_token(origin, receiver):
    with running(create_app(app_settings(origin, receiver))) as url:
        assert resend(url, "msg_any", token=API_KEY).status_code == 401


def test_webhooks_an_interest_chosen_on_the_visitors_page_is_a_moment(origin, receiver):
    with running(create_app(app_settings(origin, receiver))) as url, httpx.Client(base_url=url, cookies=CONSENT) as client:
        assert client.get("/c/cats").status_code == 200  # a profile, no interest in dogs yet
        assert eventually(lambda: "csrf" in client.get("/.etalage/me").text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/.etalage/me").text)
        assert csrf is not None
        chosen = client.post("/.etalage/me/interests", data={"csrf": csrf[1], "category": "dogs", "action": "add"})
        assert chosen.status_code in (200, 303)
        assert receiver.wait_for(lambda r: len(r.accepted()) >= 2)
    assert accepted_triggers(receiver) == Counter({"dogs-interest": 1, "newsletter-worthy": 1})
