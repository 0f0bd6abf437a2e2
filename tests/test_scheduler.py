"""Scheduled jobs: due at their time, once, across restarts and across instances."""

import threading
from datetime import timedelta

import pytest

from voice.scheduler import LEASE, MAX_ATTEMPTS, RETRY_AFTER, Scheduler
from voice.store import Store, make_engine


@pytest.fixture
def ran():
    return []


@pytest.fixture
def scheduler(store, clock, ran):
    scheduler = Scheduler(store.engine, clock=clock, instance="one")
    scheduler.register("greet", ran.append)
    return scheduler


def test_a_job_runs_when_it_is_due_and_not_before(scheduler, clock, ran):
    assert scheduler.schedule("greet", "a", clock.now + timedelta(seconds=60))
    clock.advance(seconds=59)
    assert scheduler.run_due() == 0 and ran == []
    clock.advance(seconds=1)
    assert scheduler.run_due() == 1 and ran == ["a"]
    assert scheduler.run_due() == 0 and ran == ["a"]
    assert scheduler.pending() == []


def test_scheduling_the_same_job_twice_keeps_one(scheduler, clock, ran):
    assert scheduler.schedule("greet", "a", clock.now)
    assert not scheduler.schedule("greet", "a", clock.now)
    scheduler.run_due()
    assert ran == ["a"]


def test_run_soon_runs_at_once_and_only_once(scheduler, ran):
    scheduler.run_soon("greet", "now")
    scheduler.run_soon("greet", "now")
    assert ran == ["now"]


def test_due_jobs_run_soonest_first(scheduler, clock, ran):
    scheduler.schedule("greet", "later", clock.now + timedelta(seconds=2))
    scheduler.schedule("greet", "sooner", clock.now + timedelta(seconds=1))
    clock.advance(seconds=5)
    scheduler.run_due()
    assert ran == ["sooner", "later"]


def test_a_job_kept_by_one_scheduler_runs_in_the_next_after_a_restart(database_url, clock, ran):
    first = Scheduler(make_engine(database_url), clock=clock)
    Store(first.engine).create_schema()
    first.schedule("greet", "after-restart", clock.now + timedelta(seconds=60))
    first.engine.dispose()

    second = Scheduler(make_engine(database_url), clock=clock)
    second.register("greet", ran.append)
    clock.advance(seconds=61)
    assert second.run_due() == 1 and ran == ["after-restart"]
    second.engine.dispose()


def test_a_failing_job_is_tried_again_later_then_given_up(scheduler, clock):
    attempts = []

    def fail(subject):
        attempts.append(clock.now)
        raise RuntimeError("Plivo is down")

    scheduler.register("flaky", fail)
    scheduler.schedule("flaky", "x", clock.now)
    for _ in range(MAX_ATTEMPTS + 2):
        scheduler.run_due()
        clock.advance(seconds=RETRY_AFTER.total_seconds())
    assert len(attempts) == MAX_ATTEMPTS
    assert attempts[1] - attempts[0] == RETRY_AFTER
    assert scheduler.pending() == []


def test_a_job_claimed_by_an_instance_that_died_is_taken_over_after_the_lease(store, clock, ran):
    dead = Scheduler(store.engine, clock=clock, instance="dead")
    dead.register("greet", lambda subject: None)
    dead.schedule("greet", "orphan", clock.now)
    # The dead instance claimed it, then vanished before finishing.
    dead._finish = lambda job_id: None
    assert dead.run_due() == 1

    alive = Scheduler(store.engine, clock=clock, instance="alive")
    alive.register("greet", ran.append)
    assert alive.run_due() == 0
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert alive.run_due() == 1 and ran == ["orphan"]


def test_two_instances_on_one_postgresql_database_run_a_due_job_exactly_once(database_url, clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("the race needs two engines on a server database")
    engines = [make_engine(database_url) for _ in range(2)]
    Store(engines[0]).create_schema()
    runs = []
    lock = threading.Lock()
    gate = threading.Barrier(2)

    def handler(subject):
        with lock:
            runs.append(subject)

    schedulers = []
    for number, engine in enumerate(engines):
        scheduler = Scheduler(engine, clock=clock, instance=f"instance-{number}")
        scheduler.register("retry", handler)
        schedulers.append(scheduler)
    for index in range(20):
        schedulers[0].schedule("retry", f"alert-{index}", clock.now)

    def poll(scheduler):
        gate.wait()
        scheduler.run_due()

    threads = [threading.Thread(target=poll, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(runs) == sorted(f"alert-{index}" for index in range(20))
    for engine in engines:
        engine.dispose()
