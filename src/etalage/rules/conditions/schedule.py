"""Conditions on when the page is viewed: weekdays and hours in a time zone, and a date schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from etalage.rules.conditions.base import Condition, Verdict, Visit

__all__ = ["WEEKDAYS", "TimeWindow", "DateWindow"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class TimeWindow(Condition):
    days: frozenset[int] | None  # 0 = Monday; None = every day
    start: int  # minutes after midnight, inclusive
    end: int  # minutes after midnight, exclusive; 1440 = midnight at the end of the day
    zone: ZoneInfo

    def _holds(self, weekday: int, minute: int) -> bool:
        days, start, end = self.days, self.start, self.end
        if start < end:
            return start <= minute < end and (days is None or weekday in days)
        if start > end:  # crosses midnight; the early hours belong to the day before
            if minute >= start:
                return days is None or weekday in days
            return minute < end and (days is None or (weekday - 1) % 7 in days)
        return False

    def test(self, visit: Visit) -> bool:
        local = datetime.fromtimestamp(visit.now, self.zone)
        return self._holds(local.weekday(), local.hour * 60 + local.minute)

    def check(self, visit: Visit) -> Verdict:
        local = datetime.fromtimestamp(visit.now, self.zone)
        now = f"it is {WEEKDAYS[local.weekday()].title()} {local.hour:02d}:{local.minute:02d} in {self.zone.key}"
        if self._holds(local.weekday(), local.hour * 60 + local.minute):
            return Verdict(True, now)
        return Verdict(False, f"{now}, outside {self._window()}")

    def _window(self) -> str:
        parts = []
        if self.days is not None:
            parts.append(", ".join(WEEKDAYS[day].title() for day in sorted(self.days)))
        if (self.start, self.end) != (0, 1440):
            parts.append(f"{_clock(self.start)} to {_clock(self.end)}")
        return " ".join(parts) or "all day"

    def describe(self) -> str:
        return f"{self._window()} ({self.zone.key})"

    def _never(self) -> str | None:
        if self.start == self.end:
            return f"'{self.describe()}': the time window from {_clock(self.start)} to {_clock(self.end)} is empty"
        return None

    def _always(self) -> bool:
        return self.days is None and (self.start, self.end) == (0, 1440)


@dataclass(frozen=True, slots=True)
class DateWindow(Condition):
    """A schedule: the rule runs from one moment until another (either may be open)."""

    start: float | None  # Unix time, inclusive
    end: float | None  # Unix time, exclusive
    span: str

    def test(self, visit: Visit) -> bool:
        return (self.start is None or visit.now >= self.start) and (self.end is None or visit.now < self.end)

    def check(self, visit: Visit) -> Verdict:
        if self.start is not None and visit.now < self.start:
            return Verdict(False, f"not started yet (scheduled {self.span})")
        if self.end is not None and visit.now >= self.end:
            return Verdict(False, f"ended (scheduled {self.span})")
        return Verdict(True, f"scheduled {self.span}")

    def describe(self) -> str:
        return f"scheduled {self.span}"

    def _never(self) -> str | None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            return f"'{self.describe()}': it ends before it starts"
        return None
