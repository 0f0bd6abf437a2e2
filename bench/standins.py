"""Loopback Slack and Plivo, and requests signed as they sign them.

The repository's test fakes already speak the real wire formats (tests/fakes);
the bench only adds what it measures: when each create-call arrived at Plivo.
The credentials are the tests' (tests/conftest.py), copied because conftest
imports pytest fixtures.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from typing import Any

from tests.fakes.plivo_api import FakePlivoApi
from tests.fakes.senders import PlivoSender, Signed, SlackSender
from tests.fakes.slack_api import FakeSlackApi

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "plivo-auth-token-for-tests"
SIGNING_SECRET = "slack-signing-secret-for-tests"
BOT_TOKEN = "xoxb-test-token"
FROM_NUMBER = "+14155550100"
API_KEY = "bench-api-key-0123456789abcdef"  # API_KEYS wants 20+ characters
CHANNEL = "C0OPS"

__all__ = [
    "API_KEY",
    "AUTH_ID",
    "AUTH_TOKEN",
    "BOT_TOKEN",
    "CHANNEL",
    "FROM_NUMBER",
    "SIGNING_SECRET",
    "PlivoSender",
    "Signed",
    "SlackSender",
    "TimedPlivoApi",
    "number",
    "start_standins",
]


class TimedPlivoApi(FakePlivoApi):
    """FakePlivoApi that notes, for each create-call, time.monotonic() at its arrival, and wakes waiters.

    Arrival, not reply: with `delay` set the fake answers late, but the server asked
    when the request arrived, and that is what pacing (calls per second) is about.
    """

    def __init__(self, auth_id: str = AUTH_ID, auth_token: str = AUTH_TOKEN):
        super().__init__(auth_id, auth_token)
        self.arrivals: list[tuple[float, dict[str, Any]]] = []  # (monotonic time, create-call body)
        self._arrived = threading.Condition()

    def start(self) -> TimedPlivoApi:
        super().start()
        _quiet(self)
        return self

    def _note_arrival(self, at: float, raw: bytes) -> None:
        at = time.monotonic()  # the bench's clock, instead of the fake's time.time()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self._arrived:
            self.arrivals.append((at, body if isinstance(body, dict) else {}))
            self._arrived.notify_all()

    def arrival_times(self) -> list[float]:
        with self._arrived:
            return [at for at, _ in self.arrivals]

    def bodies(self) -> list[dict[str, Any]]:
        with self._arrived:
            return [body for _, body in self.arrivals]

    def wait_for_arrivals(self, count: int, deadline: float) -> bool:
        """Wait until `count` create-calls have arrived or time.monotonic() passes `deadline`."""
        with self._arrived:
            while len(self.arrivals) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(min(left, 0.5))
            return True


def start_standins(stack: ExitStack, plivo_delay: float = 0.0) -> tuple[FakeSlackApi, TimedPlivoApi]:
    """A fresh Slack and Plivo, stopped when `stack` closes."""
    slack = _quiet(stack.enter_context(FakeSlackApi(bot_token=BOT_TOKEN)))
    plivo = stack.enter_context(TimedPlivoApi())
    plivo.delay = plivo_delay
    return slack, plivo


def _quiet(fake):
    """A server stopped at the end of a scenario may hang up while a (delayed) reply is still
    being written: expected then, and not worth a traceback on stderr."""
    fake._server.handle_error = lambda request, client_address: None
    return fake


def number(index: int) -> str:
    """A distinct, valid US number for each index: +1 415 555 xxxx.

    Distinct because a new code for a number replaces the live one; 555-0100 is
    the server's own PLIVO_FROM_NUMBER, which the destination policy refuses, so
    callers pick index ranges from 1000 up.
    """
    if not 1000 <= index <= 9999:
        raise ValueError("index must be 1000..9999")
    return f"+1415555{index:04d}"
