"""The work queue's guarantees, on SQLite and PostgreSQL: each item runs once, when due;
keys dedupe; pokes coalesce; claims are exclusive across threads and instances; a dead
worker's lease runs out; retries back off; an item is queued only if its transaction commits."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from voice.clock import utcnow
from voice.queue.work import (
    DONE,
    FAILED,
    IDLE,
    LEASE,
    PENDING,
    RUNNING,
    Deferred,
    GiveUp,
    RetryLater,
    WorkQueue,
)
from voice.queue.workers import OUR_SIDE, Policy, Pool, Registry, Workers
from voice.retention import Retention
from voice.store.db import make_engine


@pytest.fixture
def queue(engine, clock):
    return WorkQueue(engine, clock=clock)


class Recorder:
    """A handler that notes each run (kind, subject, attempt) and can be told to fail."""

    def __init__(self, clock=None):
        self.runs: list[tuple[str, int]] = []
        self.times = []
        self.clock = clock
        self.lock = threading.Lock()
        self.then = None  # called with the item during its run

    def __call__(self, item):
        with self.lock:
            self.runs.append((item.subject, item.attempts))
            if self.clock is not None:
                self.times.append(self.clock())
        if self.then is not None:
            self.then(item)

    @property
    def subjects(self) -> list[str]:
        return [subject for subject, _ in self.runs]


def workers_for(queue, owner="here", **kinds) -> Workers:
    """Workers running `kinds` (name → handler, or (handler, policy))."""
    registry = Registry()
    for kind, handler in kinds.items():
        handler, policy = handler if isinstance(handler, tuple) else (handler, Policy())
        registry.add(kind, handler, policy)
    return Workers(queue, registry, [Pool("general", 4)], owner=owner, poll_interval=0.02)


def add(queue, kind="greet", subject="a", **options) -> None:
    with queue.engine.begin() as conn:
        queue.enqueue(conn, kind, subject, **options)


def poke(queue, kind="report", subject="a") -> None:
    with queue.engine.begin() as conn:
        queue.poke(conn, kind, subject)


def states(queue, kind=None) -> list[str]:
    return [item["state"] for item in queue.items(kind)]


# -- one-off items ---------------------------------------------------------------------------------


def test_an_enqueued_item_runs_once_when_it_is_due_and_not_before(queue, clock):
    ran = Recorder()
    workers = workers_for(queue, greet=ran)
    add(queue, subject="a", due_at=clock.now + timedelta(seconds=60))
    clock.advance(seconds=59)
    assert workers.run_due() == 0 and ran.runs == []
    clock.advance(seconds=1)
    assert workers.run_due() == 1 and ran.runs == [("a", 1)]
    clock.advance(hours=1)
    assert workers.run_due() == 0 and ran.runs == [("a", 1)]
    assert states(queue) == [DONE] and queue.pending() == []


def test_an_item_enqueued_twice_under_one_key_runs_once_even_after_it_is_done(queue):
    ran = Recorder()
    workers = workers_for(queue, greet=ran)
    add(queue, subject="a", key="greet:a")
    add(queue, subject="a", key="greet:a")
    assert len(queue.items()) == 1
    workers.run_due()
    add(queue, subject="a", key="greet:a")  # a command delivered again, after the work was done
    assert workers.run_due() == 0
    assert ran.subjects == ["a"] and len(queue.items()) == 1


def test_items_without_a_key_are_never_merged(queue):
    ran = Recorder()
    add(queue, subject="a")
    add(queue, subject="a")
    assert workers_for(queue, greet=ran).run_due() == 2 and ran.subjects == ["a", "a"]


def test_due_items_run_soonest_first_and_are_prepared_in_claim_order(queue, clock):
    order = []
    registry = Registry()
    registry.add("greet", lambda item: order.append(("run", item.subject)),
                 prepare=lambda item: order.append(("prepare", item.subject)))
    workers = Workers(queue, registry, [Pool("general", 1)], owner="here")
    with queue.engine.begin() as conn:  # written in the reverse order of their due times
        for seconds in (3, 2, 1):
            queue.enqueue(conn, "greet", f"due+{seconds}", due_at=clock.now + timedelta(seconds=seconds))
    clock.advance(seconds=5)
    workers.run_due()
    assert order == [("prepare", "due+1"), ("run", "due+1"), ("prepare", "due+2"), ("run", "due+2"),
                     ("prepare", "due+3"), ("run", "due+3")]


def test_the_dispatcher_prepares_a_batch_in_claim_order_before_its_threads_run_it(queue, clock):
    prepared, ran, gate = [], [], threading.Event()
    registry = Registry()
    registry.add("place", lambda item: (gate.wait(2), ran.append(item.subject)),
                 prepare=lambda item: prepared.append(item.subject))
    with queue.engine.begin() as conn:
        for seconds in (4, 1, 3, 2):
            queue.enqueue(conn, "place", f"due-{seconds}", due_at=clock.now - timedelta(seconds=10 - seconds))
    workers = Workers(queue, registry, [Pool("dial", 4)], owner="here", poll_interval=0.02).start()
    try:
        deadline = time.monotonic() + 2
        while len(prepared) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert prepared == ["due-1", "due-2", "due-3", "due-4"] and ran == []  # each prepared before it runs
        gate.set()
        workers.drain(timeout=2)
    finally:
        gate.set()
        workers.stop()
    assert sorted(ran) == ["due-1", "due-2", "due-3", "due-4"]


def test_an_item_survives_a_restart_and_runs_in_the_next_process(database_url, engine, clock):
    add(WorkQueue(engine, clock=clock), subject="after-restart", due_at=clock.now + timedelta(seconds=60))
    engine.dispose()
    fresh = make_engine(database_url)
    try:
        ran = Recorder()
        workers = workers_for(WorkQueue(fresh, clock=clock), greet=ran)
        clock.advance(seconds=61)
        assert workers.run_due() == 1 and ran.subjects == ["after-restart"]
    finally:
        fresh.dispose()


# -- poked items --------------------------------------------------------------------------------------


def test_pokes_while_an_item_waits_coalesce_into_one_run(queue):
    ran = Recorder()
    workers = workers_for(queue, report=ran)
    for _ in range(3):
        poke(queue)
    assert len(queue.items()) == 1
    assert workers.run_due() == 1 and ran.subjects == ["a"]
    assert workers.run_due() == 0 and states(queue) == [IDLE]
    poke(queue)  # a later change: one more run
    assert workers.run_due() == 1 and len(ran.runs) == 2


def test_a_poke_while_an_item_runs_makes_exactly_one_more_run_after_it_and_never_two_at_once(
        database_url, queue):
    ran = Recorder()
    other = make_engine(database_url)  # another instance, looking for work meanwhile
    taken_meanwhile = []

    def changed_during_the_run(item):
        if len(ran.runs) == 1:
            poke(queue)
            poke(queue)
            taken_meanwhile.extend(WorkQueue(other, clock=queue.clock).claim("other-instance", 10))

    ran.then = changed_during_the_run
    poke(queue)
    try:
        assert workers_for(queue, report=ran).run_due() == 2
    finally:
        other.dispose()
    assert ran.subjects == ["a", "a"] and taken_meanwhile == []
    assert states(queue) == [IDLE]


def test_a_poked_item_rests_between_two_runs(queue, clock):
    ran = Recorder(clock)
    workers = workers_for(queue, report=(ran, Policy(rest=5.0)))
    start = clock.now
    poke(queue)
    workers.run_due()
    poke(queue)
    assert workers.run_due() == 0
    clock.advance(seconds=4)
    poke(queue)  # poked again while resting: still once, when the rest is over
    assert workers.run_due() == 0
    clock.advance(seconds=1)
    assert workers.run_due() == 1
    assert ran.times == [start, start + timedelta(seconds=5)]


def test_a_poke_while_it_runs_waits_for_the_rest_too(queue, clock):
    ran = Recorder(clock)
    ran.then = lambda item: poke(queue) if len(ran.runs) == 1 else None
    workers = workers_for(queue, report=(ran, Policy(rest=2.0)))
    start = clock.now
    poke(queue)
    assert workers.run_due() == 1 and states(queue) == [PENDING]
    clock.advance(seconds=2)
    assert workers.run_due() == 1
    assert ran.times == [start, start + timedelta(seconds=2)]


def test_a_poke_revives_an_item_that_failed_with_fresh_attempts(queue):
    outcomes = iter([GiveUp("Slack refused it"), None])

    def handler(item):
        outcome = next(outcomes)
        if outcome:
            raise outcome

    workers = workers_for(queue, report=(handler, Policy(attempts=1)))
    poke(queue)
    workers.run_due()
    assert states(queue) == [FAILED]
    poke(queue)
    assert queue.items()[0]["attempts"] == 0
    assert workers.run_due() == 1 and states(queue) == [IDLE]


def test_a_poked_item_that_keeps_being_poked_while_it_runs_keeps_its_retries(queue):
    runs = []

    def handler(item):
        runs.append(item.attempts)
        if len(runs) <= 3:
            poke(queue)  # the call changed again while its message was being updated
        else:
            raise RetryLater("Slack limited an update", after=1.0)

    workers = workers_for(queue, report=(handler, Policy(attempts=3)))
    poke(queue)
    workers.run_due()
    # Three successful runs, then one that Slack limited: its first failure, so it is retried.
    assert len(runs) == 4
    assert states(queue) == [PENDING]


# -- claiming ---------------------------------------------------------------------------------------


def test_threads_claiming_at_once_each_get_distinct_items_and_every_item_once(queue):
    with queue.engine.begin() as conn:
        for index in range(120):
            queue.enqueue(conn, "greet", f"item-{index}")
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()
    gate = threading.Barrier(8)

    def claim_until_empty(owner):
        gate.wait()
        while items := queue.claim(owner, 3):
            for item in items:
                with lock:
                    taken.append((item.subject, owner))
                queue.finish(item, owner)

    threads = [threading.Thread(target=claim_until_empty, args=(f"thread-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    counts = Counter(subject for subject, _ in taken)
    assert sorted(counts) == sorted(f"item-{index}" for index in range(120))
    assert set(counts.values()) == {1}
    assert set(states(queue)) == {DONE}


def test_two_instances_on_one_postgresql_database_run_each_of_200_items_exactly_once(database_url, engine, clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("two instances claiming at once need a server database")
    second_engine = make_engine(database_url)
    runs: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handler_of(instance):
        def handler(item):
            with lock:
                runs.append((item.subject, instance))
            time.sleep(0.002)
        return handler

    queues = [WorkQueue(engine, clock=clock), WorkQueue(second_engine, clock=clock)]
    with engine.begin() as conn:
        for index in range(200):
            queues[0].enqueue(conn, "retry", f"alert-{index}")
    instances = [workers_for(q, owner=f"instance-{n}", retry=handler_of(f"instance-{n}"))
                 for n, q in enumerate(queues)]
    for workers in instances:
        workers.start()
    try:
        deadline = time.monotonic() + 20
        while (len(runs) < 200 or queues[0].busy()) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for workers in instances:
            workers.stop()
        second_engine.dispose()
    counts = Counter(subject for subject, _ in runs)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert {instance for _, instance in runs} == {"instance-0", "instance-1"}  # both took part
    assert set(states(queues[0])) == {DONE}


def test_a_dead_workers_item_is_taken_over_once_its_lease_runs_out(database_url, engine, clock):
    dead = WorkQueue(engine, clock=clock)
    add(dead, subject="orphan")
    [orphan] = dead.claim("dead-worker", 5)  # then its process vanished without finishing

    other_engine = make_engine(database_url)
    try:
        alive = WorkQueue(other_engine, clock=clock)
        assert alive.claim("alive-worker", 5) == []  # still leased
        later = utcnow() + LEASE + timedelta(seconds=1)
        alive.wall_clock = lambda: later
        [taken] = alive.claim("alive-worker", 5)
        assert (taken.id, taken.attempts) == (orphan.id, 2)
        # The "dead" worker was only stuck: when it comes back, its finish changes nothing.
        dead.finish(orphan, "dead-worker")
        [row] = alive.items()
        assert (row["state"], row["lease_owner"]) == (RUNNING, "alive-worker")
        alive.finish(taken, "alive-worker")
        assert states(alive) == [DONE]
    finally:
        other_engine.dispose()


def test_a_renewed_lease_is_not_taken_over(engine, clock):
    worker, other = WorkQueue(engine, clock=clock), WorkQueue(engine, clock=clock)
    add(worker)
    start = utcnow()
    [item] = worker.claim("worker", 1)
    worker.wall_clock = lambda: start + timedelta(seconds=10)
    worker.renew("worker")
    other.wall_clock = lambda: start + LEASE + timedelta(seconds=5)
    assert other.claim("other", 1) == []
    other.wall_clock = lambda: start + timedelta(seconds=10) + LEASE + timedelta(seconds=1)
    assert [taken.id for taken in other.claim("other", 1)] == [item.id]


def test_leases_follow_the_wall_clock_not_the_injected_clock(queue, clock):
    add(queue)
    queue.claim("worker", 1)
    clock.advance(hours=1)  # the test's clock moves; real time does not
    assert queue.claim("other", 1) == []


def test_release_hands_running_items_back_to_another_worker_at_once(queue):
    add(queue, subject="a")
    add(queue, subject="b")
    assert len(queue.claim("stopping", 5)) == 2
    assert queue.claim("other", 5) == []
    assert queue.release("stopping") == 2
    taken = queue.claim("other", 5)
    assert sorted(item.subject for item in taken) == ["a", "b"]
    assert {item.attempts for item in taken} == {1}  # handing back is not an attempt


def test_a_poked_item_whose_end_could_not_be_written_still_runs_after_the_change_that_came_meanwhile(engine, clock):
    """The database failed just as a run tried to record its end: the item stays leased to this worker,
    which is alive and renews its leases. A poke meanwhile (the state moved on) must still be run."""
    queue = WorkQueue(engine, clock=clock, lease=timedelta(seconds=0.6))
    ran = Recorder()
    ended = queue.finish
    failures = []

    def finish_once_fails(item, owner, **options):
        if not failures:
            failures.append(item.id)
            poke(queue)  # the state moves on while this run ends
            raise OperationalError("UPDATE work_items", {}, Exception("the database went away"))
        ended(item, owner, **options)

    queue.finish = finish_once_fails
    workers = workers_for(queue, report=ran).start()
    try:
        poke(queue)
        deadline = time.monotonic() + 5
        while len(ran.runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        workers.stop()
    assert failures and len(ran.runs) == 2, "the poked item was held by a lease renewed for nothing"
    assert states(queue) == [IDLE]


# -- failures -----------------------------------------------------------------------------------------


def test_a_failing_item_is_retried_with_backoff_then_fails_and_reports_it(queue, clock):
    failures = []
    attempts = []

    def flaky(item):
        attempts.append(clock.now)
        raise RuntimeError("the database hiccuped")

    policy = Policy(attempts=3, backoff=2.0, on_failure=lambda item, reason: failures.append((item.subject, reason)))
    workers = workers_for(queue, flaky=(flaky, policy))
    start = clock.now
    add(queue, "flaky", "x")
    workers.run_due()
    clock.advance(seconds=1.9)
    assert workers.run_due() == 0
    clock.advance(seconds=0.1)
    assert workers.run_due() == 1
    clock.advance(seconds=3.9)
    assert workers.run_due() == 0
    clock.advance(seconds=0.1)
    assert workers.run_due() == 1
    clock.advance(hours=1)
    assert workers.run_due() == 0
    assert attempts == [start, start + timedelta(seconds=2), start + timedelta(seconds=6)]
    [item] = queue.items()
    assert item["state"] == FAILED and "RuntimeError: the database hiccuped" in item["last_error"]
    assert failures == [("x", OUR_SIDE)]  # a person hears it was our side, not the exception


def test_retry_later_waits_as_long_as_it_says_else_the_backoff(queue, clock):
    asked = iter([RetryLater("Slack limited it", after=30.0), RetryLater("Slack failed (HTTP 503)"), None])
    attempts = []

    def handler(item):
        attempts.append(clock.now)
        error = next(asked)
        if error:
            raise error

    workers = workers_for(queue, post=(handler, Policy(attempts=5, backoff=3.0)))
    start = clock.now
    add(queue, "post", "m")
    workers.run_due()
    clock.advance(seconds=29)
    assert workers.run_due() == 0
    clock.advance(seconds=1)
    workers.run_due()  # the second attempt: backoff 3 s * 2 before the third
    clock.advance(seconds=5.9)
    assert workers.run_due() == 0
    clock.advance(seconds=0.1)
    workers.run_due()
    assert attempts == [start, start + timedelta(seconds=30), start + timedelta(seconds=36)]
    assert states(queue) == [DONE]


def test_retry_later_on_the_last_attempt_fails_with_its_reason(queue, clock):
    failures = []

    def handler(item):
        raise RetryLater("Plivo is limiting how fast we place calls")

    workers = workers_for(queue, place=(handler, Policy(attempts=2, backoff=1.0,
                                                        on_failure=lambda item, why: failures.append(why))))
    add(queue, "place", "t")
    workers.run_due()
    clock.advance(seconds=1)
    workers.run_due()
    assert states(queue) == [FAILED] and failures == ["Plivo is limiting how fast we place calls"]


def test_give_up_ends_the_item_failed_at_once_and_tells_on_failure(queue, clock):
    failures, ran = [], []

    def refused(item):
        ran.append(item.attempts)
        raise GiveUp("Slack refused a new message: channel_not_found")

    workers = workers_for(queue, post=(refused, Policy(attempts=5, on_failure=lambda i, why: failures.append(why))))
    add(queue, "post", "m")
    workers.run_due()
    clock.advance(hours=1)
    workers.run_due()
    assert ran == [1]
    [item] = queue.items()
    assert item["state"] == FAILED and item["last_error"] == "Slack refused a new message: channel_not_found"
    assert failures == ["Slack refused a new message: channel_not_found"]


def test_workers_leave_kinds_they_do_not_handle_for_an_instance_that_does(queue):
    add(queue, "alert.open", "7")
    add(queue, "greet", "a")
    ran = Recorder()
    assert workers_for(queue, greet=ran).run_due() == 1 and ran.subjects == ["a"]
    assert [(item["kind"], item["state"]) for item in queue.items()] == [("alert.open", PENDING), ("greet", DONE)]


# -- the outbox: an item exists only if its transaction committed ----------------------------------------


def test_an_item_is_queued_only_if_its_transaction_commits(database_url, queue):
    woken = []
    queue.on_new_work = lambda: woken.append(True)
    with pytest.raises(RuntimeError), queue.engine.begin() as conn:
        queue.enqueue(conn, "place", "tok-rolled-back", key="place:tok-rolled-back")
        queue.poke(conn, "report", "tok-rolled-back")
        raise RuntimeError("the request failed after writing its work")
    assert queue.items() == [] and not queue.due() and woken == []

    with queue.engine.begin() as conn:
        queue.enqueue(conn, "place", "tok-committed")
        assert woken == []  # not before the commit: a worker would look and find nothing
    assert woken == [True]

    other = make_engine(database_url)  # another instance sees it at once
    try:
        assert [item.subject for item in WorkQueue(other, clock=queue.clock).claim("other-instance", 5)] == \
            ["tok-committed"]
    finally:
        other.dispose()
    # The rolled-back key was never used: it can be queued now.
    add(queue, "place", "tok-rolled-back", key="place:tok-rolled-back")
    assert [item["subject"] for item in queue.items("place")] == ["tok-committed", "tok-rolled-back"]


def sweep(queue: WorkQueue) -> int:
    """The hourly housekeeping's retention sweep (voice/retention.py), on the queue's clock: work rows deleted."""
    return Retention(queue.engine, days=30, clock=queue.clock).sweep().counts.get("work_items", 0)


def test_finished_one_off_items_are_forgotten_after_a_week_and_idle_poked_ones_after_a_day(queue, clock):
    workers = workers_for(queue, greet=Recorder(), report=Recorder())
    add(queue, "greet", "old", key="greet-once:old")
    poke(queue, "report", "r")
    workers.run_due()
    clock.advance(hours=23)
    poke(queue, "report", "shown")
    workers.run_due()
    assert sweep(queue) == 0  # nothing is old enough yet
    clock.advance(days=7, hours=2)
    add(queue, "greet", "new")
    workers.run_due()
    poke(queue, "report", "r")  # something reported long ago changes again: its row is due at once
    assert sweep(queue) == 2  # the week-old greeting, and the report that has shown its last state for days
    assert sorted(item["subject"] for item in queue.items()) == ["new", "r"]
    assert queue.pending() == [("report:r", clock.now)]
    add(queue, "greet", "old", key="greet-once:old")  # its key is free again
    assert ("greet:old", clock.now) in queue.pending()


def test_a_one_off_item_keyed_by_its_kind_and_subject_ends_done_and_is_forgotten(queue, clock):
    workers = workers_for(queue, **{"call.place": Recorder()})
    add(queue, "call.place", "tok-1", key="call.place:tok-1")  # as CallLifecycle and OtpService key them
    workers.run_due()
    assert states(queue) == [DONE]
    clock.advance(days=8)
    assert sweep(queue) == 1


def test_busy_counts_due_and_running_items_only(queue, clock):
    add(queue, subject="later", due_at=clock.now + timedelta(seconds=10))
    assert not queue.busy()
    add(queue, subject="now")
    assert queue.busy()
    [item] = queue.claim("here", 5)
    assert item.subject == "now" and queue.busy()
    queue.finish(item, "here")
    assert not queue.busy()


def test_a_deferred_item_comes_back_when_it_says_without_using_up_its_attempts(queue, clock):
    runs = []

    def waits_its_turn(item):
        runs.append((clock.now, item.payload))
        if len(runs) < 4:  # more deferrals than the policy has attempts
            raise Deferred("waiting for its slot", until=time.time() + 30, payload={"slot": len(runs)})

    workers = workers_for(queue, place=(waits_its_turn, Policy(attempts=2)))
    start = clock.now
    add(queue, "place", "t")
    for _ in range(4):
        workers.run_due()
        assert workers.run_due() == 0  # not due again before its time
        clock.advance(seconds=30)
    assert [when for when, _ in runs] == [start + timedelta(seconds=30 * n) for n in range(4)]
    assert [payload for _, payload in runs] == [None, {"slot": 1}, {"slot": 2}, {"slot": 3}]
    assert states(queue) == [DONE]


def test_stop_hands_back_what_waits_and_leaves_an_item_still_running_leased(queue):
    """A shutdown must not let another worker start again what may have reached Plivo already."""
    started, finish = threading.Event(), threading.Event()

    def slow(item):
        started.set()
        finish.wait(10)

    registry = Registry()
    registry.add("slow", slow)
    workers = Workers(queue, registry, [Pool("general", 1)], owner="dying", poll_interval=0.02).start()
    add(queue, "slow", "in-flight")
    assert started.wait(5)
    add(queue, "slow", "waiting")  # claimed or not, it has not started: it must be handed back
    time.sleep(0.2)
    began = time.monotonic()
    workers.stop(timeout=0.5)
    assert time.monotonic() - began < 2  # bounded, though the item still runs
    items = {item["subject"]: item for item in queue.items("slow")}
    assert items["in-flight"]["state"] == RUNNING and items["in-flight"]["lease_owner"] == "dying"
    assert items["waiting"]["state"] == PENDING and items["waiting"]["lease_owner"] is None
    finish.set()


def test_a_dispatcher_whose_threads_are_gone_stops_quietly_and_leaves_the_item_leased(queue, clock, caplog):
    """At the interpreter's exit Python shuts thread pools down under a running dispatcher: the item it had
    just claimed is not lost (its lease hands it on), and nothing is logged as a failure."""
    registry = Registry()
    ran = []
    registry.add("greet", lambda item: ran.append(item.subject))
    workers = Workers(queue, registry, [Pool("general", 2)], owner="here", poll_interval=0.02).start()
    for executor in workers._executors.values():
        executor.shutdown(wait=True)
    with caplog.at_level("ERROR"):
        with queue.engine.begin() as conn:
            queue.enqueue(conn, "greet", "late")
        deadline = time.monotonic() + 2
        while not any(row[0] == "late" for row in queue.pending()) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
    workers.stop(timeout=1)
    assert ran == [] and not [r for r in caplog.records if "taking work" in r.getMessage()]


def test_an_item_whose_end_could_not_be_written_is_taken_up_again_once_its_lease_runs_out(engine, clock):
    """The database went away as a worker finished an item: the end is not written, and the item must not
    stay leased for ever to a worker that is alive but no longer on it (its heartbeat goes on)."""
    queue = WorkQueue(engine, clock=clock, lease=timedelta(seconds=1))
    ends = []

    def finish_while_out(item, owner, **options):
        if not ends:
            ends.append("lost")
            raise OperationalError("UPDATE work_items", {}, ConnectionRefusedError("the database is out"))
        WorkQueue.finish(queue, item, owner, **options)

    queue.finish = finish_while_out
    recorder = Recorder()
    workers = workers_for(queue, greet=recorder).start()
    try:
        add(queue, subject="once")
        deadline = time.monotonic() + 5
        while states(queue) != [DONE] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        workers.stop(timeout=1)
    assert states(queue) == [DONE]
    assert recorder.subjects == ["once", "once"]  # run again, as a dead worker's item would be
