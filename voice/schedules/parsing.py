"""The written forms of a schedule and of the times people type. Pure; each parser returns its value or
a `Problem`, whose message says what is wrong and what would be right, never echoing more than it must.

- shifts: `daily`, `weekly`, `<n>d` (1 to 90), `<n>h` (1 to 720)
- hand-offs: `09:00`; weekly also `monday 09:00`
- time zones: IANA names (zoneinfo)
- moments, in a person's own time zone: `18:00`, `6pm`, `fri`, `fri 18:00`, `friday 6:30pm`, `today 18:00`,
  `tomorrow`, `2026-12-24 18:00`, `dec 24 18:00`, `24 dec`, `now`, or ISO 8601 with an offset. A moment
  without a date is the next one after now; one without a time is at `default_time` (the schedule's
  hand-off, for an override).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfoNotFoundError

from voice.schedules.models import DAYS, HOURS, WEEKDAYS, Handoff, ShiftLength
from voice.schedules.rotation import UTC, zone

MAX_DAYS = 90
MAX_HOURS = 720
_SHIFT = re.compile(r"([0-9]{1,3})([dh])")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_TWELVE = re.compile(r"(1[0-2]|0?[1-9])(?::([0-5][0-9]))?\s*(am|pm)")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Problem:
    message: str


def parse_shift(text: str) -> ShiftLength | Problem:
    written = text.strip().lower()
    if written == "daily":
        return ShiftLength(1, DAYS)
    if written == "weekly":
        return ShiftLength(7, DAYS)
    found = _SHIFT.fullmatch(written)
    if found:
        count, unit = int(found.group(1)), DAYS if found.group(2) == "d" else HOURS
        top = MAX_DAYS if unit == DAYS else MAX_HOURS
        if 1 <= count <= top:
            return ShiftLength(count, unit)
        return Problem(f"a shift of {found.group(2) == 'd' and 'days' or 'hours'} is 1 to {top}")
    return Problem("a shift is daily, weekly, <n>d (days) or <n>h (hours), e.g. 12h")


def parse_handoff(text: str, shift: ShiftLength) -> Handoff | Problem:
    words = text.strip().lower().split()
    weekly = shift == ShiftLength(7, DAYS)
    if len(words) == 2 and weekly:
        day = _weekday(words[0])
        clock = _clock(words[1])
        if day is None or clock is None:
            return Problem('a weekly hand-off is a weekday and a time, e.g. "monday 09:00"')
        return Handoff(clock, day)
    if len(words) == 1 and (clock := _clock(words[0])) is not None:
        return Handoff(clock)
    if len(words) == 2:
        return Problem('only weekly schedules hand off on a weekday; write the time alone, e.g. "09:00"')
    return Problem('a hand-off is a time, e.g. "09:00" (weekly: "monday 09:00")')


def parse_time_zone(text: str) -> str | Problem:
    name = text.strip()
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return Problem("a time zone is an IANA name, e.g. Europe/Berlin or America/New_York")
    return name


def parse_date(text: str) -> date | Problem:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return Problem("a date is written YYYY-MM-DD, e.g. 2026-12-07")


def parse_moment(text: str, now: datetime, time_zone: str, default_time: time = time(0, 0)) -> datetime | Problem:
    """A moment a person typed, read in their time zone; aware, UTC."""
    written = " ".join(text.strip().lower().split())
    if not written:
        return Problem(_MOMENT_HELP)
    if written == "now":
        return now.astimezone(UTC)
    if "t" in written and written[:4].isdigit():
        return _iso(written)
    tz = zone(time_zone)
    local_now = now.astimezone(tz)
    day_words, clock = _split_clock(written)
    if clock is _BAD:
        return Problem(_MOMENT_HELP)
    day = _day(day_words, local_now.date())
    if day is _BAD:
        return Problem(_MOMENT_HELP)
    if day is None:  # a time alone: the next one
        moment = datetime.combine(local_now.date(), clock or default_time, tzinfo=tz)
        if moment <= local_now:
            moment = datetime.combine(local_now.date() + timedelta(days=1), clock or default_time, tzinfo=tz)
        return moment.astimezone(UTC)
    if isinstance(day, tuple):  # a weekday: the next one whose moment is still ahead
        weekday = day[0]
        ahead = (weekday - local_now.weekday()) % 7
        moment = datetime.combine(local_now.date() + timedelta(days=ahead), clock or default_time, tzinfo=tz)
        if moment <= local_now:
            moment = datetime.combine(moment.date() + timedelta(days=7), clock or default_time, tzinfo=tz)
        return moment.astimezone(UTC)
    return datetime.combine(day, clock or default_time, tzinfo=tz).astimezone(UTC)


_MOMENT_HELP = ("a time is written like 18:00, 6pm, fri 18:00, tomorrow 09:00, dec 24 18:00 or 2026-12-24 18:00 "
                "(in your Slack time zone)")
_BAD = object()


def _iso(written: str) -> datetime | Problem:
    try:
        moment = datetime.fromisoformat(written.upper())
    except ValueError:
        return Problem(_MOMENT_HELP)
    if moment.tzinfo is None:
        return Problem("an ISO 8601 time needs its offset, e.g. 2026-12-24T18:00+01:00")
    return moment.astimezone(UTC)


def _split_clock(written: str):
    """(the words before the time, the time or None); _BAD for a time that cannot be read."""
    twelve = _TWELVE.search(written)
    if twelve and twelve.end() == len(written):
        hour = int(twelve.group(1)) % 12 + (12 if twelve.group(3) == "pm" else 0)
        return written[:twelve.start()].strip(), time(hour, int(twelve.group(2) or 0))
    words = written.split(" ")
    if words and (clock := _clock(words[-1])) is not None:
        return " ".join(words[:-1]), clock
    if words and ":" in words[-1]:
        return "", _BAD
    return written, None


def _day(words: str, today: date):
    """None (no day given), a date, (weekday,), or _BAD."""
    if not words:
        return None
    if words == "today":
        return today
    if words == "tomorrow":
        return today + timedelta(days=1)
    if (weekday := _weekday(words)) is not None:
        return (weekday,)
    if found := _ISO_DATE.fullmatch(words):
        try:
            return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            return _BAD
    return _month_day(words, today)


def _month_day(words: str, today: date):
    """`dec 24` or `24 dec`: the next such date (today included)."""
    parts = words.replace(",", " ").split()
    if len(parts) != 2:
        return _BAD
    month_word, day_word = (parts if not parts[0].isdigit() else (parts[1], parts[0]))
    month = next((n + 1 for n, name in enumerate(_MONTHS) if month_word.startswith(name)), None)
    if month is None or not day_word.isdigit():
        return _BAD
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, int(day_word))
        except ValueError:
            return _BAD
        if candidate >= today:
            return candidate
    return _BAD


def _weekday(word: str) -> int | None:
    word = word.strip().lower()
    if len(word) < 3:
        return None
    return next((n for n, name in enumerate(WEEKDAYS) if name.startswith(word)), None)


def _clock(word: str) -> time | None:
    found = _CLOCK.fullmatch(word.strip())
    return time(int(found.group(1)), int(found.group(2))) if found else None
