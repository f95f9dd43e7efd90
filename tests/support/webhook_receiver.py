"""A messaging platform's webhook endpoint for tests: a real HTTP server on a loopback port.

It keeps every delivery attempt (headers, body, the status it answered) and answers 500 to the first
`fail_first` attempts of each webhook-id, then 200; `down` answers 503 to everything, and `hold` keeps
each request waiting until the event is set (a hung receiver). Tests wait on `wait_for` (a condition
with a deadline), never by sleeping.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Attempt", "Receiver", "receiving"]

# Only guards against a broken test: a working one is done long before.
DEADLINE = 30.0


@dataclass(frozen=True)
class Attempt:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.down = False
        self.hold: threading.Event | None = None
        self.attempts: list[Attempt] = []
        self.arrivals = 0  # requests received, answered or still held
        self.changed = threading.Condition()
        self.url = ""

    def accepted(self) -> list[Attempt]:
        with self.changed:
            return [attempt for attempt in self.attempts if attempt.status == 200]

    def tries(self) -> Counter[str]:
        with self.changed:
            return Counter(attempt.id for attempt in self.attempts)

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = DEADLINE) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.changed:
            earlier = sum(1 for attempt in self.attempts if attempt.id == headers.get("webhook-id"))
            status = 503 if self.down else 500 if earlier < self.fail_first else 200
            self.attempts.append(Attempt(headers, body, status))
            self.changed.notify_all()
        return status


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.changed:
                receiver.arrivals += 1
                receiver.changed.notify_all()
            hold = receiver.hold
            if hold is not None:
                hold.wait(DEADLINE)
            status = receiver._answer({name.lower(): value for name, value in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/etalage"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
