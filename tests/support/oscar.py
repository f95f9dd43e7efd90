"""The example Django Oscar shop (examples/oscar) for tests: started with gunicorn on a socket the test
bound already, so a client can connect the moment it is returned (the connection waits in the backlog
until gunicorn's worker accepts it); no polling, no sleeps.

Tests that need it skip when `examples/oscar/setup` was not run, or fail when ETALAGE_REQUIRE_OSCAR=1
(as CI sets it, after running the setup). ETALAGE_OSCAR_STATE names another state folder than the
setup's default, examples/oscar/.state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config import REPO

__all__ = ["OSCAR", "copy_database", "manage", "oscar_state", "running_oscar"]

OSCAR = REPO / "examples" / "oscar"
# Only guards against a shop that never stops; gunicorn stops its worker in well under a second.
STOP_DEADLINE = 30.0


def oscar_state() -> Path:
    """The folder `examples/oscar/setup` made; skips the calling test without one (fails it under
    ETALAGE_REQUIRE_OSCAR=1)."""
    state = Path(os.environ.get("ETALAGE_OSCAR_STATE", OSCAR / ".state"))
    if not (state / "venv" / "bin" / "gunicorn").exists() or not (state / "db.sqlite3").exists():
        reason = f"the example Oscar shop is not set up in {state}: run examples/oscar/setup"
        if os.environ.get("ETALAGE_REQUIRE_OSCAR") == "1":
            pytest.fail(f"{reason} (ETALAGE_REQUIRE_OSCAR=1)", pytrace=False)
        pytest.skip(reason)
    return state


def _environment(state: Path, database: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PETSHOP_STATE": str(state), "PETSHOP_DB": str(database), **extra}


def manage(state: Path, database: Path, *args: str) -> str:
    """Run a `manage.py` command of the shop on `database`; its output."""
    command = [str(state / "venv" / "bin" / "python"), str(OSCAR / "manage.py"), *args]
    return subprocess.run(command, cwd=OSCAR, env=_environment(state, database), capture_output=True, text=True, check=True).stdout


@contextlib.contextmanager
def running_oscar(state: Path, database: Path, sock: socket.socket, **environment: str) -> Iterator[None]:
    """Serve the shop on `sock` (bound and listening) from `database` until the block ends."""
    command = [str(state / "venv" / "bin" / "gunicorn"), "petshop.wsgi", "--bind", f"fd://{sock.fileno()}", "--workers", "1"]
    command += ["--threads", "4", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=OSCAR, env=_environment(state, database, **environment), pass_fds=(sock.fileno(),))
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no grace period for a test's idle worker
        process.wait(timeout=STOP_DEADLINE)


def copy_database(state: Path, target: Path) -> Path:
    """A throwaway copy of the shop's database: tests add customers and orders to it, not to the setup's."""
    return Path(shutil.copyfile(state / "db.sqlite3", target / "db.sqlite3"))
