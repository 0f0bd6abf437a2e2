"""The work queue: what must happen after a request has been answered, kept in the database.

A request (a Slack command, a button, an API call, a Plivo webhook) writes its
rows and the work they need in one transaction, then answers; workers
(voice/queue/workers.py) do the work. So a slow Plivo or Slack never holds up an
answer, and a crash forgets nothing: an item is in the table until it is done.

- `enqueue` adds a one-off item; with a key, at most one item ever exists for
  that key (placing a leg's call, starting an alert's round), so asking twice
  does nothing.
- `poke` is for work that follows a changing state (a Slack message showing a
  call): one row per key, which runs once after the latest poke, never twice
  at once, and no sooner than `interval` after its last run.
- `claim` hands due items to one worker each (FOR UPDATE SKIP LOCKED on
  PostgreSQL; SQLite has one writer at a time), under a lease the worker
  renews while it runs the item; when a worker dies, or could not record an
  item's end, the item is claimable again once the lease runs out.
- A handler ends an item by returning (done), raising RetryLater (again
  later, one attempt used), GiveUp (failed for good) or Deferred (it waits
  its turn, such as a rate limit's slot: back in the queue, no attempt used,
  no lease held meanwhile).

Why our own table rather than a queue library: the item must be written in
the same transaction as the rows it is about (an outbox), on SQLite and on
PostgreSQL alike, and the well-kept Python queues (Celery, RQ, Dramatiq,
Huey) keep their queue in a broker or in their own connection, so that an
item and its row could be committed one without the other.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Iterable

from sqlalchemy import (
    and_,
    bindparam,
    case,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from voice.clock import as_utc, utcnow
from voice.queue.wakeup import WakeUp
from voice.store.db import reading, transaction
from voice.store.schema import work_items

log = logging.getLogger(__name__)

PENDING = "pending"  # waiting for its due time, or for a worker
RUNNING = "running"  # claimed by `lease_owner` until `lease_until`
IDLE = "idle"  # a poked item between runs: `due_at` is the earliest next run
DONE = "done"
FAILED = "failed"  # out of attempts, or refused for good: logged, and reported where it matters

#: How long a claimed item stays with its worker without a renewal; a dead
#: worker's items are taken over within this long.
LEASE = timedelta(seconds=15)


@dataclass(frozen=True)
class WorkItem:
    id: int
    kind: str
    subject: str
    key: str | None
    payload: dict | None
    attempts: int  # including this one
    due_at: datetime


class RetryLater(Exception):
    """The work could not be done now but may succeed later (Slack's 429, a 5xx, a timeout).

    `counted=False`: the attempt is not counted against the kind's attempts, for a handler that
    bounds its own retries (a call is tried through a Plivo outage only while it is still useful).
    """

    def __init__(self, reason: str, after: float | None = None, *, counted: bool = True):
        super().__init__(reason)
        self.after = after  # seconds; None: the kind's backoff
        self.counted = counted


class Deferred(Exception):
    """The work waits its turn (a rate limit's slot) until `until` (seconds since the epoch): the item
    goes back to the queue due then, not leased to anyone and not counted as an attempt, so a worker
    that dies meanwhile holds nothing. `payload`, if given, replaces the item's (a booked slot)."""

    def __init__(self, reason: str, until: float, payload: dict | None = None):
        super().__init__(reason)
        self.until = until
        self.payload = payload


#: The item this thread is running (set by the workers): code far down a handler's call, a rate
#: limiter, finds the slot the item booked before it was deferred (see `booked_slot`).
running_item: ContextVar["WorkItem | None"] = ContextVar("running_item", default=None)
#: Where an item's booked rate slots are kept in its payload: {limiter name: slot}.
SLOTS = "slots"


def booked_slot(name: str) -> float | None:
    """The slot of limiter `name` that the running item booked when it was deferred, if any; taken
    out, so a second use of the limiter in the same run reserves a slot of its own."""
    item = running_item.get()
    slots = (item.payload or {}).get(SLOTS) if item is not None else None
    slot = slots.pop(name, None) if isinstance(slots, dict) else None
    return float(slot) if isinstance(slot, (int, float)) else None


def with_booked_slot(name: str, slot: float) -> dict:
    """The running item's payload, with `slot` booked for limiter `name` (for Deferred)."""
    item = running_item.get()
    payload = dict(item.payload or {}) if item is not None else {}
    payload[SLOTS] = {**(payload.get(SLOTS) or {}), name: slot}
    return payload


class GiveUp(Exception):
    """The work cannot succeed: no retry (a refusal). The item ends failed."""


#: Poked items' keys start with this, so they never clash with a one-off item's key.
POKE_PREFIX = "poke:"


def poke_key(kind: str, subject: str) -> str:
    return f"{POKE_PREFIX}{kind}:{subject}"


class WorkQueue:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow, lease: timedelta = LEASE,
                 wakeup: WakeUp | None = None):
        self.engine = engine
        #: Wakes other processes' workers when work is committed (see voice/queue/wakeup.py).
        self.wakeup = wakeup or WakeUp(engine)
        self.clock = clock  # when work is due (tests move it by hand)
        self.lease = lease
        # Leases are about real time, whatever `clock` says: a worker renews its
        # lease by the wall clock, and another takes it over by the same.
        self.wall_clock: Callable[[], datetime] = utcnow
        #: Called after a transaction that added work commits (set by Workers, to wake them at once).
        self.on_new_work: Callable[[], None] = lambda: None
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", self._rolled_back)

    # -- adding work: always inside the caller's transaction -------------------------

    def enqueue(self, conn: Connection, kind: str, subject: str, *, key: str | None = None,
                due_at: datetime | None = None, payload: dict | None = None) -> None:
        """Add an item; with a `key` already used, nothing happens."""
        values = dict(kind=kind, subject=subject, key=key, payload=json.dumps(payload) if payload else None,
                      state=PENDING, due_at=due_at or self.clock(), again=False, attempts=0,
                      created_at=self.clock())
        if key is None:
            conn.execute(insert(work_items).values(**values))
        else:
            conn.execute(_insert(conn).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        self._after_commit(conn)

    def poke(self, conn: Connection, kind: str, subject: str, *, at: datetime | None = None) -> None:
        """Run `kind` for `subject` again, once, after this change: coalesced with any run not started yet."""
        now = at or self.clock()
        conn.execute(_poke_statement(conn.dialect.name), {
            "p_kind": kind, "p_subject": subject, "p_key": poke_key(kind, subject), "p_now": now})
        self._after_commit(conn)

    # -- taking work -----------------------------------------------------------------------

    def due(self, kinds: Iterable[str] | None = None) -> bool:
        """Whether anything is claimable now (a read: cheap to ask often)."""
        query = select(work_items.c.id).where(self._claimable())
        if kinds is not None:
            query = query.where(work_items.c.kind.in_(list(kinds)))
        with reading(self.engine) as conn:
            return conn.execute(query.limit(1)).first() is not None

    def next_due(self, kinds: Iterable[str] | None = None) -> float | None:
        """Seconds until the soonest pending item falls due (0 or less: due now); None if nothing is
        pending. Running items whose lease ran out count as due now."""
        soonest = select(func.min(work_items.c.due_at)).where(work_items.c.state == PENDING)
        expired = select(work_items.c.id).where(work_items.c.state == RUNNING,
                                                work_items.c.lease_until < self.wall_clock())
        if kinds is not None:
            soonest = soonest.where(work_items.c.kind.in_(list(kinds)))
            expired = expired.where(work_items.c.kind.in_(list(kinds)))
        with reading(self.engine) as conn:
            if conn.execute(expired.limit(1)).first() is not None:
                return 0.0
            due_at = conn.execute(soonest).scalar()
        return None if due_at is None else (as_utc(due_at) - self.clock()).total_seconds()

    def claim(self, owner: str, limit: int, kinds: Iterable[str] | None = None) -> list[WorkItem]:
        """Up to `limit` due items, each now leased to `owner` alone."""
        chosen = select(work_items.c.id).where(self._claimable())
        if kinds is not None:
            chosen = chosen.where(work_items.c.kind.in_(list(kinds)))
        chosen = chosen.order_by(work_items.c.due_at, work_items.c.id).limit(limit)
        chosen = chosen.with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time
        with transaction(self.engine) as conn:
            rows = conn.execute(
                update(work_items)
                .where(work_items.c.id.in_(chosen.scalar_subquery()))
                .values(state=RUNNING, lease_owner=owner, lease_until=self.wall_clock() + self.lease,
                        attempts=work_items.c.attempts + 1, again=False)
                .returning(*work_items.c)
            ).mappings().all()
        return [_item(row) for row in sorted(rows, key=lambda row: (as_utc(row["due_at"]), row["id"]))]

    def renew(self, owner: str, ids: Iterable[int] | None = None) -> None:
        """Keep `owner`'s running items (those of `ids`, if given): it is alive and still on them."""
        mine = [work_items.c.lease_owner == owner, work_items.c.state == RUNNING]
        if ids is not None:
            mine.append(work_items.c.id.in_(list(ids)))
        with transaction(self.engine) as conn:
            conn.execute(update(work_items).where(*mine).values(lease_until=self.wall_clock() + self.lease))

    # -- ending work ---------------------------------------------------------------------------

    def finish(self, item: WorkItem, owner: str, *, rest: float = 0.0) -> None:
        """The item's work is done. A poked item rests `rest` seconds, or runs again if poked meanwhile."""
        now = self.clock()
        mine = and_(work_items.c.id == item.id, work_items.c.lease_owner == owner, work_items.c.state == RUNNING)
        if item.key is not None and item.key.startswith(POKE_PREFIX):
            # A run succeeded: its retries start afresh, whether it rests or runs again at once.
            values = dict(state=case((work_items.c.again, PENDING), else_=IDLE), again=False, attempts=0,
                          due_at=now + timedelta(seconds=rest), lease_owner=None, lease_until=None,
                          last_error=None, finished_at=now)
        else:
            values = dict(state=DONE, lease_owner=None, lease_until=None, finished_at=now)
        with transaction(self.engine) as conn:
            conn.execute(update(work_items).where(mine).values(**values))

    def retry(self, item: WorkItem, owner: str, *, after: float, error: str, counted: bool = True) -> None:
        """Try again in `after` seconds (`counted=False`: this attempt does not count)."""
        values = dict(state=PENDING, due_at=self.clock() + timedelta(seconds=after), lease_owner=None,
                      lease_until=None, last_error=error[:2000])
        if not counted:
            values["attempts"] = work_items.c.attempts - 1
        with transaction(self.engine) as conn:
            conn.execute(
                update(work_items)
                .where(work_items.c.id == item.id, work_items.c.lease_owner == owner, work_items.c.state == RUNNING)
                .values(**values)
            )

    def defer(self, item: WorkItem, owner: str, *, until: float, payload: dict | None = None) -> None:
        """Hand the item back, due at `until` (wall-clock seconds), its attempt not counted."""
        due_at = self.clock() + timedelta(seconds=max(0.0, until - self.wall_clock().timestamp()))
        values = dict(state=PENDING, due_at=due_at, lease_owner=None, lease_until=None,
                      attempts=work_items.c.attempts - 1)
        if payload is not None:
            values["payload"] = json.dumps(payload)
        with transaction(self.engine) as conn:
            conn.execute(
                update(work_items)
                .where(work_items.c.id == item.id, work_items.c.lease_owner == owner, work_items.c.state == RUNNING)
                .values(**values)
            )

    def fail(self, item: WorkItem, owner: str, *, error: str) -> None:
        with transaction(self.engine) as conn:
            conn.execute(
                update(work_items)
                .where(work_items.c.id == item.id, work_items.c.lease_owner == owner, work_items.c.state == RUNNING)
                .values(state=FAILED, lease_owner=None, lease_until=None, last_error=error[:2000],
                        finished_at=self.clock(), again=False)
            )

    def release(self, owner: str, keep: Iterable[int] = ()) -> int:
        """Hand back `owner`'s running items at once (a clean shutdown), for another worker to take;
        those in `keep` (still running) keep their leases."""
        condition = [work_items.c.lease_owner == owner, work_items.c.state == RUNNING]
        if keep:
            condition.append(work_items.c.id.not_in(list(keep)))
        with transaction(self.engine) as conn:
            return conn.execute(
                update(work_items).where(*condition)
                .values(state=PENDING, lease_owner=None, lease_until=None, attempts=work_items.c.attempts - 1)
            ).rowcount

    # -- looking -------------------------------------------------------------------------------------

    def items(self, kind: str | None = None) -> list[dict]:
        """Every item as a dict, oldest first: for operators and tests."""
        query = select(work_items).order_by(work_items.c.id)
        if kind is not None:
            query = query.where(work_items.c.kind == kind)
        with reading(self.engine) as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def pending(self) -> list[tuple[str, datetime]]:
        """(kind:subject, due_at) of the items waiting for a worker, soonest first."""
        query = (select(work_items.c.kind, work_items.c.subject, work_items.c.due_at)
                 .where(work_items.c.state == PENDING).order_by(work_items.c.due_at, work_items.c.id))
        with reading(self.engine) as conn:
            return [(f"{kind}:{subject}", as_utc(due)) for kind, subject, due in conn.execute(query)]

    def busy(self) -> bool:
        """Whether any item is due or running (for tests that wait for the queue to settle)."""
        now = self.clock()
        query = select(func.count()).select_from(work_items).where(
            or_(work_items.c.state == RUNNING, and_(work_items.c.state == PENDING, work_items.c.due_at <= now)))
        with reading(self.engine) as conn:
            return bool(conn.execute(query).scalar())

    # -- internals -------------------------------------------------------------------------------------

    def _claimable(self):
        return or_(
            and_(work_items.c.state == PENDING, work_items.c.due_at <= self.clock()),
            # A worker that stopped renewing its lease is gone: its item is free again.
            and_(work_items.c.state == RUNNING, work_items.c.lease_until < self.wall_clock()),
        )

    def _after_commit(self, conn: Connection) -> None:
        # Wake the workers once the transaction that added work commits (not
        # before: they would look, see nothing, and sleep until their next poll).
        if not conn.in_transaction():
            self._wake_all()
        elif not conn.info.get(_NEW_WORK):
            conn.info[_NEW_WORK] = True
            self.wakeup.in_transaction(conn)

    def _committed(self, conn: Connection) -> None:
        if conn.info.pop(_NEW_WORK, False):
            self._wake_all()

    def _wake_all(self) -> None:
        self.on_new_work()  # this process's workers
        self.wakeup.after_commit()  # the others

    @staticmethod
    def _rolled_back(conn: Connection) -> None:
        conn.info.pop(_NEW_WORK, None)


_NEW_WORK = "voice.new_work"


def _insert(conn: Connection):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(work_items)


@lru_cache(maxsize=None)
def _poke_statement(dialect: str):
    """The poke, built once per dialect (it is on every webhook's path): an upsert on the key."""
    now = bindparam("p_now")
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(work_items).values(
        kind=bindparam("p_kind"), subject=bindparam("p_subject"), key=bindparam("p_key"), state=PENDING,
        due_at=now, again=False, attempts=0, created_at=now,
    )
    rested = work_items.c.state.in_((IDLE, DONE, FAILED))
    return statement.on_conflict_do_update(
        index_elements=["key"],
        set_={
            # Running now: it read the state before this change, so it runs once more after.
            "again": case((work_items.c.state == RUNNING, True), else_=work_items.c.again),
            # Resting: due at once, but not before its pacing allows (the due_at it left).
            "due_at": case((and_(rested, work_items.c.due_at < now), now), else_=work_items.c.due_at),
            "state": case((rested, PENDING), else_=work_items.c.state),
            "attempts": case((rested, 0), else_=work_items.c.attempts),
        },
    )


def _item(row: RowMapping) -> WorkItem:
    return WorkItem(id=row["id"], kind=row["kind"], subject=row["subject"], key=row["key"],
                    payload=json.loads(row["payload"]) if row["payload"] else None, attempts=row["attempts"],
                    due_at=as_utc(row["due_at"]))
