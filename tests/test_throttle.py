"""PLIVO_CPS: create-call requests are spaced, OTP and alert calls alike."""

import threading

import pytest
import responses

from voice.plivo import OutboundCall, PlivoClient
from voice.throttle import RateLimiter

BASE = "https://api.plivo.test"
CALL_URL = f"{BASE}/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/"
CALL = OutboundCall("+14155550100", "+14155550123", "https://v.test/a", "https://v.test/h", "https://v.test/r")


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []
        self.lock = threading.Lock()

    def clock(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.sleeps.append(round(seconds, 6))


def test_slots_are_spaced_one_over_the_rate_apart():
    time = FakeTime()
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)
    for _ in range(4):
        limiter.acquire()
    assert time.sleeps == [0.5, 1.0, 1.5]


def test_a_quiet_limiter_does_not_make_the_next_call_wait():
    time = FakeTime()
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)
    limiter.acquire()
    time.now += 10
    limiter.acquire()
    assert time.sleeps == []


def test_threads_each_get_their_own_slot():
    time = FakeTime()
    limiter = RateLimiter(4, clock=time.clock, sleep=time.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(time.sleeps) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(0)


@responses.activate
def test_the_plivo_client_waits_for_a_slot_before_every_create_call():
    time = FakeTime()
    responses.post(CALL_URL, status=201, json={"request_uuid": "r"})
    client = PlivoClient(BASE, "MAXXXXXXXXXXXXXXXXXX", "t",
                         throttle=RateLimiter(2, clock=time.clock, sleep=time.sleep))
    for _ in range(3):
        client.create_call(CALL)
    assert len(responses.calls) == 3
    assert time.sleeps == [0.5, 1.0]
