"""Running `etalage import` on a test export, and reading back the embedded store's file it wrote."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path

from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Profile
from tests.support.config import DATA, PROJECT_RULES

__all__ = ["EXPORTS", "RETENTION", "MARCH_1", "run_import_command", "write_lines", "write_jsonl", "load_profile", "stored", "summary"]

EXPORTS = DATA / "import"
RETENTION = 180 * 24 * 3600.0
MARCH_1 = 1772323200.0  # 2026-03-01T00:00:00Z


def run_import_command(path: Path, profiles: Path, *flags: str) -> int:
    return main(["import", str(path), "--profiles-file", str(profiles), "--rules", str(PROJECT_RULES), *flags])


def write_lines(tmp_path: Path, name: str, lines: Sequence[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def write_jsonl(tmp_path: Path, *customers: object) -> Path:
    return write_lines(tmp_path, "customers.jsonl", [c if isinstance(c, str) else json.dumps(c) for c in customers])


def load_profile(profiles: Path, customer_id: str) -> Profile | None:
    return asyncio.run(MemoryStore(retention=RETENTION, path=profiles).load_customer(customer_id))


def stored(profiles: Path) -> dict[str, bytes]:
    store = MemoryStore(retention=RETENTION, path=profiles)
    return {key: data for key, (_, data) in store._profiles.items()}


def summary(err: str) -> str:
    """The last line of stderr with the duration replaced by S."""
    return re.sub(r"in \d+\.\d s$", "in S s", err.splitlines()[-1])
