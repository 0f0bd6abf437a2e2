"""The routing a process runs on: replaced whole when the file is read again, never edited."""

from __future__ import annotations

from voice.routing.models import Routing


class RoutingHolder:
    """Hands out the current Routing; a reader keeps the one it got for as long as it needs it."""

    def __init__(self, routing: Routing | None = None):
        self._routing = routing if routing is not None else Routing()

    def current(self) -> Routing:
        return self._routing

    def replace(self, routing: Routing) -> None:
        self._routing = routing  # one assignment: a reader sees the old whole or the new whole
