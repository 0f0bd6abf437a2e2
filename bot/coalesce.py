"""Coalesce bursts of changes: run an action for a key at most once per interval.

An alert with ten calls produces dozens of changes in a few seconds, but Slack
allows about one message update per second, so `poke(key)` only marks the key
dirty and a timer publishes the latest state. A poke is always followed by a
run that starts after it: the final state is never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

log = logging.getLogger(__name__)

Timer = Callable[[float, Callable[[Hashable], None], Hashable], None]


def start_thread_timer(delay: float, action: Callable[[Hashable], None], key: Hashable) -> None:
    timer = threading.Timer(delay, action, args=(key,))
    timer.daemon = True
    timer.start()


@dataclass
class _Slot:
    last_run: float = float("-inf")
    pending: bool = False  # poked since the last run started
    running: bool = False


class Coalescer:
    def __init__(
        self,
        action: Callable[[Hashable], None],
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer = start_thread_timer,
    ):
        self._action = action
        self._interval = interval
        self._clock = clock
        self._timer = timer
        self._slots: dict[Hashable, _Slot] = {}
        self._lock = threading.Lock()

    def poke(self, key: Hashable) -> None:
        """`key` changed: run the action for it soon, but not sooner than `interval` after the last run."""
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            if slot.pending:
                return  # a run is already on its way and will see this change
            slot.pending = True
            if slot.running:
                return  # the running one schedules the next when it finishes
            delay = self._delay(slot)
        self._timer(delay, self._run, key)

    def _run(self, key: Hashable) -> None:
        with self._lock:
            slot = self._slots[key]
            slot.pending, slot.running, slot.last_run = False, True, self._clock()
        try:
            self._action(key)
        except Exception:
            log.exception("a coalesced update failed")
        with self._lock:
            slot.running = False
            if not slot.pending:
                self._forget_idle()
                return
            delay = self._delay(slot)
        self._timer(delay, self._run, key)

    def _delay(self, slot: _Slot) -> float:
        return max(0.0, slot.last_run + self._interval - self._clock())

    def _forget_idle(self) -> None:
        # Keep the map small; a key idle for a minute is as good as new.
        now = self._clock()
        for key in [k for k, s in self._slots.items()
                    if not s.pending and not s.running and now - s.last_run > 60]:
            del self._slots[key]
