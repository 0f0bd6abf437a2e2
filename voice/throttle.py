"""Pace outgoing calls: at most PLIVO_CPS create-call requests per second.

Plivo queues calls above the account's calls-per-second limit (2 by default)
rather than dropping them, but a burst of 30 alert calls would still answer
"call queued", and its REST API answers 429 beyond 300 requests in 5 seconds
(https://www.plivo.com/docs/voice/concepts/account-limits). Spacing our requests keeps every call
placed when we say it is.

The limiter lives in one process: two instances sharing one Plivo account
together place up to twice PLIVO_CPS, and Plivo's own queue absorbs the rest.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class RateLimiter:
    """Hands out evenly spaced slots, `1 / per_second` seconds apart, to any thread."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second <= 0:
            raise ValueError("per_second must be above 0")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next_slot = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the next free slot."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        # Sleep outside the lock: each waiting thread already owns its own slot.
        if slot > now:
            self._sleep(slot - now)
