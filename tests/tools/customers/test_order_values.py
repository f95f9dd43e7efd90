"""Orders with their total and currency in the import (offline and point-of-sale orders): the profile's orders, as the events API records them."""

from __future__ import annotations

import pytest

from etalage.profiles.profile import Order
from tests.support.customers import MARCH_1, load_profile, run_import_command, write_jsonl, write_lines

HEADER = "customer_id,order,sku,date,quantity,value,currency"


def test_import_csv_order_lines_with_a_total_make_one_order(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_lines(
        tmp_path, "pos.csv", [HEADER, "C-1,POS-7,dog-kibble-5kg,2026-03-01,2,31.97,EUR", "C-1,POS-7,dog-rope-toy,2026-03-01,1,31.97,EUR"]
    )
    assert run_import_command(path, profiles) == 0
    profile = load_profile(profiles, "C-1")
    assert profile is not None and profile.orders == [Order("POS-7", 31.97, "EUR", MARCH_1)]
    assert {p.value for p in profile.purchases} == {31.97} and profile.lifecycle == "customer"


def test_import_jsonl_purchases_with_a_total_make_one_order(tmp_path):
    profiles = tmp_path / "profiles.json"
    lines = [{"order": "POS-7", "sku": "dog-rope-toy", "date": "2026-03-01", "value": 12.5, "currency": "EUR"}]
    assert run_import_command(write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": lines}), profiles) == 0
    assert load_profile(profiles, "C-1").orders == [Order("POS-7", 12.5, "EUR", MARCH_1)]  # type: ignore[union-attr]


def test_import_of_orders_with_totals_twice_counts_each_order_once(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_lines(tmp_path, "pos.csv", [HEADER, "C-1,POS-7,dog-kibble-5kg,2026-03-01,2,31.97,EUR"])
    run_import_command(path, profiles)
    run_import_command(path, profiles)
    assert len(load_profile(profiles, "C-1").orders) == 1  # type: ignore[union-attr]


def test_import_order_lines_without_a_total_make_no_order_record(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_lines(tmp_path, "pos.csv", [HEADER, "C-1,POS-7,dog-kibble-5kg,2026-03-01,2,,"])
    assert run_import_command(path, profiles) == 0
    assert load_profile(profiles, "C-1").orders == []  # type: ignore[union-attr]


def test_import_csv_lines_of_one_order_with_different_totals_load_nothing_of_the_customer(tmp_path, capsys):
    profiles = tmp_path / "profiles.json"
    rows = [
        HEADER,
        "C-1,POS-7,dog-kibble-5kg,2026-03-01,2,20.00,EUR",
        "C-1,POS-7,dog-rope-toy,2026-03-01,1,11.97,EUR",
        "C-2,,dog-rope-toy,2026-03-01,1,,",
    ]
    path = write_lines(tmp_path, "pos.csv", rows)
    assert run_import_command(path, profiles) == 1
    assert f"{path}:2: order 'POS-7' has the totals 20 EUR and 11.97 EUR on different lines" in capsys.readouterr().out
    assert load_profile(profiles, "C-1") is None and load_profile(profiles, "C-2") is not None


@pytest.mark.parametrize(
    ("value", "currency", "reason"),
    [
        ("25,98", "EUR", "value '25,98': write the order's total with a decimal point"),
        ("twelve", "EUR", "value 'twelve' is not a number"),
        ("-3", "EUR", "value '-3' is not an amount"),
        ("12.5", "", "currency '': expected an ISO 4217 code"),
        ("12.5", "eur", "currency 'eur': expected an ISO 4217 code"),
        ("", "EUR", "currency 'EUR' without a value"),
    ],
)
def test_import_explains_a_bad_total(tmp_path, capsys, value, currency, reason):
    profiles = tmp_path / "profiles.json"
    path = write_lines(tmp_path, "pos.csv", [HEADER, f'C-1,POS-7,dog-kibble-5kg,2026-03-01,2,"{value}",{currency}'])
    assert run_import_command(path, profiles) == 1
    assert f"{path}:2: {reason}" in capsys.readouterr().out and load_profile(profiles, "C-1") is None
