"""Time, always timezone-aware UTC: the one clock every service takes as a parameter."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Callable, Iterator

#: While a callback kept through a database outage is applied, the moment it arrived
#: (answer_server/plivo/journal.py): a call ended when Plivo said so, not when the database came back.
_arrived: ContextVar[datetime | None] = ContextVar("voice_arrived_at", default=None)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


@contextmanager
def arrived_at(moment: datetime) -> Iterator[None]:
    """Events recorded inside this block happened at `moment` (see `event_time`)."""
    token = _arrived.set(moment)
    try:
        yield
    finally:
        _arrived.reset(token)


def event_time(clock: Callable[[], datetime]) -> datetime:
    """When the event being recorded happened: when it arrived, if it is applied late; else `clock()`."""
    return _arrived.get() or clock()
