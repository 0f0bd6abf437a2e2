"""Who is on call, the rotation and its overrides together. Pure.

An override puts its person on call for its period, whoever the rotation says; where two overlap, the
one added later wins (GoAlert's rule: https://github.com/target/goalert/tree/master/override). A person
who cannot be on call (deactivated, gone from the workspace) is passed over: their shift goes to the
next member of the rotation who can, and the segment names who was skipped, so it can be said; an
override for them leaves its period to the rotation. Nobody at all: a segment with no user, never a gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Collection, Iterable, Sequence

from voice.schedules.models import DAYS, Override, Rotation, Segment
from voice.schedules.rotation import member, shift_index, shift_start, shifts_between

#: How far around a moment `on_call` looks for when its segment began and ends: a whole cycle of the
#: rotation (everyone's shift once), within these bounds.
LOOK_MIN = timedelta(days=1)
LOOK_MAX = timedelta(days=120)


def on_call(rotation: Rotation, overrides: Sequence[Override], at: datetime,
            inactive: Collection[str] = ()) -> Segment:
    """The segment under way at `at`: who is on call, and from when until when (as far as a whole cycle
    of the rotation around `at`: a one-person rotation is on call "until" that far)."""
    look = min(max(_cycle(rotation), LOOK_MIN), LOOK_MAX)
    return next(segment for segment in segments(rotation, overrides, at - look, at + look, inactive)
                if segment.start <= at < segment.end)


def next_change(rotation: Rotation, overrides: Sequence[Override], current: Segment,
                inactive: Collection[str] = ()) -> datetime:
    """When someone other than `current.user` is next on call, `current` being a segment `on_call` gave: past the
    boundaries where the same person stays on call (an override over the rotation's hand-offs, the rotation
    giving them the next shift too), looking as far as `on_call` does past `current`'s end or its override's."""
    look = min(max(_cycle(rotation), LOOK_MIN), LOOK_MAX)
    horizon = max(current.end, current.override.end if current.override else current.end) + look
    later = segments(rotation, overrides, current.end, horizon, inactive)
    return next((item.start for item in later if item.user != current.user), horizon)


def segments(rotation: Rotation, overrides: Sequence[Override], start: datetime, end: datetime,
             inactive: Collection[str] = ()) -> list[Segment]:
    """Who is on call from `start` to `end`: segments with one person (or nobody) each, in order, adjacent
    ones with the same person for the same reason merged; the first begins at `start`, the last ends at
    `end`."""
    inactive = frozenset(inactive)
    live = [item for item in overrides if item.user not in inactive and item.end > item.start]
    points = {start, end, shift_start(rotation, 0)}
    for item in shifts_between(rotation, start, end):
        points.update((item.start, item.end))
    for item in live:
        points.update((item.start, item.end))
    cuts = sorted(point for point in points if start <= point <= end)
    return _merged([_piece(rotation, live, cuts[n], cuts[n + 1], inactive) for n in range(len(cuts) - 1)])


def _cycle(rotation: Rotation) -> timedelta:
    one = timedelta(days=rotation.shift.count) if rotation.shift.unit == DAYS else \
        timedelta(hours=rotation.shift.count)
    return one * max(len(rotation.members), 1)


def _piece(rotation: Rotation, overrides: Sequence[Override], start: datetime, end: datetime,
           inactive: frozenset[str]) -> Segment:
    winner = _override_at(overrides, start)
    index = shift_index(rotation, start)
    scheduled = member(rotation, index) if index is not None else None
    user, skipped = _stand_in(rotation, index, inactive)
    if winner is not None:
        return Segment(start, end, winner.user, override=winner, scheduled=scheduled)
    return Segment(start, end, user, scheduled=scheduled, skipped=skipped)


def _override_at(overrides: Iterable[Override], at: datetime) -> Override | None:
    covering = [item for item in overrides if item.start <= at < item.end]
    return max(covering, key=lambda item: item.id, default=None)


def _stand_in(rotation: Rotation, index: int | None, inactive: frozenset[str]) -> tuple[str | None, tuple[str, ...]]:
    """Whose shift `index` is, passing over those who cannot be on call; and who was passed over."""
    if index is None or not rotation.members:
        return None, ()
    skipped: list[str] = []
    for step in range(len(rotation.members)):
        candidate = member(rotation, index + step)
        if candidate not in inactive:
            return candidate, tuple(skipped)
        skipped.append(candidate)
    return None, tuple(skipped)


def _merged(pieces: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for piece in pieces:
        if piece.start >= piece.end:
            continue
        last = merged[-1] if merged else None
        if last and (last.user, last.override, last.scheduled, last.skipped) == \
                (piece.user, piece.override, piece.scheduled, piece.skipped):
            merged[-1] = Segment(last.start, piece.end, last.user, last.override, last.scheduled, last.skipped)
        else:
            merged.append(piece)
    return merged
