"""The account's conference rooms, shared by every simulated call: who is in each, whether its conference
has started, and whether it is over.

As Plivo's <Conference> (https://www.plivo.com/docs/voice/xml/conference): a room's conference starts when a
member with startConferenceOnEnter enters (until then the others hear its waitSound), and ends when a member
with endConferenceOnExit leaves; its other members then leave too, and go on with their documents. An empty
room is a new conference the next time someone enters it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from answer_server.sandbox.sim_call import SimCall


@dataclass(eq=False)
class Conference:
    """One conference in a room, from its first member's entry until it ends or empties."""

    room: str
    uuid: str
    members: list[SimCall] = field(default_factory=list)
    started: bool = False
    over: bool = False


@dataclass(frozen=True)
class Membership:
    conference: Conference
    member_id: str
    ends_it: bool  # endConferenceOnExit


class Rooms:
    def __init__(self):
        self._lock = threading.Lock()
        self._live: dict[str, Conference] = {}  # room → its conference, while it has members
        self._ids: dict[tuple[str, str], SimCall] = {}  # (room, member ID) → the call
        self._next_member = 0

    def enter(self, room: str, call: SimCall, *, starts: bool = True, ends: bool = False) -> Membership:
        with self._lock:
            conference = self._live.get(room)
            if conference is None or conference.over:
                conference = self._live[room] = Conference(room, str(uuid.uuid4()))
            conference.members.append(call)
            waiting = [] if conference.started or not starts else [m for m in conference.members if m is not call]
            conference.started = conference.started or starts
            self._next_member += 1
            self._ids[(room, str(self._next_member))] = call
            membership = Membership(conference, str(self._next_member), ends)
        _wake(waiting)  # outside the lock: a call's pause looks at the rooms while holding its own
        return membership

    def leave(self, membership: Membership, call: SimCall) -> None:
        conference = membership.conference
        with self._lock:
            if call in conference.members:
                conference.members.remove(call)
            others = list(conference.members)
            if membership.ends_it:
                conference.over = True
            if not conference.members and self._live.get(conference.room) is conference:
                del self._live[conference.room]
        if membership.ends_it:
            _wake(others)

    def member(self, room: str, member_id: str) -> SimCall | None:
        """The call in `room` with that member ID, while it is in the room."""
        with self._lock:
            call = self._ids.get((room, member_id))
            conference = self._live.get(room)
            return call if call is not None and conference is not None and call in conference.members else None

    def started(self, conference: Conference) -> bool:
        with self._lock:
            return conference.started or conference.over

    def over(self, conference: Conference) -> bool:
        with self._lock:
            return conference.over

    def describe(self, conference: Conference, call: SimCall | None = None) -> str:
        """"with +1…, +1…": its members (but `call`), or "alone"."""
        with self._lock:
            numbers = [member.phone for member in conference.members if member is not call]
        return "with " + ", ".join(numbers) if numbers else "alone"

    def of(self, call: SimCall) -> Conference | None:
        """The conference `call` is in, if any."""
        with self._lock:
            return next((c for c in self._live.values() if call in c.members), None)

    def state(self, call: SimCall) -> dict | None:
        """The console's view of the call's conference: its room, whether it started, who else is in it."""
        conference = self.of(call)
        if conference is None:
            return None
        with self._lock:
            return {"room": conference.room, "started": conference.started,
                    "with": [member.phone for member in conference.members if member is not call]}


def _wake(calls: list[SimCall]) -> None:
    for call in calls:
        call.control.wake()
