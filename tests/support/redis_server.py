"""Throwaway redis-server processes for tests: each on a free loopback port, in a temporary directory
of its own, so a test can kill and restart it at will. Without persistence a restarted server is
empty; a `persistent` one keeps an append-only file synced on every write, so a restart after
kill() brings back every write Redis acknowledged, as a production Redis with AOF would.

A server counts as started when it prints "Ready to accept connections" (it listens by then);
its output is read with a bounded select, never by sleeping and retrying. Tests that need Redis
skip when redis-server is not installed, or fail when ETALAGE_REQUIRE_REDIS=1 (as CI sets it).
"""

from __future__ import annotations

import collections
import functools
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import redis

__all__ = ["REDIS_MISSING", "RedisServer", "hang_redis", "redis_server", "redis_server_binary"]

REDIS_MISSING = "redis-server not installed: apt-get install redis-server (Debian/Ubuntu) or brew install redis"
READY = b"Ready to accept connections"
# Only guards against a server that neither starts nor exits; a normal start takes milliseconds.
START_DEADLINE = 10.0


def redis_server_binary() -> str:
    """The redis-server to run; skips the calling test without one (fails it under ETALAGE_REQUIRE_REDIS=1)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("ETALAGE_REQUIRE_REDIS") == "1":
            pytest.fail(REDIS_MISSING, pytrace=False)
        pytest.skip(REDIS_MISSING)
    return binary


@functools.cache
def _major_version(binary: str) -> int:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"v=(\d+)\.", output)
    return int(match.group(1)) if match else 0


# A cluster node also listens on its port + 10000 (the cluster bus), so its port must leave room for that.
CLUSTER_BUS_OFFSET = 10000


def _free_port(bus: bool = False) -> int:
    """A free loopback port; with `bus`, one whose cluster bus port is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not bus:
            return port
        if port + CLUSTER_BUS_OFFSET < 65536:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
                except OSError:
                    continue
            return port


class RedisServer:
    """One redis-server process; `kill()` it like a crash, `restart()` it on the same port."""

    def __init__(self, binary: str, *, persistent: bool = False, args: Sequence[str] = (), config: str = "", ready: bytes = READY) -> None:
        """`args` go on the command line after the defaults; `config` (say, a sentinel's) becomes
        the server's configuration file, which it may rewrite; `ready` is the line that says it started."""
        self.binary = binary
        self.persistent = persistent
        self.args = list(args)
        self.ready = ready
        self.port = 0
        self._directory = tempfile.TemporaryDirectory(prefix="etalage-redis-")
        self._process: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._config = os.path.join(self._directory.name, "redis.conf") if config else ""
        if config:
            with open(self._config, "w") as file:
                file.write(config)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on a free port (another one if that port was taken meanwhile)."""
        for _ in range(5):
            self.port = _free_port(bus="--cluster-enabled" in self.args)
            if self._launch():
                return
            if "Address already in use" not in "".join(self._output):
                break
        raise RuntimeError("redis-server did not start:\n" + "".join(self._output))

    def restart(self) -> None:
        """Start again on the same port after kill(): empty, or a persistent server with what it had acknowledged."""
        if not self._launch():
            raise RuntimeError(f"redis-server did not restart on port {self.port}:\n" + "".join(self._output))

    def kill(self) -> None:
        """SIGKILL: the server vanishes as in a crash; connections to it break."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
        if process is not None:
            process.wait()

    def stop(self) -> None:
        self.kill()
        self._directory.cleanup()

    def client(self) -> redis.Redis:
        """A plain synchronous client for setting up and checking what the store wrote."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def _launch(self) -> bool:
        command = [
            self.binary,
            *([self._config] if self._config else []),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "always",
            "--dir", self._directory.name,
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        if _major_version(self.binary) >= 7:
            command += ["--enable-debug-command", "local"]  # DEBUG SLEEP plays a hung server
        command += self.args
        self._output.clear()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        fd = process.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + START_DEADLINE
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            # Unbuffered reads: a buffered readline could hold the ready line while select() waits.
            while self.ready not in seen:
                if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
                    process.kill()
                    process.wait()
                    seen += f"(no '{self.ready.decode()}' within {START_DEADLINE} s)\n".encode()
                    break
                chunk = os.read(fd, 65536)
                if not chunk:  # it exited, e.g. because the port is taken
                    process.wait()
                    break
                seen += chunk
        self._output.append(seen.decode(errors="replace"))
        if self.ready not in seen or process.poll() is not None:
            process.stdout.close()
            return False
        self._process = process
        # Keep reading its log so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(process,), daemon=True).start()
        return True

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self._output.append(chunk.decode(errors="replace"))
        process.stdout.close()


def hang_redis(server: RedisServer, seconds: float) -> socket.socket:
    """Make the server sleep (DEBUG SLEEP), as a hung Redis does; the returned socket gets "+OK" when it wakes.

    Redis serves ready connections in the order their data arrived. The connection is established
    (and accepted: PING answered) first, then DEBUG SLEEP is written synchronously before the test
    sends anything else, so whatever the test sends next waits behind the sleep.
    """
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(b"PING\r\n")
    assert conn.recv(16) == b"+PONG\r\n"
    argument = str(seconds).encode()
    conn.sendall(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$%d\r\n%s\r\n" % (len(argument), argument))
    return conn


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test."""
    server = RedisServer(redis_server_binary())
    server.start()
    try:
        yield server
    finally:
        server.stop()
