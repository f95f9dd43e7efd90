"""`etalage import`: customers from a CRM export into the profile store, with exit status and progress."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event
from etalage.profiles.store import StoreError
from etalage.rules.loader import load_rules
from etalage.tools.customers.command import _Progress, run_import
from tests.support.config import PROJECT_RULES
from tests.support.customers import EXPORTS, RETENTION, run_import_command, stored, summary, write_jsonl


def test_import_cli_end_to_end(tmp_path, capsys):
    profiles = tmp_path / "state" / "profiles.json"
    assert main(["import", str(EXPORTS / "customers.csv"), "--rules", str(PROJECT_RULES), "--profiles-file", str(profiles)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert summary(captured.err) == f"etalage import: {EXPORTS / 'customers.csv'}: loaded 3 customers, 0 bad rows, in S s"
    assert set(stored(profiles)) == {"c:C-1001", "c:C-1002", "c:C-1003"}


def test_import_exits_1_when_a_row_is_bad(tmp_path, capsys):
    path = write_jsonl(tmp_path, {"customer_id": "C-1"}, {"customer_id": "C-2", "newsletters": ["hamsters"]})
    assert run_import_command(path, tmp_path / "profiles.json") == 1
    assert summary(capsys.readouterr().err) == f"etalage import: {path}: loaded 1 customer, 1 bad row (1 customer not loaded), in S s"


def test_import_takes_the_profiles_file_from_the_environment(tmp_path, monkeypatch):
    profiles = tmp_path / "profiles.json"
    monkeypatch.setenv("ETALAGE_PROFILES_FILE", str(profiles))
    assert main(["import", str(EXPORTS / "customers.jsonl"), "--rules", str(PROJECT_RULES)]) == 0
    assert len(stored(profiles)) == 3


def test_import_refuses_to_import_into_memory_only(tmp_path, capsys):
    assert main(["import", str(EXPORTS / "customers.jsonl"), "--rules", str(PROJECT_RULES)]) == 2
    assert "import: give --redis-url (ETALAGE_REDIS_URL) or --profiles-file" in capsys.readouterr().err


def test_import_reports_a_missing_file(tmp_path, capsys):
    assert run_import_command(tmp_path / "missing.jsonl", tmp_path / "profiles.json") == 2
    assert f"cannot read {tmp_path / 'missing.jsonl'}: No such file or directory" in capsys.readouterr().err


def test_import_reports_an_unreadable_profiles_file_and_exits_2(tmp_path, capsys):
    profiles = tmp_path / "profiles.json"
    profiles.write_text("not a snapshot")
    assert run_import_command(EXPORTS / "customers.jsonl", profiles) == 2
    assert f"cannot read the profile file {profiles}" in capsys.readouterr().err


class _FailingStore(MemoryStore):
    def __init__(self, fail_on: str) -> None:
        super().__init__(retention=RETENTION)
        self._fail_on = fail_on

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        if customer_id == self._fail_on:
            raise StoreError("Redis: Connection refused")
        await super().record_customer(customer_id, events)


def test_import_store_failure_stops_with_a_clear_message_and_exit_2(tmp_path):
    store = _FailingStore("C-1002")
    err = io.StringIO()
    assert asyncio.run(run_import(EXPORTS / "customers.jsonl", store, load_rules(PROJECT_RULES), out=io.StringIO(), err=err)) == 2
    assert err.getvalue().splitlines() == [
        "etalage import: the profile store failed, import stopped: Redis: Connection refused",
        "etalage import: the customers written before are complete; importing the file again is safe",
    ]


def test_progress_is_a_bar_on_a_terminal_only(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = _Progress(EXPORTS / "customers.csv", stream)
        progress.update(5)
        progress.close()
    assert "importing:" in terminal.getvalue() and "0/5 [" in terminal.getvalue()  # rows of the file
    assert log.getvalue() == ""
