"""The shared rate limiter (PLIVO_CPS, Slack's posting rate): slots 1.05/rate apart whoever
reserves them, in threads and in two instances on one database; never more than `rate` in a
second; and a slot being waited for holds up nobody else's reservation."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timezone
from itertools import pairwise

import pytest

from voice.calls.pacing import HORIZON, TURN, CallPacing
from voice.queue.ratelimit import SPACING, SlotLimiter
from voice.queue.work import Deferred, WorkItem, WorkQueue
from voice.queue.workers import Policy, Pool, Registry, Workers
from voice.store.db import make_engine

EPSILON = 1e-6


class StoppedClock:
    """Seconds since the epoch that move only when told."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def gaps(slots: list[float]) -> list[float]:
    ordered = sorted(slots)
    return [later - earlier for earlier, later in pairwise(ordered)]


def most_in_one_second(slots: list[float]) -> int:
    """The most slots in any window [t, t + 1 s)."""
    ordered = sorted(slots)
    return max(sum(1 for other in ordered[index:] if other < start + 1.0) for index, start in enumerate(ordered))


def test_slots_are_1_05_over_rate_apart_whoever_reserves_them(engine):
    clock = StoppedClock()
    first, second = (SlotLimiter(engine, "plivo.create_call", 2.0, clock=clock) for _ in range(2))
    slots = [limiter.reserve() for limiter in (first, second, first, first, second)]
    interval = SPACING / 2.0
    assert slots == pytest.approx([clock.now + n * interval for n in range(5)])


def test_a_limiter_with_another_name_is_not_held_up(engine):
    clock = StoppedClock()
    calls = SlotLimiter(engine, "plivo.create_call", 1.0, clock=clock)
    posts = SlotLimiter(engine, "slack.post:C0OPS", 1.0, clock=clock)
    calls.reserve()
    calls.reserve()
    assert posts.reserve() == pytest.approx(clock.now)


def test_a_slot_is_never_in_the_past_after_a_quiet_spell(engine):
    clock = StoppedClock()
    limiter = SlotLimiter(engine, "plivo.create_call", 4.0, clock=clock)
    limiter.reserve()
    clock.now += 60  # nobody called for a minute: no credit was saved up
    assert [limiter.reserve(), limiter.reserve()] == pytest.approx([clock.now, clock.now + SPACING / 4.0])


