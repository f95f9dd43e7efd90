"""`etalage import`: customers from a CRM export (CSV or JSON Lines) into the embedded store's file."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from etalage.cli import main
from etalage.profiles.memory import MemoryStore
from etalage.profiles.profile import Event, Profile, Purchase
from etalage.profiles.store import StoreError
from etalage.rules.loader import load_rules
from etalage.tools.importer import Checker, Record, _Progress, import_records, run_import
from tests.support.config import DATA as TEST_DATA
from tests.support.config import PROJECT_RULES

DATA = TEST_DATA / "import"
RETENTION = 180 * 24 * 3600.0
MARCH_1 = 1772323200.0  # 2026-03-01T00:00:00Z


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ETALAGE_REDIS_URL", "ETALAGE_PROFILES_FILE", "ETALAGE_RULES_DIR"):
        monkeypatch.delenv(name, raising=False)


def _import(path: Path, profiles: Path, *flags: str) -> int:
    return main(["import", str(path), "--profiles-file", str(profiles), "--rules", str(PROJECT_RULES), *flags])


def _write(tmp_path: Path, name: str, lines: Sequence[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _jsonl(tmp_path: Path, *customers: object) -> Path:
    return _write(tmp_path, "customers.jsonl", [c if isinstance(c, str) else json.dumps(c) for c in customers])


def _profile(profiles: Path, customer_id: str) -> Profile | None:
    return asyncio.run(MemoryStore(retention=RETENTION, path=profiles).load_customer(customer_id))


def _stored(profiles: Path) -> dict[str, bytes]:
    store = MemoryStore(retention=RETENTION, path=profiles)
    return {key: data for key, data in store._profiles.items()}


def _bad_rows(out: str) -> list[str]:
    return out.splitlines()


def _summary(err: str) -> str:
    """The last line of stderr with the duration replaced by S."""
    return re.sub(r"in \d+\.\d s$", "in S s", err.splitlines()[-1])


# -- good files -----------------------------------------------------------------------------------


def test_import_jsonl_file_loads_its_customers(tmp_path):
    profiles = tmp_path / "profiles.json"
    assert _import(DATA / "customers.jsonl", profiles) == 0
    first = _profile(profiles, "C-1001")
    assert first is not None
    assert first.customer_id == "C-1001"
    assert first.segments == {"vip", "loyal"}
    assert first.newsletters == {"dogs"}
    assert first.purchases == [Purchase("PC-1", "dog-kibble-5kg", "dogs", MARCH_1, 2), Purchase("PC-1", "dog-rope-toy", "dogs", MARCH_1, 1)]
    assert _profile(profiles, "C-1002").newsletters == {"cats", "fish"}  # type: ignore[union-attr]
    assert _profile(profiles, "C-1003").segments == {"b2b"}  # type: ignore[union-attr]


def test_import_csv_file_loads_the_same_customers_as_the_jsonl_file(tmp_path):
    from_csv, from_jsonl = tmp_path / "csv.json", tmp_path / "jsonl.json"
    assert _import(DATA / "customers.csv", from_csv) == 0
    assert _import(DATA / "customers.jsonl", from_jsonl) == 0
    for customer_id in ("C-1001", "C-1002", "C-1003"):
        csv_profile, jsonl_profile = _profile(from_csv, customer_id), _profile(from_jsonl, customer_id)
        assert csv_profile is not None and jsonl_profile is not None
        assert csv_profile.dumps() == jsonl_profile.dumps()


def test_import_csv_adjacent_rows_of_a_customer_make_one_profile(tmp_path):
    profiles = tmp_path / "profiles.json"
    assert _import(DATA / "customers.csv", profiles) == 0
    assert [p.sku for p in _profile(profiles, "C-1001").purchases] == ["dog-kibble-5kg", "dog-rope-toy"]  # type: ignore[union-attr]
    assert len(_stored(profiles)) == 3


def test_import_csv_semicolon_separated_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffcustomer_id;newsletters;sku;date\r\nC-1;dogs|cats;dog-rope-toy;2026-03-01\r\n".encode())
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles) == 0
    profile = _profile(profiles, "C-1")
    assert profile is not None and profile.newsletters == {"dogs", "cats"} and profile.purchases[0].sku == "dog-rope-toy"


def test_import_dates_with_a_time_and_offset_are_kept_exactly(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = _jsonl(
        tmp_path,
        {
            "customer_id": "C-1",
            "purchases": [
                {"sku": "dog-rope-toy", "date": "2026-03-01T10:00:00+02:00"},
                {"sku": "cat-play-tunnel", "date": "2026-03-01T10:00:00"},
            ],
        },
    )
    assert _import(path, profiles) == 0
    assert sorted(p.at for p in _profile(profiles, "C-1").purchases) == [MARCH_1 + 8 * 3600, MARCH_1 + 10 * 3600]  # type: ignore[union-attr]


def test_import_format_flag_overrides_the_extension(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text((DATA / "customers.jsonl").read_text())
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles, "--format", "jsonl") == 0
    assert _profile(profiles, "C-1002") is not None


# -- bad rows -------------------------------------------------------------------------------------


def test_import_reports_bad_rows_as_file_line_reason_while_good_rows_load(tmp_path, capsys):
    path = _jsonl(
        tmp_path,
        {"customer_id": "C-1", "newsletters": ["dogs"]},
        {"customer_id": "", "newsletters": ["dogs"]},
        "",
        {"customer_id": "C-3", "newsletters": ["hamsters"]},
        "{not json",
        {
            "customer_id": "C-5",
            "purchases": [{"sku": "dog-rope-toy", "date": "01/03/2026"}, {"sku": "dog-rope-toy", "date": "2026-03-01", "quantity": 0}],
        },
        {"customer_id": "C 6"},
        {"customer_id": "C-7", "newsletters": ["cats"]},
    )
    profiles = tmp_path / "profiles.json"
    _import(path, profiles)
    reported = _bad_rows(capsys.readouterr().out)
    # The JSON parser's own words follow "not valid JSON: " and vary with its version.
    assert reported[2].startswith(f"{path}:5: not valid JSON: ") and "line 1 column 2" in reported[2]
    reported[2] = f"{path}:5: not valid JSON"
    assert reported == [
        f"{path}:2: customer_id is missing",
        f"{path}:4: newsletter category 'hamsters' is not a category of the rule set (categories are: dogs, cats, rodents, birds, fish)",
        f"{path}:5: not valid JSON",
        f"{path}:6: purchase 1: date '01/03/2026' is not an ISO 8601 date (2026-03-01 or 2026-03-01T14:30:00)",
        f"{path}:6: purchase 2: quantity must be a whole number of at least 1, got 0",
        f"{path}:7: customer_id 'C 6' contains spaces or control characters",
    ]
    assert set(_stored(profiles)) == {"c:C-1", "c:C-7"}


def test_import_csv_bad_rows_are_reported_with_their_line(tmp_path, capsys):
    path = _write(
        tmp_path,
        "customers.csv",
        [
            "customer_id,newsletters,order,sku,category,date,quantity",
            "C-1,dogs,,,,,",
            'C-2,,,dog-rope-toy,,"2026-03-01',
            '",x',  # the quoted date spans two lines: the row is reported at its first
            "C-3,,,dog-rope-toy,,2026-03-01,2",
            ",dogs,,,,,",
        ],
    )
    _import(path, tmp_path / "profiles.json")
    assert _bad_rows(capsys.readouterr().out) == [
        f"{path}:3: quantity must be a whole number of at least 1, got 'x'",
        f"{path}:6: customer_id is missing",
    ]


def test_import_exits_1_when_a_row_is_bad(tmp_path, capsys):
    path = _jsonl(tmp_path, {"customer_id": "C-1"}, {"customer_id": "C-2", "newsletters": ["hamsters"]})
    assert _import(path, tmp_path / "profiles.json") == 1
    assert _summary(capsys.readouterr().err) == f"etalage import: {path}: loaded 1 customer, 1 bad row (1 customer not loaded), in S s"


def test_import_row_with_one_bad_purchase_loads_nothing_of_that_customer(tmp_path):
    profiles = tmp_path / "profiles.json"
    good = {"sku": "dog-rope-toy", "date": "2026-03-01"}
    path = _jsonl(
        tmp_path,
        {
            "customer_id": "C-1",
            "segments": ["vip"],
            "newsletters": ["dogs"],
            "purchases": [good, {"sku": "dog-rope-toy", "date": "2026-03-01", "quantity": -1}],
        },
    )
    assert _import(path, profiles) == 1
    assert _profile(profiles, "C-1") is None


def test_import_csv_customer_with_one_bad_line_loads_none_of_its_lines(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = _write(
        tmp_path,
        "customers.csv",
        [
            "customer_id,segments,sku,date,quantity",
            "C-1,vip,dog-rope-toy,2026-03-01,1",
            "C-1,vip,cat-play-tunnel,2026-03-02,none",
            "C-1,vip,fish-net-medium,2026-03-03,1",
            "C-2,,fish-net-medium,2026-03-03,1",
        ],
    )
    assert _import(path, profiles) == 1
    assert set(_stored(profiles)) == {"c:C-2"}


def test_import_refuses_an_unknown_purchase_category(tmp_path, capsys):
    profiles = tmp_path / "profiles.json"
    path = _jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "category": "dog", "date": "2026-03-01"}]})
    assert _import(path, profiles) == 1
    assert capsys.readouterr().out == (
        f"{path}:1: purchase 1: category 'dog' is not a category of the rule set (did you mean 'dogs'?) (categories are: dogs, cats, rodents, birds, fish)\n"
    )
    assert _profile(profiles, "C-1") is None


def test_import_refuses_a_purchase_without_category_whose_sku_is_not_in_the_catalog(tmp_path, capsys):
    path = _jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "gift-card", "date": "2026-03-01"}]})
    assert _import(path, tmp_path / "profiles.json") == 1
    assert (
        capsys.readouterr().out
        == f"{path}:1: purchase 1: no category, and sku 'gift-card' is not in the rule set's catalog to take it from\n"
    )


def test_import_refuses_a_date_in_the_future(tmp_path, capsys):
    path = _jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "date": "2999-01-01"}]})
    assert _import(path, tmp_path / "profiles.json") == 1
    assert capsys.readouterr().out == f"{path}:1: purchase 1: date '2999-01-01' is in the future\n"


def test_import_reports_a_row_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"customer_id,segments\nC-1,vip\nC-2,caf\xe9\nC-3,vip\n")
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles) == 1
    assert capsys.readouterr().out == f"{path}:3: not valid UTF-8 text (save the export as UTF-8)\n"
    assert set(_stored(profiles)) == {"c:C-1", "c:C-3"}


def test_import_refuses_a_misspelt_key_and_ignores_other_unknown_ones(tmp_path, capsys):
    path = _jsonl(
        tmp_path,
        {"customer_id": "C-1", "email": "a@example.com"},
        {"customer_id": "C-2", "newsleters": ["dogs"]},
        {"customer_id": "C-3", "email": "b@example.com"},
    )
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{path}:2: unknown key 'newsleters' (did you mean 'newsletters'?)\n"
    assert f"{path}:1: ignoring the unknown key 'email'" in captured.err.splitlines()
    assert set(_stored(profiles)) == {"c:C-1", "c:C-3"}


def test_import_refuses_a_csv_file_with_a_misspelt_column(tmp_path, capsys):
    path = _write(tmp_path, "customers.csv", ["customer_id,newsleters", "C-1,dogs"])
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles) == 2
    assert f"{path}:1: unknown column 'newsleters' (did you mean 'newsletters'?)" in capsys.readouterr().err
    assert not profiles.exists()


def test_import_refuses_a_csv_file_without_a_customer_id_column(tmp_path, capsys):
    path = _write(tmp_path, "customers.csv", ["id,newsletters", "C-1,dogs"])
    assert _import(path, tmp_path / "profiles.json") == 2
    assert f"{path}:1: no customer_id column" in capsys.readouterr().err


# -- purchases ------------------------------------------------------------------------------------


def test_import_takes_the_category_from_the_catalog(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = _jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "cat-play-tunnel", "date": "2026-03-01"}]})
    assert _import(path, profiles) == 0
    assert _profile(profiles, "C-1").purchases[0].category == "cats"  # type: ignore[union-attr]


def test_import_derives_one_order_id_per_customer_and_day(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = _jsonl(
        tmp_path,
        {
            "customer_id": "C-1",
            "purchases": [
                {"sku": "cat-play-tunnel", "date": "2026-03-01"},
                {"sku": "dog-rope-toy", "date": "2026-03-01T18:00:00"},
                {"sku": "dog-rope-toy", "date": "2026-03-04"},
            ],
        },
    )
    assert _import(path, profiles) == 0
    profile = _profile(profiles, "C-1")
    assert profile is not None
    assert [(p.order, p.sku) for p in profile.purchases] == [
        ("import:2026-03-01", "cat-play-tunnel"),
        ("import:2026-03-01", "dog-rope-toy"),
        ("import:2026-03-04", "dog-rope-toy"),
    ]
    assert profile.lifecycle == "repeat_customer"


# -- idempotence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["customers.jsonl", "customers.csv"])
def test_import_twice_changes_no_profile(tmp_path, name):
    profiles = tmp_path / "profiles.json"
    assert _import(DATA / name, profiles) == 0
    first = _stored(profiles)
    assert _import(DATA / name, profiles) == 0
    assert _stored(profiles) == first


def test_import_twice_without_order_ids_adds_no_purchase(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = _jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "date": "2026-03-01"}]})
    _import(path, profiles)
    _import(path, profiles)
    assert len(_profile(profiles, "C-1").purchases) == 1  # type: ignore[union-attr]


def test_import_keeps_what_the_profile_already_knew(tmp_path):
    profiles = tmp_path / "profiles.json"

    async def browse() -> None:
        store = MemoryStore(retention=RETENTION, path=profiles)
        await store.record_customer("C-1001", [Event("category_view", "fish", MARCH_1)])
        await store.aclose()

    asyncio.run(browse())
    assert _import(DATA / "customers.jsonl", profiles) == 0
    profile = _profile(profiles, "C-1001")
    assert profile is not None and profile.category_views == {"fish": 1} and profile.newsletters == {"dogs"}


# -- the command ----------------------------------------------------------------------------------


def test_import_cli_end_to_end(tmp_path, capsys):
    profiles = tmp_path / "state" / "profiles.json"
    assert main(["import", str(DATA / "customers.csv"), "--rules", str(PROJECT_RULES), "--profiles-file", str(profiles)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert _summary(captured.err) == f"etalage import: {DATA / 'customers.csv'}: loaded 3 customers, 0 bad rows, in S s"
    assert set(_stored(profiles)) == {"c:C-1001", "c:C-1002", "c:C-1003"}


def test_import_takes_the_profiles_file_from_the_environment(tmp_path, monkeypatch):
    profiles = tmp_path / "profiles.json"
    monkeypatch.setenv("ETALAGE_PROFILES_FILE", str(profiles))
    assert main(["import", str(DATA / "customers.jsonl"), "--rules", str(PROJECT_RULES)]) == 0
    assert len(_stored(profiles)) == 3


def test_import_refuses_to_import_into_memory_only(tmp_path, capsys):
    assert main(["import", str(DATA / "customers.jsonl"), "--rules", str(PROJECT_RULES)]) == 2
    assert "nowhere to keep the profiles; give --redis-url (ETALAGE_REDIS_URL) or --profiles-file" in capsys.readouterr().err


def test_import_refuses_a_file_of_unknown_format(tmp_path, capsys):
    path = tmp_path / "export.txt"
    path.write_text("{}\n")
    assert _import(path, tmp_path / "profiles.json") == 2
    assert "cannot tell the format from the extension '.txt'" in capsys.readouterr().err


def test_import_reports_a_missing_file(tmp_path, capsys):
    assert _import(tmp_path / "missing.jsonl", tmp_path / "profiles.json") == 2
    assert f"cannot read {tmp_path / 'missing.jsonl'}: No such file or directory" in capsys.readouterr().err


def test_import_reports_an_unreadable_profiles_file_and_exits_2(tmp_path, capsys):
    profiles = tmp_path / "profiles.json"
    profiles.write_text("not a snapshot")
    assert _import(DATA / "customers.jsonl", profiles) == 2
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
    assert asyncio.run(run_import(DATA / "customers.jsonl", store, load_rules(PROJECT_RULES), out=io.StringIO(), err=err)) == 2
    assert err.getvalue().splitlines() == [
        "etalage import: the profile store failed, import stopped: Redis: Connection refused",
        "etalage import: the customers written before are complete; importing the file again is safe",
    ]


# -- scale and stores that queue ------------------------------------------------------------------


def test_import_10000_generated_customers(tmp_path):
    path = tmp_path / "many.csv"
    with path.open("w") as out:
        out.write("customer_id,segments,newsletters,order,sku,category,date,quantity\n")
        for n in range(10_000):
            out.write(f"C-{n},vip,dogs|cats,O-{n},dog-kibble-5kg,,2026-0{n % 9 + 1}-1{n % 10},{n % 3 + 1}\n")
            out.write(f"C-{n},vip,dogs|cats,O-{n},cat-play-tunnel,cats,2026-0{n % 9 + 1}-1{n % 10},1\n")
    profiles = tmp_path / "profiles.json"
    assert _import(path, profiles) == 0
    stored = _stored(profiles)
    assert len(stored) == 10_000
    assert len(Profile.loads(stored["c:C-9999"]).purchases) == 2


class _QueueingStore(MemoryStore):
    """Stands in for RedisStore: writes take a turn of the event loop, and queued writes need flush()."""

    def __init__(self) -> None:
        super().__init__(retention=RETENTION)
        self.running = 0
        self.most_running = 0
        self.flushes = 0

    async def record_customer(self, customer_id: str, events: Sequence[Event]) -> None:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(0)  # yield to the loop, as a network write would
        await super().record_customer(customer_id, events)
        self.running -= 1

    async def flush(self) -> None:
        self.flushes += 1


def test_import_bounds_concurrent_store_calls_and_flushes_a_queueing_store():
    checker = Checker(load_rules(PROJECT_RULES), now=MARCH_1)
    records = [Record(f"C-{n}", n, n, checker.base_events(f"C-{n}", ["vip"], ["dogs"])) for n in range(1, 3001)]
    store = _QueueingStore()

    async def run() -> None:
        result = await import_records(store, records, concurrency=8)
        assert result.customers == 3000
        assert await store.load_customer("C-3000") is not None

    asyncio.run(run())
    assert 1 < store.most_running <= 8
    assert store.flushes >= 2  # 9000 events: once on the way (every 5000) and once at the end


def test_import_progress_is_a_bar_on_a_terminal_only(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = _Progress(DATA / "customers.csv", stream)
        progress.update(5)
        progress.close()
    assert "importing:" in terminal.getvalue() and "0/5 [" in terminal.getvalue()  # rows of the file
    assert log.getvalue() == ""
