"""Workers: threads that take items from the work queue and run their handlers.

Each pool has its own threads and kinds, so that dialling (which waits for a
PLIVO_CPS slot) never holds up a Slack update, and the other way round. A pool
claims only as many items as it has free threads, so nothing sits leased in a
local backlog; a heartbeat renews the leases of what is running. Any number of
processes may run workers on one database: the queue hands each item to one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from voice import metrics
from voice.log_context import log_context, token_for_log
from voice.queue.work import (
    Deferred,
    GiveUp,
    RetryLater,
    WorkItem,
    WorkQueue,
    running_item,
)

log = logging.getLogger(__name__)

Handler = Callable[[WorkItem], None]

#: What a person is told of a failure that is ours (a bug, the database away), not Plivo's or Slack's.
OUR_SIDE = "an error on our side stopped it"


@dataclass(frozen=True)
class Policy:
    """How a kind of work is retried, and what happens when it cannot be done."""

    attempts: int = 5  # in all, the first included
    backoff: float = 2.0  # seconds before the second attempt; doubled each time
    max_backoff: float = 300.0
    rest: float = 0.0  # a poked kind: the least time between two runs for one subject
    #: Told when the item ends failed (out of attempts, or GiveUp), so the failure reaches a person.
    on_failure: Callable[[WorkItem, str], None] | None = None

    def delay(self, attempts: int) -> float:
        return min(self.max_backoff, self.backoff * (2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Pool:
    name: str
    threads: int
    kinds: frozenset[str] | None = None  # None: every kind no other pool takes


@dataclass
class Registry:
    """What each kind of work does."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    #: Run for each item as it is claimed, in claim order, before a thread takes it (a place in line).
    preparers: dict[str, Handler] = field(default_factory=dict)

    def add(self, kind: str, handler: Handler, policy: Policy = Policy(), *, prepare: Handler | None = None) -> None:
        self.handlers[kind] = handler
        self.policies[kind] = policy
        if prepare is not None:
            self.preparers[kind] = prepare


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Workers:
    def __init__(self, queue: WorkQueue, registry: Registry, pools: list[Pool], *,
                 owner: str | None = None, poll_interval: float = 0.1, idle_poll_interval: float = 1.0):
        self.queue = queue
        self.registry = registry
        self.pools = pools
        self.owner = owner or instance_name()
        # Looking for work: soon after work was seen, then less and less often while there is
        # none (new work wakes the workers at once: voice/queue/wakeup.py; polls only catch what is due later).
        self.poll_interval = poll_interval
        self.idle_poll_interval = max(idle_poll_interval, poll_interval)
        self._stop_listening: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._wake = {pool.name: threading.Event() for pool in pools}
        self._threads: list[threading.Thread] = []
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._busy = {pool.name: 0 for pool in pools}
        self._running: set[int] = set()  # ids of the items a thread is running now
        #: Ids of the items claimed and not yet run to their end: the heartbeat renews these leases only.
        #: An item whose end could not be written (the database was out) is not renewed, so it is
        #: claimable again once its lease runs out, as a dead worker's would be.
        self._in_hand: set[int] = set()
        self._idle = threading.Condition()
        self._lock = threading.Lock()
        queue.on_new_work = self.wake

    # -- running in the background -------------------------------------------------------

    def start(self) -> "Workers":
        for pool in self.pools:
            self._executors[pool.name] = ThreadPoolExecutor(pool.threads, thread_name_prefix=f"work-{pool.name}")
            self._spawn(f"dispatch-{pool.name}", lambda pool=pool: self._dispatch(pool))
        self._spawn("work-heartbeat", self._heartbeat)
        self._stop_listening = self.queue.wakeup.listen(self.wake)
        log.info("workers %s started: %s", self.owner,
                 ", ".join(f"{pool.name} ×{pool.threads}" for pool in self.pools))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Take no more work, let what runs finish (up to `timeout` in all), and hand back the rest at
        once. An item still running at the deadline keeps its lease: it may have reached Plivo, so
        nobody may start it again before the lease runs out (and the item knows how far it got)."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self.wake()
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)  # items not started are handed back below
        with self._idle:
            self._idle.wait_for(lambda: not self._running, max(0.0, deadline - time.monotonic()))
            still_running = set(self._running)
        released = self.queue.release(self.owner, keep=still_running)
        if released:
            log.info("workers %s handed back %s items", self.owner, released)
        if still_running:
            log.warning("workers %s stopped with %s items still running; their leases run out", self.owner,
                        len(still_running))
        self._threads.clear()

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    # -- running in the caller's thread (tests, scripts) --------------------------------------

    def run_due(self, limit: int = 1000) -> int:
        """Run every item due now, one after another, here; how many ran."""
        ran = 0
        while ran < limit:
            items = self.queue.claim(self.owner, 1, self._all_kinds())
            if not items:
                return ran
            self._prepare(items[0])
            self._run(items[0])
            ran += 1
        return ran

    def drain(self, timeout: float = 10.0) -> int:
        """Run what is due until nothing is due or running anywhere (threads included)."""
        deadline = time.monotonic() + timeout
        ran = 0
        while time.monotonic() < deadline:
            ran += self.run_due()
            if not self.queue.busy():
                return ran
            time.sleep(0.01)
        raise TimeoutError("the work queue did not settle")

    # -- internals --------------------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _kinds_of(self, pool: Pool) -> list[str]:
        if pool.kinds is not None:
            return sorted(pool.kinds)
        taken = set().union(*(p.kinds for p in self.pools if p.kinds is not None))
        return sorted(set(self.registry.handlers) - taken)

    def _all_kinds(self) -> list[str]:
        return sorted(self.registry.handlers)

    def _dispatch(self, pool: Pool) -> None:
        kinds = self._kinds_of(pool)
        wake = self._wake[pool.name]
        interval = self.poll_interval
        while not self._stop.is_set():
            took = 0
            next_due = None
            try:
                with self._lock:
                    free = pool.threads - self._busy[pool.name]
                next_due = self.queue.next_due(kinds) if free > 0 and kinds else None
                if next_due is not None and next_due <= 0:
                    for item in self.queue.claim(self.owner, free, kinds):
                        took += 1
                        self._prepare(item)
                        with self._lock:
                            self._busy[pool.name] += 1
                            self._in_hand.add(item.id)
                        if not self._submit(pool, item):
                            return
                    next_due = None
            except Exception:
                log.exception("taking work for %s failed", pool.name)
            interval = self.poll_interval if took else min(interval * 2, self.idle_poll_interval)
            # Work due soon (a deferred call's slot) is taken on time, not at the next idle poll.
            wait = interval if next_due is None else min(interval, max(next_due, 0.001))
            if wake.wait(wait):
                interval = self.poll_interval
            wake.clear()

    def _submit(self, pool: Pool, item: WorkItem) -> bool:
        """Hand a claimed item to its pool's threads; False once the pool is shut down (stop(), or the
        interpreter exiting): the item stays leased to us, and is handed back or taken over after it."""
        try:
            self._executors[pool.name].submit(self._run_in_pool, pool, item)
        except RuntimeError:
            with self._lock:
                self._busy[pool.name] -= 1
                self._in_hand.discard(item.id)
            return False
        return True

    def _prepare(self, item: WorkItem) -> None:
        prepare = self.registry.preparers.get(item.kind)
        if prepare is not None:
            try:
                prepare(item)
            except Exception:
                log.exception("preparing %s %s failed", item.kind, _short(item.subject))

    def _run_in_pool(self, pool: Pool, item: WorkItem) -> None:
        with self._idle:
            self._running.add(item.id)
        try:
            self._run(item)
        finally:
            with self._idle:
                self._running.discard(item.id)
                self._idle.notify_all()
            with self._lock:
                self._busy[pool.name] -= 1
                self._in_hand.discard(item.id)
            self._wake[pool.name].set()  # a thread is free: look for more

    def _heartbeat(self) -> None:
        interval = self.queue.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            with self._lock:
                in_hand = list(self._in_hand)
            if not in_hand:
                continue
            try:
                self.queue.renew(self.owner, in_hand)
            except Exception:
                log.exception("renewing work leases failed")

    def _run(self, item: WorkItem) -> None:
        try:
            self._run_and_end(item)
        except Exception:
            # The handler's outcome could not be written (the database failed at that moment): the
            # item keeps our lease, which the heartbeat no longer renews, so it is taken up again.
            log.exception("%s %s: its end could not be recorded; it is taken up again once its lease runs out",
                          item.kind, _short(item.subject))

    def _run_and_end(self, item: WorkItem) -> None:
        handler = self.registry.handlers.get(item.kind)
        policy = self.registry.policies.get(item.kind, Policy())
        if handler is None:
            log.error("no handler for work of kind %s", item.kind)
            self.queue.fail(item, self.owner, error="no handler")
            return
        running = running_item.set(item)
        context = log_context(work=item.kind, **_about(item))
        context.__enter__()
        try:
            handler(item)
        except Deferred as deferred:
            log.debug("%s %s: %s", item.kind, _short(item.subject), deferred)
            metrics.RATE_LIMITED.labels(item.kind).inc()
            self.queue.defer(item, self.owner, until=deferred.until, payload=deferred.payload)
        except GiveUp as refused:
            self._failed(item, policy, str(refused))
        except RetryLater as later:
            if later.counted and item.attempts >= policy.attempts:
                self._failed(item, policy, str(later), f" (after {item.attempts} attempts)")
            else:
                delay = later.after if later.after is not None else policy.delay(item.attempts)
                log.info("%s %s: %s; again in %.1f s", item.kind, _short(item.subject), later, delay)
                metrics.WORK_RETRIES.labels(item.kind).inc()
                self.queue.retry(item, self.owner, after=delay, error=str(later), counted=later.counted)
        except Exception as error:
            log.exception("%s %s failed (attempt %s of %s)", item.kind, _short(item.subject), item.attempts,
                          policy.attempts)
            if item.attempts >= policy.attempts:
                self._failed(item, policy, OUR_SIDE, f" ({type(error).__name__}: {error})")
            else:
                metrics.WORK_RETRIES.labels(item.kind).inc()
                self.queue.retry(item, self.owner, after=policy.delay(item.attempts),
                                 error=f"{type(error).__name__}: {error}")
        else:
            self.queue.finish(item, self.owner, rest=policy.rest)
        finally:
            context.__exit__(None, None, None)
            running_item.reset(running)

    def _failed(self, item: WorkItem, policy: Policy, reason: str, detail: str = "") -> None:
        """`reason` is for a person (it may reach Slack); `detail` only for the log."""
        log.error("%s %s failed for good: %s%s", item.kind, _short(item.subject), reason, detail)
        metrics.WORK_FAILURES.labels(item.kind).inc()
        self.queue.fail(item, self.owner, error=reason + detail)
        if policy.on_failure is not None:
            try:
                policy.on_failure(item, reason)
            except Exception:
                log.exception("reporting the failure of %s %s failed", item.kind, _short(item.subject))


def _about(item: WorkItem) -> dict[str, str]:
    """What an item is about, for its log lines: a call (by its short reference) or an alert."""
    if item.kind.startswith(("alert.", "report.alert", "report.gave_up")):
        return {"alert": item.subject.split(":", 1)[0]}
    if item.kind.startswith(("call.", "report.call")):
        return {"call": token_for_log(item.subject)}
    return {}


def _short(subject: str) -> str:
    """Enough of a subject (often a call's token) to follow it in the log, not enough to use it."""
    return subject[:8]
