"""What people write for shifts, hand-offs, time zones and moments, read as they mean it, and a clear
problem for anything else."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from voice.schedules.models import DAYS, HOURS, Handoff, ShiftLength
from voice.schedules.parsing import (
    Problem,
    parse_handoff,
    parse_moment,
    parse_shift,
    parse_time_zone,
)

BERLIN = "Europe/Berlin"
# Thursday 3 December 2026, 14:00 in Berlin.
NOW = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc)


def berlin(*parts) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(BERLIN)).astimezone(timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("daily", ShiftLength(1, DAYS)), ("weekly", ShiftLength(7, DAYS)), ("Weekly", ShiftLength(7, DAYS)),
    ("12h", ShiftLength(12, HOURS)), ("3d", ShiftLength(3, DAYS)), ("720h", ShiftLength(720, HOURS)),
])
def test_shifts(text, expected):
    assert parse_shift(text) == expected


@pytest.mark.parametrize("text", ["0h", "721h", "91d", "fortnightly", "1w", "", "-1d"])
def test_shifts_that_cannot_be_read(text):
    assert isinstance(parse_shift(text), Problem)


def test_handoffs():
    weekly, daily = ShiftLength(7, DAYS), ShiftLength(1, DAYS)
    assert parse_handoff("monday 09:00", weekly) == Handoff(time(9, 0), 0)
    assert parse_handoff("Fri 17:30", weekly) == Handoff(time(17, 30), 4)
    assert parse_handoff("09:00", daily) == Handoff(time(9, 0))
    assert "only weekly" in parse_handoff("monday 09:00", daily).message
    assert isinstance(parse_handoff("25:00", daily), Problem)
    assert isinstance(parse_handoff("someday 09:00", weekly), Problem)


def test_time_zones():
    assert parse_time_zone("Europe/Berlin") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "/etc/localtime"):
        assert isinstance(parse_time_zone(bad), Problem)


@pytest.mark.parametrize("text, expected", [
    ("18:00", berlin(2026, 12, 3, 18, 0)),
    ("09:00", berlin(2026, 12, 4, 9, 0)),  # already past today: tomorrow's
    ("6pm", berlin(2026, 12, 3, 18, 0)),
    ("6:30 PM", berlin(2026, 12, 3, 18, 30)),
    ("fri 18:00", berlin(2026, 12, 4, 18, 0)),
    ("friday", berlin(2026, 12, 4, 9, 0)),  # no time: the default (the hand-off)
    ("thu 10:00", berlin(2026, 12, 10, 10, 0)),  # today's has passed: next week's
    ("thu 15:00", berlin(2026, 12, 3, 15, 0)),
    ("tomorrow 08:15", berlin(2026, 12, 4, 8, 15)),
    ("today 20:00", berlin(2026, 12, 3, 20, 0)),
    ("2026-12-24 18:00", berlin(2026, 12, 24, 18, 0)),
    ("dec 24 18:00", berlin(2026, 12, 24, 18, 0)),
    ("24 dec", berlin(2026, 12, 24, 9, 0)),
    ("jan 2", berlin(2027, 1, 2, 9, 0)),
    ("2026-12-24T18:00+01:00", berlin(2026, 12, 24, 18, 0)),
    ("now", NOW),
])
def test_moments_in_the_persons_time_zone(text, expected):
    assert parse_moment(text, NOW, BERLIN, default_time=time(9, 0)) == expected


def test_the_same_words_in_another_time_zone_are_another_moment():
    assert parse_moment("fri 18:00", NOW, "America/New_York") == datetime(2026, 12, 4, 23, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["someday", "fri 25:00", "13pm", "2026-02-30", "feb 30", "2026-12-24T18:00",
                                  "next week", "18:00:00", ""])
def test_moments_that_cannot_be_read_say_how_to_write_one(text):
    assert isinstance(parse_moment(text, NOW, BERLIN), Problem)
