"""PLIVO_CPS shared between the calls someone waits for and an alert's many calls: the first go first.

Every create-call takes a slot of the account's one limiter (voice/queue/ratelimit.py), in the order calls
are claimed. Alone, that lets a 50-person alert book 25 s of slots at the default 2 calls a second, and
a voice code asked meanwhile waits behind all of them while its callee waits on a sign-up page. So an
alert's calls first queue in a line of their own (a second limiter at the same pace, which hands out
their turns in order), and take a slot of the account's limiter only once their turn is at most
HORIZON seconds off: those of a burst whose turn is further off go back to the work queue until just
before it, and then find their slot free. A voice code, a test call or a call into the voice bridge
(someone is on the line, waiting) reserves its slot at once, so it finds at most HORIZON seconds of
alert calls booked ahead of it.

Alerts lose nothing when nobody else calls: their turns come at the account's pace. Codes cannot starve
them either, as their own limits (per number, per requester, per API key) bound how many there are.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice.queue.ratelimit import SLOT_TOLERANCE, SlotLimiter
from voice.queue.work import Deferred, WorkItem

#: How far ahead an alert's calls may book the account's slots: what a code waits for them, at most.
HORIZON = 1.0

#: Where an item's booked slot of the account's limiter, and an alert call's turn, are kept in its payload.
SLOT = "cps_slot"
TURN = "alert_turn"


@dataclass(frozen=True)
class Place:
    """A create-call's place: a slot of the account's limiter (reserved), or, for an alert's call not
    due yet, its turn in the alerts' line (seconds since the epoch)."""

    slot: float | None = None
    turn: float | None = None


class CallPacing:
    def __init__(self, slots: SlotLimiter, alert_line: SlotLimiter, horizon: float = HORIZON):
        self.slots = slots
        self.alert_line = alert_line
        self.horizon = horizon

    def now(self) -> float:
        return self.slots.now()

    def place(self, item: WorkItem, waited_for: bool) -> Place:
        """The create-call's place, taken as its item is claimed (so in claim order). `waited_for`: a
        person waits for this call (a code, a test call, the bridge); else it is one of an alert's."""
        payload = item.payload or {}
        booked = payload.get(SLOT)
        if isinstance(booked, (int, float)) and booked >= self.now() - SLOT_TOLERANCE:
            return Place(slot=float(booked))  # booked before it was handed back: still good
        if waited_for:
            return Place(slot=self.slots.reserve())
        turn = payload.get(TURN)
        turn = float(turn) if isinstance(turn, (int, float)) else self.alert_line.reserve()
        if turn - self.now() > self.horizon:
            return Place(turn=turn)
        # Its turn: a slot, unless calls someone waits for took the next ones (then later, in turn).
        return Place(slot=self.slots.reserve_within(self.horizon + SLOT_TOLERANCE), turn=turn)

    def slot(self, item: WorkItem, place: Place, hold: float) -> float:
        """The slot to dial in, if it is at most `hold` seconds off; else Deferred, back to the queue
        until then, its slot (or its turn) kept in the item's payload."""
        payload = dict(item.payload or {})
        if place.slot is None:
            # Not booked: back just before its turn, when the calls ahead have taken theirs and its slot
            # is the next (or, where calls someone waits for took the slots, once one is within the horizon).
            due = max((place.turn or 0.0) - hold / 2, self.slots.next_free() - self.horizon)
            payload[TURN] = place.turn
            raise Deferred("waiting for its turn among alert calls", until=due, payload=payload)
        if place.slot - self.now() > hold:
            payload[SLOT] = place.slot
            raise Deferred("waiting for its PLIVO_CPS slot", until=place.slot - hold / 2, payload=payload)
        return place.slot
