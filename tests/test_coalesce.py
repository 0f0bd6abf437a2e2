"""At most one Slack update per second per message, and the last change always published."""

from bot.coalesce import Coalescer


class Timers:
    """A clock and timers the test fires by hand."""

    def __init__(self):
        self.now = 0.0
        self.due: list[tuple[float, object, object]] = []

    def clock(self):
        return self.now

    def start(self, delay, action, key):
        self.due.append((self.now + delay, action, key))

    def run_until(self, moment):
        while True:
            ready = sorted((d for d in self.due if d[0] <= moment), key=lambda d: d[0])
            if not ready:
                self.now = moment
                return
            self.due.remove(ready[0])
            self.now = max(self.now, ready[0][0])
            ready[0][1](ready[0][2])


def coalescer(runs, timers, interval=1.0):
    return Coalescer(lambda key: runs.append((timers.now, key)), interval, clock=timers.clock, timer=timers.start)


def test_the_first_change_is_published_at_once():
    runs, timers = [], Timers()
    coalescer(runs, timers).poke("alert-1")
    timers.run_until(0.0)
    assert runs == [(0.0, "alert-1")]


def test_a_burst_of_changes_is_published_at_most_once_per_second_and_the_last_one_always():
    runs, timers = [], Timers()
    updates = coalescer(runs, timers)
    for step in range(30):  # a change every 100 ms for 3 seconds
        timers.run_until(step / 10)
        updates.poke("alert-1")
    timers.run_until(10)
    times = [moment for moment, _ in runs]
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:]))
    assert 3 <= len(times) <= 5
    assert times[-1] >= 2.9  # after the last change


def test_each_message_has_its_own_pace():
    runs, timers = [], Timers()
    updates = coalescer(runs, timers)
    updates.poke("alert-1")
    updates.poke("alert-2")
    timers.run_until(0.0)
    assert sorted(key for _, key in runs) == ["alert-1", "alert-2"]


def test_a_change_during_a_publish_is_published_after_it():
    runs, timers = [], Timers()
    seen = []

    def slow(key):
        seen.append(timers.now)
        if len(seen) == 1:
            updates.poke(key)  # a change arrives while the first publish runs
        runs.append(key)

    updates = Coalescer(slow, 1.0, clock=timers.clock, timer=timers.start)
    updates.poke("alert-1")
    timers.run_until(5)
    assert seen == [0.0, 1.0]


def test_a_failing_publish_does_not_stop_later_ones():
    runs, timers = [], Timers()

    def flaky(key):
        runs.append(timers.now)
        if len(runs) == 1:
            raise RuntimeError("Slack is down")

    updates = Coalescer(flaky, 1.0, clock=timers.clock, timer=timers.start)
    updates.poke("a")
    timers.run_until(0.5)
    updates.poke("a")
    timers.run_until(5)
    assert runs == [0.0, 1.0]
