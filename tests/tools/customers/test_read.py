"""etalage.tools.customers.read: CRM exports as CSV (order lines) or JSON Lines, bad rows by file and line."""

from __future__ import annotations

from etalage.profiles.profile import Purchase
from tests.support.customers import EXPORTS, MARCH_1, load_profile, run_import_command, stored, write_jsonl, write_lines


def test_import_jsonl_file_loads_its_customers(tmp_path):
    profiles = tmp_path / "profiles.json"
    assert run_import_command(EXPORTS / "customers.jsonl", profiles) == 0
    first = load_profile(profiles, "C-1001")
    assert first is not None
    assert first.customer_id == "C-1001"
    assert first.segments == {"vip", "loyal"}
    assert first.newsletters == {"dogs"}
    assert first.purchases == [Purchase("PC-1", "dog-kibble-5kg", "dogs", MARCH_1, 2), Purchase("PC-1", "dog-rope-toy", "dogs", MARCH_1, 1)]
    assert load_profile(profiles, "C-1002").newsletters == {"cats", "fish"}  # type: ignore[union-attr]
    assert load_profile(profiles, "C-1003").segments == {"b2b"}  # type: ignore[union-attr]


def test_import_csv_file_loads_the_same_customers_as_the_jsonl_file(tmp_path):
    from_csv, from_jsonl = tmp_path / "csv.json", tmp_path / "jsonl.json"
    assert run_import_command(EXPORTS / "customers.csv", from_csv) == 0
    assert run_import_command(EXPORTS / "customers.jsonl", from_jsonl) == 0
    for customer_id in ("C-1001", "C-1002", "C-1003"):
        csv_profile, jsonl_profile = load_profile(from_csv, customer_id), load_profile(from_jsonl, customer_id)
        assert csv_profile is not None and jsonl_profile is not None
        assert csv_profile.dumps() == jsonl_profile.dumps()


def test_import_csv_adjacent_rows_of_a_customer_make_one_profile(tmp_path):
    profiles = tmp_path / "profiles.json"
    assert run_import_command(EXPORTS / "customers.csv", profiles) == 0
    assert [p.sku for p in load_profile(profiles, "C-1001").purchases] == ["dog-kibble-5kg", "dog-rope-toy"]  # type: ignore[union-attr]
    assert len(stored(profiles)) == 3


def test_import_csv_semicolon_separated_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffcustomer_id;newsletters;sku;date\r\nC-1;dogs|cats;dog-rope-toy;2026-03-01\r\n".encode())
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles) == 0
    profile = load_profile(profiles, "C-1")
    assert profile is not None and profile.newsletters == {"dogs", "cats"} and profile.purchases[0].sku == "dog-rope-toy"


def test_import_format_flag_overrides_the_extension(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text((EXPORTS / "customers.jsonl").read_text())
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles, "--format", "jsonl") == 0
    assert load_profile(profiles, "C-1002") is not None


def test_import_refuses_a_file_of_unknown_format(tmp_path, capsys):
    path = tmp_path / "export.txt"
    path.write_text("{}\n")
    assert run_import_command(path, tmp_path / "profiles.json") == 2
    assert "cannot tell the format from the extension '.txt'" in capsys.readouterr().err


def test_import_reports_bad_rows_as_file_line_reason_while_good_rows_load(tmp_path, capsys):
    path = write_jsonl(
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
    run_import_command(path, profiles)
    reported = capsys.readouterr().out.splitlines()
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
    assert set(stored(profiles)) == {"c:C-1", "c:C-7"}


def test_import_csv_bad_rows_are_reported_with_their_line(tmp_path, capsys):
    path = write_lines(
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
    run_import_command(path, tmp_path / "profiles.json")
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:3: quantity must be a whole number of at least 1, got 'x'",
        f"{path}:6: customer_id is missing",
    ]


def test_import_csv_customer_with_one_bad_line_loads_none_of_its_lines(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_lines(
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
    assert run_import_command(path, profiles) == 1
    assert set(stored(profiles)) == {"c:C-2"}


def test_import_reports_a_row_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"customer_id,segments\nC-1,vip\nC-2,caf\xe9\nC-3,vip\n")
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles) == 1
    assert capsys.readouterr().out == f"{path}:3: not valid UTF-8 text (save the export as UTF-8)\n"
    assert set(stored(profiles)) == {"c:C-1", "c:C-3"}


def test_import_refuses_a_misspelt_key_and_ignores_other_unknown_ones(tmp_path, capsys):
    path = write_jsonl(
        tmp_path,
        {"customer_id": "C-1", "email": "a@example.com"},
        {"customer_id": "C-2", "newsleters": ["dogs"]},
        {"customer_id": "C-3", "email": "b@example.com"},
    )
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{path}:2: unknown key 'newsleters' (did you mean 'newsletters'?)\n"
    assert f"{path}:1: ignoring the unknown key 'email'" in captured.err.splitlines()
    assert set(stored(profiles)) == {"c:C-1", "c:C-3"}


def test_import_refuses_a_csv_file_with_a_misspelt_column(tmp_path, capsys):
    path = write_lines(tmp_path, "customers.csv", ["customer_id,newsleters", "C-1,dogs"])
    profiles = tmp_path / "profiles.json"
    assert run_import_command(path, profiles) == 2
    assert f"{path}:1: unknown column 'newsleters' (did you mean 'newsletters'?)" in capsys.readouterr().err
    assert not profiles.exists()


def test_import_refuses_a_csv_file_without_a_customer_id_column(tmp_path, capsys):
    path = write_lines(tmp_path, "customers.csv", ["id,newsletters", "C-1,dogs"])
    assert run_import_command(path, tmp_path / "profiles.json") == 2
    assert f"{path}:1: no customer_id column" in capsys.readouterr().err


def test_import_a_quantity_beyond_any_order_line_is_a_bad_row_not_a_traceback(tmp_path, capsys):
    path = write_jsonl(
        tmp_path,
        {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "date": "2026-03-01", "quantity": 10**18}]},
        {"customer_id": "C-2", "purchases": [{"sku": "dog-rope-toy", "date": "2026-03-01", "quantity": "123456789012345678901234"}]},
        {"customer_id": "C-3", "newsletters": ["dogs"]},
    )
    profiles = tmp_path / "profiles.json"
    run_import_command(path, profiles)
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:1: purchase 1: quantity 1000000000000000000 is more than 100,000 on one order line; is this column the quantity?",
        f"{path}:2: purchase 1: quantity '123456789012345678901234' is more than 100,000 on one order line; is this column the quantity?",
    ]
    assert set(stored(profiles)) == {"c:C-3"}
