"""When each shift of a rotation starts and ends. Pure.

Shifts of `daily`, `weekly` and `<n>d` are calendar days in the schedule's time zone: every hand-off is
at the same local time, across daylight-saving changes (so such a shift may last 23 or 25 hours). On a
day whose hand-off time does not exist (clocks jump over it), the hand-off is when the clocks jump (the
instant that time would have been, counted before the jump: https://peps.python.org/pep-0495/); one
that exists twice (clocks go back) is the first of the two. `<n>h` shifts are elapsed hours from the
first shift's start: their local time moves with daylight saving. The first shift starts at the first
hand-off at or after the start of `start` (weekly with a weekday: the first such weekday on or after
it), with the first member.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterator
from zoneinfo import ZoneInfo

from voice.schedules.models import DAYS, Rotation, Shift

UTC = timezone.utc


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def first_day(rotation: Rotation) -> date:
    """The local date of the first hand-off."""
    if rotation.handoff.weekday is None:
        return rotation.start
    return rotation.start + timedelta(days=(rotation.handoff.weekday - rotation.start.weekday()) % 7)


def shift_start(rotation: Rotation, index: int) -> datetime:
    """When shift `index` begins, in UTC."""
    if rotation.shift.unit == DAYS:
        return _handoff_on(rotation, first_day(rotation) + timedelta(days=index * rotation.shift.count))
    return _handoff_on(rotation, first_day(rotation)) + timedelta(hours=index * rotation.shift.count)


def _handoff_on(rotation: Rotation, day: date) -> datetime:
    """The hand-off of local date `day`, in UTC (fold 0: see the module's docstring)."""
    return datetime.combine(day, rotation.handoff.at, tzinfo=zone(rotation.time_zone)).astimezone(UTC)


def shift_index(rotation: Rotation, at: datetime) -> int | None:
    """The shift under way at `at` (aware); None before the first."""
    first = shift_start(rotation, 0)
    if at < first:
        return None
    if rotation.shift.unit == DAYS:
        local = at.astimezone(zone(rotation.time_zone)).date()
        index = max((local - first_day(rotation)).days // rotation.shift.count, 0)
    else:
        index = int((at - first) // timedelta(hours=rotation.shift.count))
    # The local date's guess may be one off around the hand-off itself: settle it on the instants.
    while shift_start(rotation, index + 1) <= at:
        index += 1
    while index > 0 and shift_start(rotation, index) > at:
        index -= 1
    return index


def member(rotation: Rotation, index: int) -> str | None:
    if not rotation.members:
        return None
    return rotation.members[index % len(rotation.members)]


def shift(rotation: Rotation, index: int) -> Shift:
    return Shift(index, member(rotation, index), shift_start(rotation, index), shift_start(rotation, index + 1))


def shift_at(rotation: Rotation, at: datetime) -> Shift | None:
    index = shift_index(rotation, at)
    return None if index is None else shift(rotation, index)


def shifts_between(rotation: Rotation, start: datetime, end: datetime) -> Iterator[Shift]:
    """Every shift that overlaps [start, end), in order."""
    index = shift_index(rotation, start)
    index = 0 if index is None else index
    while True:
        found = shift(rotation, index)
        if found.start >= end:
            return
        yield found
        index += 1
