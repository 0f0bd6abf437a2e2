"""What the metrics say, read as a scraper would: the work queue as the database holds it, and the
counters that follow retries, failures and rate-limit waits."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest

from answer_server.metrics import registry_for
from voice.metrics import RATE_LIMITED, WORK_FAILURES, WORK_RETRIES
from voice.queue.depth import QueueCollector
from voice.queue.work import Deferred, GiveUp, RetryLater, WorkQueue
from voice.queue.workers import Policy, Pool, Registry, Workers


def test_the_queue_shows_its_depth_by_kind_and_the_age_of_its_oldest_due_item(engine, clock):
    queue = WorkQueue(engine, clock=clock)
    with engine.begin() as conn:
        queue.enqueue(conn, "call.place", "a", due_at=clock() - timedelta(seconds=30))
        queue.enqueue(conn, "call.place", "b")
        queue.enqueue(conn, "report.call", "c")
        queue.enqueue(conn, "alert.next", "1", due_at=clock() + timedelta(hours=1))  # not due: not waiting
    registry = CollectorRegistry()
    registry.register(QueueCollector(engine, clock=clock))
    assert registry.get_sample_value("voicebridge_work_queue_depth", {"kind": "call.place"}) == 2
    assert registry.get_sample_value("voicebridge_work_queue_depth", {"kind": "report.call"}) == 1
    assert registry.get_sample_value("voicebridge_work_queue_depth", {"kind": "alert.next"}) is None
    assert registry.get_sample_value("voicebridge_work_oldest_due_seconds") == 30.0


def test_an_empty_queue_is_zero_old(engine, clock):
    registry = CollectorRegistry()
    registry.register(QueueCollector(engine, clock=clock))
    assert registry.get_sample_value("voicebridge_work_oldest_due_seconds") == 0.0


def test_retries_failures_and_rate_limit_waits_are_counted_by_kind(engine, clock):
    queue = WorkQueue(engine, clock=clock)
    outcomes = iter([RetryLater("Slack limited it", after=0.0), GiveUp("Slack refused it")])

    def post(item):
        raise next(outcomes)

    def place(item):
        raise Deferred("waiting for its slot", until=0.0)

    def value(metric, kind):
        return metric.labels(kind)._value.get()

    before = (value(WORK_RETRIES, "m.post"), value(WORK_FAILURES, "m.post"), value(RATE_LIMITED, "m.place"))
    registry = Registry()
    registry.add("m.post", post, Policy(attempts=5, backoff=0.0))
    registry.add("m.place", place)
    workers = Workers(queue, registry, [Pool("general", 1)], owner="here")
    with engine.begin() as conn:
        queue.enqueue(conn, "m.post", "x")
        queue.enqueue(conn, "m.place", "y")
    workers.run_due(limit=3)
    after = (value(WORK_RETRIES, "m.post"), value(WORK_FAILURES, "m.post"), value(RATE_LIMITED, "m.place"))
    assert [b - a for a, b in zip(before, after)] == [1, 1, 1]


def test_a_scrape_in_one_process_shows_its_own_figures_and_the_queue(engine):
    text = generate_latest(registry_for(engine)).decode()
    assert "# TYPE voicebridge_calls_total counter" in text
    assert "voicebridge_work_oldest_due_seconds" in text
