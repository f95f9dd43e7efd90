"""`etalage import --replace`: segments and newsletters that mirror the CRM instead of adding up."""

from __future__ import annotations

import pytest

from tests.support.customers import load_profile, run_import_command, write_jsonl, write_lines


def imported(tmp_path, *runs: tuple[object, ...], flags: tuple[str, ...] = ("--replace", "segments,newsletters")):
    """Import each run of JSON Lines customers in turn (the last with `flags`); C-1's profile."""
    profiles = tmp_path / "profiles.json"
    for index, customers in enumerate(runs):
        path = write_jsonl(tmp_path, *customers)
        run_import_command(path, profiles, *(flags if index == len(runs) - 1 else ()))
    return load_profile(profiles, "C-1")


def test_import_replace_drops_a_segment_the_crm_dropped(tmp_path):
    profile = imported(tmp_path, ({"customer_id": "C-1", "segments": ["vip", "loyal"]},), ({"customer_id": "C-1", "segments": ["loyal"]},))
    assert profile is not None and profile.segments == {"loyal"}


def test_import_replace_drops_a_newsletter_the_crm_dropped(tmp_path):
    first = ({"customer_id": "C-1", "newsletters": ["dogs", "cats"]},)
    profile = imported(tmp_path, first, ({"customer_id": "C-1", "newsletters": ["cats"]},))
    assert profile is not None and profile.newsletters == {"cats"}


def test_import_replace_with_an_empty_list_leaves_none(tmp_path):
    profile = imported(tmp_path, ({"customer_id": "C-1", "segments": ["vip"]},), ({"customer_id": "C-1", "segments": []},))
    assert profile is not None and profile.segments == set()


def test_import_replace_leaves_a_field_the_line_does_not_carry(tmp_path):
    profile = imported(tmp_path, ({"customer_id": "C-1", "segments": ["vip"]},), ({"customer_id": "C-1", "newsletters": ["cats"]},))
    assert profile is not None and profile.segments == {"vip"}


def test_import_replace_only_the_named_field(tmp_path):
    first = ({"customer_id": "C-1", "segments": ["vip"], "newsletters": ["dogs"]},)
    second = ({"customer_id": "C-1", "segments": ["loyal"], "newsletters": ["cats"]},)
    profile = imported(tmp_path, first, second, flags=("--replace", "segments"))
    assert profile is not None and (profile.segments, profile.newsletters) == ({"loyal"}, {"dogs", "cats"})


def test_import_without_replace_still_adds(tmp_path):
    profile = imported(tmp_path, ({"customer_id": "C-1", "segments": ["vip"]},), ({"customer_id": "C-1", "segments": ["loyal"]},), flags=())
    assert profile is not None and profile.segments == {"vip", "loyal"}


def test_import_replace_twice_changes_nothing(tmp_path):
    profiles = tmp_path / "profiles.json"
    path = write_jsonl(tmp_path, {"customer_id": "C-1", "segments": ["loyal"]})
    run_import_command(path, profiles, "--replace", "segments")
    first = load_profile(profiles, "C-1")
    run_import_command(path, profiles, "--replace", "segments")
    assert load_profile(profiles, "C-1") == first


def test_import_replace_csv_unites_the_rows_of_one_customer(tmp_path):
    profiles = tmp_path / "profiles.json"
    run_import_command(write_jsonl(tmp_path, {"customer_id": "C-1", "segments": ["vip"]}), profiles)
    csv = write_lines(
        tmp_path, "crm.csv", ["customer_id,segments,sku,date", "C-1,loyal,dog-rope-toy,2026-03-01", "C-1,new,dog-rope-toy,2026-03-02"]
    )
    run_import_command(csv, profiles, "--replace", "segments")
    profile = load_profile(profiles, "C-1")
    assert profile is not None and profile.segments == {"loyal", "new"}


def test_import_replace_bad_row_keeps_the_old_segments(tmp_path):
    """A bad line loads nothing: the customer is not left with their segments half replaced."""
    bad = ({"customer_id": "C-1", "segments": ["loyal"], "newsletters": ["no-such-category"]},)
    profile = imported(tmp_path, ({"customer_id": "C-1", "segments": ["vip"]},), bad)
    assert profile is not None and profile.segments == {"vip"}


def test_import_replace_refuses_an_unknown_field(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_import_command(write_jsonl(tmp_path, {"customer_id": "C-1"}), tmp_path / "p.json", "--replace", "purchases")
    assert "--replace takes segments, newsletters" in capsys.readouterr().err
