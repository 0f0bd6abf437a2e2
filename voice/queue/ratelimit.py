"""Rates shared by every process on one database: PLIVO_CPS, Slack's posting rate.

Plivo counts calls per second for the whole account, so a limit kept in one
process lets two instances place twice as many. Here each request reserves
the next free time slot with one atomic UPDATE on a row of `rate_slots`, then
waits for it: slots are `1 / rate` seconds apart whoever took them, and the
requests themselves overlap (a slow reply holds up nobody's slot).
https://www.plivo.com/docs/voice/concepts/account-limits
"""

from __future__ import annotations

import time
from typing import Callable

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from voice.queue.work import Deferred, booked_slot, with_booked_slot
from voice.store.db import reading, transaction
from voice.store.schema import rate_slots

#: Slots a little more than 1/rate apart: a request's trip to the provider
#: varies by some milliseconds, and no 1-second window may hold one too many.
SPACING = 1.05
#: A booked slot missed by more than this (its worker died, the queue was slow) is given up for a
#: new one: work done late at old slots would bunch up beyond the rate.
SLOT_TOLERANCE = 0.1


class WaitingForSlot(Deferred):
    """The work comes back for its booked `slot` (seconds since the epoch), `hold` seconds before it."""

    def __init__(self, reason: str, *, slot: float, hold: float, payload: dict):
        super().__init__(reason, until=slot - hold / 2, payload=payload)
        self.slot = slot


class SlotLimiter:
    def __init__(self, engine: Engine, name: str, per_second: float, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        if per_second <= 0:
            raise ValueError("per_second must be above 0")
        self.engine = engine
        self.name = name
        self.per_second = per_second
        self.interval = SPACING / per_second
        self._clock = clock
        self._sleep = sleep
        self._known = False

    def reserve(self) -> float:
        """The start of the next free slot (seconds since the epoch), now reserved for the caller."""
        return self._reserve(max_wait=None)

    def reserve_within(self, max_wait: float) -> float | None:
        """Reserve the next free slot if it starts within `max_wait` seconds (its start), else None:
        the caller goes away and comes back later instead of holding a thread while it waits."""
        return self._reserve(max_wait=max_wait)

    def _reserve(self, max_wait: float | None) -> float | None:
        self._ensure_row()
        slot = self._reserve_in_row(max_wait)
        if slot is None and not self._row_exists():
            # The housekeeping forgot the row (nobody had taken a slot for a day): make it again.
            self._known = False
            self._ensure_row()
            slot = self._reserve_in_row(max_wait)
        return slot

    def _reserve_in_row(self, max_wait: float | None) -> float | None:
        with transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # Hold the row first: the clock is read once this transaction has its turn. Read
                # before a wait for the lock, a "now" already past would put two calls together.
                conn.execute(select(rate_slots.c.next_free).where(rate_slots.c.name == self.name).with_for_update())
            now = self._clock()  # on SQLite the write lock is held from BEGIN IMMEDIATE
            statement = update(rate_slots).where(rate_slots.c.name == self.name)
            if max_wait is not None:
                statement = statement.where(rate_slots.c.next_free <= now + max_wait)
            next_free = conn.execute(
                statement.values(next_free=case((rate_slots.c.next_free > now, rate_slots.c.next_free), else_=now)
                                 + self.interval)
                .returning(rate_slots.c.next_free)
            ).scalar()
        return None if next_free is None else next_free - self.interval

    def take(self, hold: float) -> float:
        """For work run from the queue: wait for a slot if it is at most `hold` seconds off, else raise
        Deferred with the slot booked, so the item comes back for it (each item of a burst at its own
        slot, none holding a thread meanwhile). How long the wait was."""
        booked = booked_slot(self.name)
        slot = booked if booked is not None and booked >= self._clock() - SLOT_TOLERANCE else self.reserve()
        if slot - self._clock() > hold:
            raise WaitingForSlot(f"waiting for its slot of {self.name}", slot=slot, hold=hold,
                                 payload=with_booked_slot(self.name, slot))
        return self.wait_for(slot)

    def next_free(self) -> float:
        """When the next slot starts (seconds since the epoch), without reserving it."""
        self._ensure_row()
        with reading(self.engine) as conn:
            return conn.execute(select(rate_slots.c.next_free).where(rate_slots.c.name == self.name)).scalar()

    def acquire(self) -> float:
        """Reserve a slot and wait for it; how long the wait was."""
        return self.wait_for(self.reserve())

    def now(self) -> float:
        """The limiter's clock: slots are in its seconds since the epoch."""
        return self._clock()

    def wait_for(self, slot: float) -> float:
        """Wait until a reserved slot's time; how long the wait was."""
        wait = slot - self._clock()
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)

    def _row_exists(self) -> bool:
        with reading(self.engine) as conn:
            return conn.execute(select(rate_slots.c.name).where(rate_slots.c.name == self.name)).first() is not None

    def _ensure_row(self) -> None:
        if self._known:
            return
        with transaction(self.engine) as conn:
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(rate_slots)
            conn.execute(insert.values(name=self.name, next_free=0.0).on_conflict_do_nothing(index_elements=["name"]))
            self._known = conn.execute(select(rate_slots.c.name).where(rate_slots.c.name == self.name)).first() \
                is not None
