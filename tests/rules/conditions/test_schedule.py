"""Conditions on time (etalage.rules.conditions.schedule): weekday and hour windows in a time zone, date schedules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from etalage.rules.conditions import Verdict
from tests.rules.conditions.helpers import AMSTERDAM, verdict, visit, when

# -- time windows ------------------------------------------------------------------------------


def at(year: int, month: int, day: int, hour: int, minute: int = 0, zone: ZoneInfo = AMSTERDAM) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


WEEKEND_EVENING = '{ time = { days = ["sat", "sun"], from = "18:00", to = "23:00", timezone = "Europe/Amsterdam" } }'


def test_time_window_holds_inside():
    # Saturday 15 March 2025, 19:30 in Amsterdam.
    assert verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 15, 19, 30))) == Verdict(True, "it is Sat 19:30 in Europe/Amsterdam")


def test_time_window_end_is_exclusive():
    result = verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 15, 23, 0)))
    assert result == Verdict(False, "it is Sat 23:00 in Europe/Amsterdam, outside Sat, Sun 18:00 to 23:00")


def test_time_window_wrong_day_fails():
    result = verdict(when(WEEKEND_EVENING), visit(now=at(2025, 3, 14, 19, 30)))
    assert result == Verdict(False, "it is Fri 19:30 in Europe/Amsterdam, outside Sat, Sun 18:00 to 23:00")


def test_time_window_uses_its_time_zone():
    # 19:30 in Amsterdam is 14:30 in New York: the same instant, outside a New York evening window.
    condition = when('{ time = { from = "18:00", to = "23:00", timezone = "America/New_York" } }')
    result = verdict(condition, visit(now=at(2025, 3, 15, 19, 30)))
    assert result == Verdict(False, "it is Sat 14:30 in America/New_York, outside 18:00 to 23:00")
    assert verdict(condition, visit(now=at(2025, 3, 15, 19, 30, ZoneInfo("America/New_York")))).ok


def test_time_window_follows_daylight_saving():
    # Amsterdam moves to summer time on 30 March 2025: 9:00 local is 8:00 UTC before, 7:00 UTC after.
    condition = when('{ time = { from = "09:00", to = "10:00", timezone = "Europe/Amsterdam" } }')
    utc = ZoneInfo("UTC")
    assert verdict(condition, visit(now=at(2025, 3, 29, 8, 30, utc))).ok
    assert verdict(condition, visit(now=at(2025, 3, 31, 7, 30, utc))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 31, 8, 30, utc))).ok


def test_time_window_across_midnight_belongs_to_its_first_day():
    condition = when('{ time = { days = ["fri"], from = "22:00", to = "02:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 14, 23, 0))).ok  # Friday 23:00
    assert verdict(condition, visit(now=at(2025, 3, 15, 1, 30))) == Verdict(True, "it is Sat 01:30 in Europe/Amsterdam")
    assert not verdict(condition, visit(now=at(2025, 3, 14, 1, 30))).ok  # Friday 01:30 is Thursday night
    assert not verdict(condition, visit(now=at(2025, 3, 15, 2, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 15, 22, 30))).ok  # Saturday night


def test_time_window_across_midnight_every_day():
    condition = when('{ time = { from = "22:00", to = "06:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 17, 3, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 17, 12, 0))).ok


def test_time_days_only_and_full_day_names():
    condition = when('{ time = { days = ["Saturday", "sun"], timezone = "Europe/Amsterdam" } }')
    assert condition.describe() == "Sat, Sun (Europe/Amsterdam)"
    assert verdict(condition, visit(now=at(2025, 3, 16, 0, 0))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 17, 0, 0))).ok


def test_time_until_the_end_of_the_day_and_toml_times():
    condition = when('{ time = { from = 20:00:00, to = "24:00", timezone = "Europe/Amsterdam" } }')
    assert verdict(condition, visit(now=at(2025, 3, 17, 23, 59))).ok
    assert not verdict(condition, visit(now=at(2025, 3, 18, 0, 0))).ok


# -- dates -------------------------------------------------------------------------------------


SPRING = '{ dates = { from = 2025-03-01, until = 2025-03-31, timezone = "Europe/Amsterdam" } }'


def test_dates_hold_inside_the_schedule():
    assert verdict(when(SPRING), visit()) == Verdict(True, "scheduled from 2025-03-01 until 2025-03-31")


def test_dates_have_not_started():
    early = datetime(2025, 2, 28, 23, 59, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=early)).reason == "not started yet (scheduled from 2025-03-01 until 2025-03-31)"


def test_dates_until_includes_the_whole_last_day():
    last_evening = datetime(2025, 3, 31, 23, 59, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=last_evening)).ok


def test_dates_have_ended():
    after = datetime(2025, 4, 1, 0, 0, tzinfo=AMSTERDAM).timestamp()
    assert verdict(when(SPRING), visit(now=after)).reason == "ended (scheduled from 2025-03-01 until 2025-03-31)"


def test_dates_with_an_offset_need_no_time_zone():
    assert not verdict(when("{ dates = { until = 2025-03-14T10:00:00Z } }"), visit()).ok
