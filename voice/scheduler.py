"""Jobs to run at a time, kept in the database so they survive a restart.

A job is claimed with one conditional UPDATE before it runs, so when several
instances share one database (PostgreSQL), each due job runs in one of them,
once. `run_due(now)` is the whole mechanism; the poller thread started by
`python -m answer_server` only calls it every second, and tests call it
directly with a clock they control.

A claim that is never marked finished (the instance died mid-job) may be taken
again after LEASE, so handlers must be safe to run a second time; the alert
handlers are, through unique legs and conditional updates.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Executor
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Column, DateTime, Integer, String, Table, and_, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from voice.clock import as_utc, utcnow
from voice.store import metadata

log = logging.getLogger(__name__)

#: How long a claimed, unfinished job stays with the instance that claimed it.
LEASE = timedelta(minutes=10)
#: A job whose handler raised runs again after RETRY_AFTER, up to MAX_ATTEMPTS times in all.
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(seconds=30)
POLL_INTERVAL = 1.0  # seconds; the resolution of ALERT_RETRY_DELAY

jobs = Table(
    "scheduled_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    # kind + subject: scheduling the same job twice adds nothing.
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(160), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("claimed_by", String(80)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
)

Handler = Callable[[str], None]


def job_key(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        executor: Executor | None = None,
        instance: str | None = None,
    ):
        self.engine = engine
        self.clock = clock
        # Runs jobs due now without waiting for the next poll; None runs them inline.
        self._executor = executor
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def schedule(self, kind: str, subject: str, due_at: datetime) -> bool:
        """Keep a job for `due_at`; False if the same job was already scheduled."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(jobs).values(
                    key=job_key(kind, subject), kind=kind, subject=subject, due_at=due_at, attempts=0,
                ))
        except IntegrityError:
            return False
        return True

    def run_soon(self, kind: str, subject: str) -> None:
        """Schedule a job for now and start it at once, off the caller's thread.

        It is in the database first, so a crash before it runs only delays it
        to the next poll after a restart.
        """
        self.schedule(kind, subject, self.clock())
        if self._executor is None:
            self._run_key(job_key(kind, subject))
        else:
            self._executor.submit(self._run_key, job_key(kind, subject))

    def run_due(self, now: datetime | None = None) -> int:
        """Run every job due by `now` that this instance can claim; how many it ran."""
        now = now or self.clock()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(jobs.c.id).where(self._claimable(now)).order_by(jobs.c.due_at, jobs.c.id).limit(100)
            ).scalars().all()
        return sum(1 for job_id in due if self._claim_and_run(job_id, now))

    def pending(self) -> list[tuple[str, datetime]]:
        """(key, due_at) of the jobs not finished yet, soonest first: for tests and operators."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs.c.key, jobs.c.due_at).where(jobs.c.finished_at.is_(None)).order_by(jobs.c.due_at)
            ).all()
        return [(key, as_utc(due)) for key, due in rows]

    def start_polling(self, interval: float = POLL_INTERVAL) -> threading.Event:
        """Run due jobs every `interval` seconds in a daemon thread; set the event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.run_due()
                except Exception:
                    log.exception("running scheduled jobs failed")

        threading.Thread(target=loop, name="job-scheduler", daemon=True).start()
        return stop

    # -- internals -----------------------------------------------------------

    def _claimable(self, now: datetime):
        return and_(
            jobs.c.finished_at.is_(None),
            jobs.c.due_at <= now,
            or_(jobs.c.claimed_by.is_(None), jobs.c.claimed_at < now - LEASE),
        )

    def _run_key(self, key: str) -> None:
        try:
            with self.engine.connect() as conn:
                job_id = conn.execute(select(jobs.c.id).where(jobs.c.key == key)).scalar()
            if job_id is not None:
                self._claim_and_run(job_id, self.clock())
        except Exception:
            log.exception("running job %s failed", key.split(":", 1)[0])

    def _claim_and_run(self, job_id: int, now: datetime) -> bool:
        # The claim: only one instance's UPDATE can match, because the first
        # one to commit makes the condition false for every other.
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, self._claimable(now))
                .values(claimed_by=self.instance, claimed_at=now, attempts=jobs.c.attempts + 1)
            ).rowcount == 1
            if not claimed:
                return False
            job = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
        handler = self._handlers.get(job["kind"])
        try:
            if handler is None:
                log.error("no handler for scheduled job kind %s", job["kind"])
            else:
                handler(job["subject"])
        except Exception:
            log.exception("scheduled job %s failed (attempt %s)", job["kind"], job["attempts"])
            if job["attempts"] < MAX_ATTEMPTS:
                self._release(job_id, self.clock() + RETRY_AFTER)
                return True
        self._finish(job_id)
        return True

    def _release(self, job_id: int, due_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                claimed_by=None, claimed_at=None, due_at=due_at))

    def _finish(self, job_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(finished_at=self.clock()))

