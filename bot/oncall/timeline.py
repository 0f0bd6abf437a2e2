"""Who is on call over the coming weeks, as a person reads it: one line per stretch with one person. Pure.

voice/schedules' segments change at every shift boundary, even where the same person stays on call (a
one-person rotation, someone covering their own shift): here those are one stretch, unless an override
begins or ends there, which a reader is told about.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Iterable

from voice.schedules.models import Segment

#: How far `/oncall` looks for who is next, and `/oncall <name>` and the Home tab for the next shifts.
AHEAD = timedelta(weeks=8)
SHIFTS_AHEAD = timedelta(weeks=4)


def stretches(segments: Iterable[Segment]) -> list[Segment]:
    """Adjacent segments with the same person, put there the same way (the rotation, or one override), as one."""
    merged: list[Segment] = []
    for segment in segments:
        last = merged[-1] if merged else None
        if last and last.end == segment.start and (last.user, last.override) == (segment.user, segment.override):
            merged[-1] = replace(last, end=segment.end)
        else:
            merged.append(segment)
    return merged


def now_and_next(segments: Iterable[Segment]) -> tuple[Segment | None, Segment | None]:
    """The stretch under way at the first segment's start, and the one after it (None: no change ahead)."""
    found = stretches(segments)
    return (found[0] if found else None), (found[1] if len(found) > 1 else None)


def shifts_of(user: str, segments: Iterable[Segment]) -> list[Segment]:
    """The stretches in which `user` is on call."""
    return [segment for segment in stretches(segments) if segment.user == user]
