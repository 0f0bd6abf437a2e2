"""Rate limits on phoning, counted in the database so they hold across instances and workspaces.

A limit allows at most `maximum` of something per `window`: calls with a code to a number, alerts
raised by a person, calls to a number a person typed into an alert. What it counts is what the
database holds, so every instance sees the same count; a transaction that checks a limit and then
records what it counts holds a lock per number and per requester (PostgreSQL's advisory locks;
SQLite serialises writers itself), so two requests at once cannot both squeeze under it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from voice.calls.numbers import display_number
from voice.clock import as_utc


@dataclass(frozen=True)
class Limit:
    """At most `maximum` per `scope` ("number" or "requester") per `window`; 0: no limit."""

    scope: str
    window: timedelta
    maximum: int
    name: str  # for the refusal: "calls to one number per 10 minutes"


class RateLimited(Exception):
    def __init__(self, limit: Limit, frees_at: datetime, number: str | None = None):
        super().__init__(limit.name)
        self.limit = limit
        self.frees_at = frees_at
        self.number = number  # E.164: the number that reached it, where the refusal must say which


class Refused(Exception):
    """A request we will not carry out; `str()` says why, for a person."""

    def __init__(self, kind: str, reason: str, *, limit: Limit | None = None, frees_at: datetime | None = None,
                 number: str | None = None):
        super().__init__(reason)
        self.kind = kind
        self.limit = limit
        self.frees_at = frees_at
        self.number = number  # E.164, when the refusal is about one number


def frees_at(recent: Sequence[datetime], limit: Limit) -> datetime | None:
    """When `limit` frees up, given the times it counts within its window, oldest first; None if not reached."""
    if limit.maximum <= 0 or len(recent) < limit.maximum:
        return None
    # Free again once enough of the recent ones have aged out of the window.
    return as_utc(recent[len(recent) - limit.maximum]) + limit.window


def check(recent: Sequence[datetime], limit: Limit, number: str | None = None) -> None:
    """Raise RateLimited if `recent` (oldest first) already fills `limit` (of `number`, to name it)."""
    until = frees_at(recent, limit)
    if until is not None:
        raise RateLimited(limit, until, number)


def rate_refusal(limited: RateLimited) -> Refused:
    limit = limited.limit
    about = f" for {display_number(limited.number)}" if limited.number else ""
    return Refused("rate_limit", f"Limit reached{about}: at most {limit.maximum} {limit.name}.",
                   limit=limit, frees_at=limited.frees_at, number=limited.number)


def serialise(conn: Connection, *keys: str) -> None:
    """PostgreSQL: one transaction at a time per key (a number, a requester), until this one ends,
    so a count and the insert that follows it cannot interleave with another's."""
    if conn.dialect.name != "postgresql":
        return  # SQLite serialises writers itself
    for key in sorted(set(keys)):  # always in the same order: two transactions never wait on each other
        lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
