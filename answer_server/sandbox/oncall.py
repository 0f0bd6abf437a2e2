"""The sandbox's on-call schedule: the built-in `sandbox-oncall` (@alice, then @bob, in 1-hour shifts), which
keeps the user group @sandbox-oncall equal to who is on call and tells #sandbox of each hand-off.

It is the real thing, defined as ROUTING_FILE's schedules are: the app's own hand-off work sets the group
(usergroups.users.update), sends the DMs and the channel line, and `schedule:sandbox-oncall` phones whoever
is on call. Only where its shifts fall is the sandbox's choice: each run places them so that @alice is on
call at the start and hands off to @bob about two minutes later, then every hour.

The app's clock is real time whatever SANDBOX_SPEED says (the speed paces the simulated calls only), and a
shift lasts at least an hour, so the first hand-off comes soon because of where the shifts fall, not
because they are short.

A run starts with a new workspace (its group and channel know nothing of an earlier run's hand-offs) but may
keep an earlier run's database: the run begins as if the group were already current and the person on call
already announced, so the first hand-off seen is this run's.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable

from answer_server.sandbox.slack_workspace import TIME_ZONE, SlackWorkspace
from voice.schedules.models import HOURS, Handoff, Rotation, ScheduleDef, ShiftLength
from voice.schedules.rotation import UTC, shift_start, zone
from voice.schedules.service import ScheduleService
from voice.settings import Settings
from voice.store.db import transaction

NAME = "sandbox-oncall"
GROUP = "S0SANDBOXONCALL"  # @sandbox-oncall
CHANNEL = "C0SANDBOX"  # #sandbox
MEMBERS = ("U0ALICE", "U0BOB")
SHIFT = ShiftLength(1, HOURS)
#: How soon after the start the first hand-off (@alice to @bob) comes: on the first whole minute this long after.
FIRST_HANDOFF = timedelta(minutes=2)

log = logging.getLogger(__name__)


def rotation(now: datetime) -> Rotation:
    """@alice on call at `now`, until @bob takes over on the first whole minute FIRST_HANDOFF or more later."""
    soonest = (now + FIRST_HANDOFF).astimezone(UTC)
    handoff = soonest.replace(second=0, microsecond=0)
    if handoff < soonest:
        handoff += timedelta(minutes=1)
    hour = timedelta(hours=SHIFT.count)
    # Alice's shift began an hour before; were that instant's local time one the clocks read twice (the
    # hour they go back), the rotation's local start would name the first of them: go back two hours more.
    for shifts_before in (1, 3):
        first = (handoff - shifts_before * hour).astimezone(zone(TIME_ZONE))
        found = Rotation(TIME_ZONE, MEMBERS, SHIFT, Handoff(first.time().replace(tzinfo=None)), first.date())
        if shift_start(found, 0) == first:
            return found
    raise AssertionError("no local start for the sandbox's rotation")  # the repeated hour lasts one hour


def schedule(now: datetime) -> ScheduleDef:
    return ScheduleDef(name=NAME, rotation=rotation(now), user_group=GROUP, channel=CHANNEL)


def with_oncall(settings: Settings, now: datetime) -> Settings:
    """`settings` whose schedules are ROUTING_FILE's, if any, and sandbox-oncall."""
    routing = settings.routing
    return replace(settings, routing=replace(routing, schedules=(*routing.schedules, schedule(now))))


class SandboxOncall:
    """The schedule as the console shows it: who is on call, until when, who is next, and the group's members."""

    def __init__(self, schedules: ScheduleService, workspace: SlackWorkspace, clock: Callable[[], datetime]):
        self._schedules = schedules
        self._workspace = workspace
        self._clock = clock

    def begin(self) -> None:
        """Before the workers start: whoever is on call now is taken as announced, and is the group."""
        now = self._clock()
        current = self._schedules.on_call(NAME, now)
        with transaction(self._schedules.engine) as conn:
            self._schedules.store.announce(conn, NAME, current.user, now)
        if current.user:
            self._workspace.set_group_members(GROUP, (current.user,))

    def state(self) -> dict | None:
        try:
            current = self._schedules.on_call(NAME, self._clock())
            until = self._schedules.next_change(NAME, current) if current else None
            following = self._schedules.on_call(NAME, until) if until else None
        except Exception:  # the console goes on without this line (the database is away, say)
            log.exception("the console could not read who is on call for %s", NAME)
            return None
        if current is None:
            return None
        return {"schedule": NAME, "shift": SHIFT.written(), "group": GROUP,
                "members": list(self._workspace.group_members(GROUP) or ()),
                "on_call": current.user, "override": current.is_override,
                "until": until.isoformat(), "next": following.user if following else None}
