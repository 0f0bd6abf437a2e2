"""A change counter the console's live stream waits on.

Every stand-in calls `touch()` when something a person could see changed; the
stream wakes, and sends the whole state again. Whole-state updates keep the
page simple and make a missed event harmless.
"""

from __future__ import annotations

import threading
import time


class Changes:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0

    def touch(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait_after(self, version: int, timeout: float) -> int:
        """Block until the version passes `version` or `timeout` runs out; the current version."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.version <= version:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.version
