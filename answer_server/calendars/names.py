"""People's names for the feed, read from Slack at request time and kept a while in the process.

The feed names the person on call ("On call: Alice Smith"), and only Slack knows names. Reading them
when the feed is fetched keeps them current without storing anyone's name; a calendar client fetching
every hour costs one `users.info` (Slack's Tier 4: 100+ a minute) per person per hour per process. A name
Slack cannot give (Slack down or slow, the app not installed) is the user ID, tried again a few minutes
later, and the look-ups of one request stop after a few seconds: the feed is late by a name, never
missing.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Collection

#: Given a workspace and a user ID: their name, or None when it cannot be read now.
Lookup = Callable[[str, str], str | None]

KEEP = 3600.0  # seconds a name is kept
RETRY = 300.0  # seconds before a name Slack did not give is asked again
BUDGET = 3.0  # seconds one request may spend asking
MAX_KEPT = 10_000  # names kept at most, across workspaces; past it, the oldest go
_NOT_KEPT = object()


class CachedNames:
    def __init__(self, lookup: Lookup, *, keep: float = KEEP, retry: float = RETRY, budget: float = BUDGET,
                 monotonic: Callable[[], float] = time.monotonic):
        self._lookup = lookup
        self._keep, self._retry, self._budget = keep, retry, budget
        self._monotonic = monotonic
        self._kept: dict[tuple[str, str], tuple[float, str | None]] = {}  # (team, user) → (until, name)
        self._lock = threading.Lock()

    def __call__(self, team_id: str, users: Collection[str]) -> dict[str, str]:
        """The names known of `users` (a user Slack did not name is left out: the caller shows the ID)."""
        began = self._monotonic()
        names: dict[str, str] = {}
        for user in sorted(users):
            name = self._fresh(team_id, user, began)
            if name is _NOT_KEPT:
                name = self._read(team_id, user) if self._monotonic() - began < self._budget else None
            if name:
                names[user] = name
        return names

    def _fresh(self, team_id: str, user: str, now: float) -> str | None | object:
        """The name kept, None when Slack did not give it lately, _NOT_KEPT when it is to be asked."""
        with self._lock:
            found = self._kept.get((team_id, user))
        return found[1] if found and found[0] > now else _NOT_KEPT

    def _read(self, team_id: str, user: str) -> str | None:
        name = self._lookup(team_id, user)
        until = self._monotonic() + (self._keep if name else self._retry)
        with self._lock:
            self._kept.pop((team_id, user), None)
            self._kept[(team_id, user)] = (until, name)  # dicts keep order: the oldest written first
            while len(self._kept) > MAX_KEPT:
                del self._kept[next(iter(self._kept))]
        return name