def test_threads_in_two_instances_reserve_slots_spaced_and_never_more_than_rate_a_second(database_url, engine):
    rate = 20.0
    engines = [engine, make_engine(database_url)]  # two instances on one database
    slots: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(8)

    def reserve_some(limiter):
        gate.wait()
        for _ in range(6):
            slot = limiter.reserve()
            with lock:
                slots.append(slot)

    try:
        limiters = [SlotLimiter(engines[n % 2], "plivo.create_call", rate) for n in range(8)]
        threads = [threading.Thread(target=reserve_some, args=(limiter,)) for limiter in limiters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        engines[1].dispose()
    assert len(slots) == 48 and len(set(slots)) == 48
    assert min(gaps(slots)) >= SPACING / rate - EPSILON
    assert most_in_one_second(slots) <= rate


def test_acquire_waits_for_the_slot_so_requests_go_spaced_in_real_time(engine):
    limiter = SlotLimiter(engine, "plivo.create_call", 25.0)
    slots, sent = [], []
    reserve = limiter.reserve
    limiter.reserve = lambda: slots.append(reserve()) or slots[-1]
    for _ in range(4):
        limiter.acquire()
        sent.append(time.time())
    # Each request goes no sooner than its slot (a loaded machine may make it later, never earlier).
    assert all(at >= slot for at, slot in zip(sent, slots))
    assert min(gaps(slots)) >= SPACING / 25.0 - 1e-6
    assert sent[-1] - sent[0] < 3 * SPACING / 25.0 + 0.5


def test_a_slot_being_waited_for_does_not_stop_others_from_reserving(engine):
    clock = StoppedClock()
    sleeping, wake = threading.Event(), threading.Event()

    def sleep(seconds):
        sleeping.set()
        wake.wait(5)

    waiter = SlotLimiter(engine, "plivo.create_call", 2.0, clock=clock, sleep=sleep)
    other = SlotLimiter(engine, "plivo.create_call", 2.0, clock=clock)
    other.reserve()  # the slot of now is taken: the waiter's is the next
    waited = []
    thread = threading.Thread(target=lambda: waited.append(waiter.acquire()))
    thread.start()
    try:
        assert sleeping.wait(2)
        started = time.monotonic()
        slot = other.reserve()  # while the waiter sleeps until its slot
        assert time.monotonic() - started < 1.0
        assert slot == pytest.approx(clock.now + 2 * SPACING / 2.0)
    finally:
        wake.set()
        thread.join(5)
    assert waited == [pytest.approx(SPACING / 2.0)]


def test_a_rate_of_zero_or_less_is_refused(engine):
    for rate in (0, -1):
        with pytest.raises(ValueError):
            SlotLimiter(engine, "plivo.create_call", rate)


def test_a_burst_run_from_the_queue_books_one_slot_each_and_runs_each_item_at_most_twice(engine):
    """Twelve posts for one channel at once: those whose slot is far off go back to the queue booked
    for it (no thread held, no attempt used), come back at their own slot, and use it; none steals
    another's, none is reserved twice, and the sends keep the pace."""
    rate, hold = 10.0, 0.05
    limiter = SlotLimiter(engine, "slack.post:C0OPS", rate)
    queue = WorkQueue(engine)
    runs, sent = Counter(), []
    lock = threading.Lock()

    def post(item):
        with lock:
            runs[item.subject] += 1
        limiter.take(hold)
        with lock:
            sent.append(time.time())

    registry = Registry()
    registry.add("post", post, Policy(attempts=1))
    workers = Workers(queue, registry, [Pool("general", 4)], owner="here", poll_interval=0.01)
    with engine.begin() as conn:
        for index in range(12):
            queue.enqueue(conn, "post", f"message-{index}")
    deadline = time.monotonic() + 10
    while len(sent) < 12 and time.monotonic() < deadline:
        workers.run_due()
        time.sleep(0.005)
    assert len(sent) == 12 and [item["state"] for item in queue.items("post")] == ["done"] * 12
    # Deferred once each, at most (twice when a busy machine brought one back past its slot): a
    # herd, all waking for the next free slot, would run them 12 + 11 + 10 + … times.
    assert sum(runs.values()) <= 24, runs
    # Each reservation was used: the limiter's next free slot is about twelve slots on.
    assert limiter.next_free() - sent[0] < 15 * SPACING / rate


# -- codes first, then an alert's calls (voice/calls/pacing.py) -------------------------------------


def pacing(engine, clock, rate=1.0):
    return CallPacing(SlotLimiter(engine, "plivo.create_call", rate, clock=clock),
                      SlotLimiter(engine, "plivo.create_call.alerts", rate, clock=clock))


def item(n: int, payload: dict | None = None) -> WorkItem:
    return WorkItem(id=n, kind="call.place", subject=f"token-{n}", key=None, payload=payload, attempts=1,
                    due_at=datetime.now(timezone.utc))


def test_an_alerts_calls_book_at_most_the_horizon_ahead_and_wait_in_turn_without_a_slot(engine):
    clock = StoppedClock()
    calls, interval = pacing(engine, clock, rate=2.0), SPACING / 2.0
    places = [calls.place(item(n), waited_for=False) for n in range(5)]
    booked = [place.slot for place in places if place.slot is not None]
    assert booked == pytest.approx([clock.now, clock.now + interval])  # within HORIZON (1 s)
    waiting = places[2:]
    assert all(place.slot is None for place in waiting)
    assert [place.turn for place in waiting] == pytest.approx([clock.now + n * interval for n in (2, 3, 4)])
    # Each goes back to the queue until just before its turn: in order, one by one, no herd.
    untils = []
    for n, place in enumerate(waiting, start=2):
        with pytest.raises(Deferred) as deferred:
            calls.slot(item(n), place, hold=0.5)
        untils.append(deferred.value.until)
        assert deferred.value.payload == {TURN: place.turn}
    assert untils == pytest.approx([clock.now + n * interval - 0.25 for n in (2, 3, 4)])
    # Back then, it finds its slot free, at its turn: the one just after the calls ahead of it.
    clock.now = untils[0]
    assert calls.place(item(2, {TURN: waiting[0].turn}), waited_for=False).slot == pytest.approx(waiting[0].turn)


def test_a_code_asked_during_an_alerts_burst_finds_at_most_the_horizon_of_alert_calls_ahead(engine):
    clock = StoppedClock()
    calls, interval = pacing(engine, clock, rate=10.0), SPACING / 10.0
    for n in range(50):
        calls.place(item(n), waited_for=False)
    assert calls.place(item(99), waited_for=True).slot - clock.now <= HORIZON + interval


def test_an_alert_call_whose_turn_came_while_codes_took_the_slots_waits_for_the_next_and_keeps_its_turn(engine):
    clock = StoppedClock()
    calls = pacing(engine, clock)
    for n in range(3):  # three codes, asked at once
        calls.place(item(n), waited_for=True)
    place = calls.place(item(5, {TURN: clock.now}), waited_for=False)
    assert (place.slot, place.turn) == (None, clock.now)
    with pytest.raises(Deferred) as deferred:
        calls.slot(item(5, {TURN: clock.now}), place, hold=0.5)
    assert deferred.value.until == pytest.approx(clock.now + 3 * SPACING - HORIZON)
    clock.now = deferred.value.until
    assert calls.place(item(5, deferred.value.payload), waited_for=False).slot == pytest.approx(
        clock.now + HORIZON)
