"""Checking customer fields (`etalage import`, the customers API): each field against the rule set, purchases into events."""

from __future__ import annotations

from tests.support.customers import MARCH_1, load_profile, run_import_command, write_jsonl


def test_import_dates_with_a_time_and_offset_are_kept_exactly(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(
        tmp_path,
        {
            "customer_id": "C-1",
            "purchases": [
                {"sku": "dog-rope-toy", "date": "2026-03-01T10:00:00+02:00"},
                {"sku": "cat-play-tunnel", "date": "2026-03-01T10:00:00"},
            ],
        },
    )
    assert run_import_command(path, profiles) == 0
    assert sorted(p.at for p in load_profile(profiles, "C-1").purchases) == [MARCH_1 + 8 * 3600, MARCH_1 + 10 * 3600]  # type: ignore[union-attr]


def test_import_row_with_one_bad_purchase_loads_nothing_of_that_customer(tmp_path):
    profiles = tmp_path / "profiles.json"
    good = {"sku": "dog-rope-toy", "date": "2026-03-01"}
    path = write_jsonl(
        tmp_path,
        {
            "customer_id": "C-1",
            "segments": ["vip"],
            "newsletters": ["dogs"],
            "purchases": [good, {"sku": "dog-rope-toy", "date": "2026-03-01", "quantity": -1}],
        },
    )
    assert run_import_command(path, profiles) == 1
    assert load_profile(profiles, "C-1") is None


def test_import_refuses_an_unknown_purchase_category(tmp_path, capsys):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "category": "dog", "date": "2026-03-01"}]})
    assert run_import_command(path, profiles) == 1
    assert capsys.readouterr().out == (
        f"{path}:1: purchase 1: category 'dog' is not a category of the rule set (did you mean 'dogs'?) (categories are: dogs, cats, rodents, birds, fish)\n"
    )
    assert load_profile(profiles, "C-1") is None


def test_import_refuses_a_purchase_without_category_whose_sku_is_not_in_the_catalog(tmp_path, capsys):
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "gift-card", "date": "2026-03-01"}]})
    assert run_import_command(path, tmp_path / "profiles.json") == 1
    assert (
        capsys.readouterr().out
        == f"{path}:1: purchase 1: no category, and sku 'gift-card' is not in the rule set's catalog to take it from\n"
    )


def test_import_refuses_a_date_in_the_future(tmp_path, capsys):
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "dog-rope-toy", "date": "2999-01-01"}]})
    assert run_import_command(path, tmp_path / "profiles.json") == 1
    assert capsys.readouterr().out == f"{path}:1: purchase 1: date '2999-01-01' is in the future\n"


def test_import_takes_the_category_from_the_catalog(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "purchases": [{"sku": "cat-play-tunnel", "date": "2026-03-01"}]})
    assert run_import_command(path, profiles) == 0
    assert load_profile(profiles, "C-1").purchases[0].category == "cats"  # type: ignore[union-attr]


def test_import_derives_one_order_id_per_customer_and_day(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(
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
    assert run_import_command(path, profiles) == 0
    profile = load_profile(profiles, "C-1")
    assert profile is not None
    assert [(p.order, p.sku) for p in profile.purchases] == [
        ("import:2026-03-01", "cat-play-tunnel"),
        ("import:2026-03-01", "dog-rope-toy"),
        ("import:2026-03-04", "dog-rope-toy"),
    ]
    assert profile.lifecycle == "repeat_customer"
