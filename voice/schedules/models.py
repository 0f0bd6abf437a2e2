"""The values of a schedule: its rotation (who, in what shifts, from when), its overrides, and what the
arithmetic answers (shifts, and who is on call over a stretch of time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

DAYS = "days"
HOURS = "hours"


@dataclass(frozen=True)
class ShiftLength:
    """`daily` (1 day), `weekly` (7 days), `<n>d`, or `<n>h`."""

    count: int
    unit: Literal["days", "hours"]

    def written(self) -> str:
        if self.unit == DAYS and self.count == 1:
            return "daily"
        if self.unit == DAYS and self.count == 7:
            return "weekly"
        return f"{self.count}{'d' if self.unit == DAYS else 'h'}"


@dataclass(frozen=True)
class Handoff:
    """The local time shifts change at, and for weekly schedules the weekday (0 is Monday)."""

    at: time
    weekday: int | None = None

    def written(self) -> str:
        clock = self.at.strftime("%H:%M")
        return f"{WEEKDAYS[self.weekday]} {clock}" if self.weekday is not None else clock


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Rotation:
    time_zone: str  # IANA, e.g. "Europe/Berlin"
    members: tuple[str, ...]  # Slack user IDs, in the order they take shifts
    shift: ShiftLength
    handoff: Handoff
    start: date  # the first shift starts at the first hand-off at or after this date's start


@dataclass(frozen=True)
class Override:
    """`user` is on call from `start` to `end` instead of whoever the rotation says; the later added wins."""

    id: int
    user: str
    start: datetime  # aware
    end: datetime  # aware, after start
    created_by: str | None = None


@dataclass(frozen=True)
class Shift:
    """One shift of the rotation: its index (0 is the first) and whose it is."""

    index: int
    user: str | None  # None: the rotation has nobody
    start: datetime  # aware, UTC
    end: datetime


@dataclass(frozen=True)
class Segment:
    """A stretch of time with one person on call (or nobody), as the rotation and overrides make it."""

    start: datetime
    end: datetime
    user: str | None
    override: Override | None = None  # the override that put `user` on call, if one did
    scheduled: str | None = None  # whose shift it is in the rotation
    skipped: tuple[str, ...] = ()  # people whose turn it was but who cannot be on call (deactivated)

    @property
    def is_override(self) -> bool:
        return self.override is not None


@dataclass(frozen=True)
class ScheduleDef:
    #: [a-z0-9-]{1,40}, unique in the file.
    name: str
    rotation: Rotation
    #: A Slack user group (S…) kept equal to who is on call; None: none.
    user_group: str | None = None
    #: A channel (C…/G…) told of each hand-off; None: none.
    channel: str | None = None
