"""Schedules moved along: overrides added and removed, who is on call when, the calendar feed's token, and
the hand-off: at each change of who is on call (a shift's end, an override's start or end, an edit), once
across processes and instances, the Slack side is told to set the user group and send the notices.

The hand-off is work in the queue: `schedule.handoff` (poked: at start-up, after every change) and
`schedule.at` (one item per change to come, due then). Each run reads who is on call now, records it if
it differs from who was announced (one conditional UPDATE: the first run to see the change announces it),
and books the run at the next change. A restart that missed a hand-off runs the booked item late, and
announces the change then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy.engine import Engine

from voice.queue.work import WorkQueue
from voice.schedules.models import Override, ScheduleDef, Segment
from voice.schedules.oncall import next_change, on_call, segments
from voice.schedules.store import ScheduleRecord, ScheduleStore
from voice.store.db import transaction

log = logging.getLogger(__name__)

HANDOFF = "schedule.handoff"  # subject: the schedule's name (poked)
HANDOFF_AT = "schedule.at"  # subject: the schedule's name; one item per change to come, due then
#: The Slack side's work when who is on call changed: the user group, the notices. Subject: the schedule's name;
#: payload: HandedOff's fields.
HANDED_OFF = "schedule.handed_off"
#: The Slack side's check of members passed over as deactivated: one active again is no longer passed over.
#: Subject: the schedule's name; at each hand-off run of a schedule that passes someone over.
RECHECK = "schedule.recheck"
#: Bounds on an override.
OVERRIDE_MAX = timedelta(days=90)
OVERRIDE_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class HandedOff:
    schedule: str
    to_user: str | None  # None: nobody is on call now
    from_user: str | None
    at: datetime
    until: datetime  # when the person on call next changes (as far as is known)
    override: bool
    skipped: tuple[str, ...] = ()

    def payload(self) -> dict:
        return {"schedule": self.schedule, "to": self.to_user, "from": self.from_user, "at": self.at.isoformat(),
                "until": self.until.isoformat(), "override": self.override, "skipped": list(self.skipped)}

    @classmethod
    def from_payload(cls, payload: dict) -> HandedOff:
        return cls(payload["schedule"], payload["to"], payload["from"], datetime.fromisoformat(payload["at"]),
                   datetime.fromisoformat(payload["until"]), payload["override"], tuple(payload["skipped"]))


class OverrideRefused(Exception):
    """Why an override cannot be added, in words for the person who asked."""


class ScheduleService:
    def __init__(self, engine: Engine, store: ScheduleStore, queue: WorkQueue, *, feed_key: str,
                 clock: Callable[[], datetime]):
        self.engine = engine
        self.store = store
        self.queue = queue
        self.feed_key = feed_key.encode("utf-8")
        self.clock = clock

    def register(self, registry) -> None:
        registry.add(HANDOFF, lambda item: self.hand_off(item.subject))
        registry.add(HANDOFF_AT, lambda item: self.hand_off(item.subject))

    # -- reading ----------------------------------------------------------------------------------

    def get(self, name: str) -> ScheduleRecord | None:
        return self.store.get(name)

    def listed(self, team_id: str | None = None) -> list[ScheduleRecord]:
        return self.store.listed(team_id)

    def on_call(self, name: str, at: datetime | None = None) -> Segment | None:
        """Who is on call for `name` at `at` (now); None for a schedule that does not exist."""
        schedule = self.store.get(name)
        if schedule is None:
            return None
        at = at or self.clock()
        return on_call(schedule.rotation, self.store.overrides(name, at - timedelta(days=400)), at,
                       schedule.inactive)

    def recipient(self, name: str, passed_over: frozenset[str] = frozenset(),
                  team_id: str | None = None) -> tuple[str | None, str | None]:
        """`schedule:<name>` in an alert's recipients (of workspace `team_id`: its schedules and the file's):
        who is on call now, passing over `passed_over` (Slack says they are deactivated: the schedule passes
        them over from now on too); or None and why nobody."""
        schedule = self.store.get(name)
        if schedule is None or (team_id is not None and schedule.team_id not in ("", team_id)):
            known = ", ".join(item.name for item in self.store.listed(team_id)) or "none yet"
            return None, f"is not a schedule (the schedules: {known})"
        if passed_over - schedule.inactive:
            self.members_inactive(name, schedule.inactive | passed_over)
        now = self.clock()
        found = on_call(schedule.rotation, self.store.overrides(name, now - timedelta(days=400)), now,
                        schedule.inactive | passed_over)
        if found.user is None:
            return None, f"nobody is on call for {name} now"
        return found.user, None

    def next_change(self, name: str, current: Segment) -> datetime:
        """When someone else is on call after `current`, a segment `on_call` gave (a hand-off's "until"): not simply
        `current.end`, for a segment ends at each shift of the rotation, even where an override keeps the same
        person on call."""
        schedule = self.store.get(name)
        if schedule is None:
            return current.end
        return next_change(schedule.rotation, self.store.overrides(name, current.start), current, schedule.inactive)

    def timeline(self, name: str, start: datetime, end: datetime) -> list[Segment] | None:
        schedule = self.store.get(name)
        if schedule is None:
            return None
        return segments(schedule.rotation, self.store.overrides(name, start), start, end, schedule.inactive)

    def overrides(self, name: str) -> list[Override]:
        """The overrides not over yet."""
        return self.store.overrides(name, self.clock())

    # -- changing ---------------------------------------------------------------------------------

    def sync_file(self, defined: Sequence[ScheduleDef]) -> None:
        names = self.store.sync_file(defined, self.clock())
        with transaction(self.engine) as conn:
            for name in names:
                self.queue.poke(conn, HANDOFF, name)

    def catch_up(self) -> None:
        """At start-up: every schedule's hand-off is checked now (one missed while down is announced)."""
        with transaction(self.engine) as conn:
            for schedule in self.store.listed():
                self.queue.poke(conn, HANDOFF, schedule.name)

    def add_override(self, name: str, user: str, start: datetime, end: datetime, created_by: str) -> Override:
        """Put `user` on call from `start` to `end`; raises OverrideRefused saying why not."""
        now = self.clock()
        if end <= start:
            raise OverrideRefused("the end is not after the start")
        if end <= now:
            raise OverrideRefused("that period is over already")
        if end - start > OVERRIDE_MAX:
            raise OverrideRefused(f"an override lasts at most {OVERRIDE_MAX.days} days")
        if start > now + OVERRIDE_AHEAD:
            raise OverrideRefused("an override starts within a year")
        with transaction(self.engine) as conn:
            override_id = self.store.add_override(conn, name, user, max(start, now), end, created_by, now)
            self.queue.poke(conn, HANDOFF, name)
        log.info("schedule %s: override %s added", name, override_id)
        return Override(override_id, user, max(start, now), end, created_by)

    def remove_override(self, name: str, override_id: int) -> bool:
        with transaction(self.engine) as conn:
            removed = self.store.remove_override(conn, name, override_id)
            if removed:
                self.queue.poke(conn, HANDOFF, name)
        return removed

    def create(self, item: ScheduleDef, team_id: str, created_by: str) -> bool:
        with transaction(self.engine) as conn:
            added = self.store.add(conn, item, team_id, created_by, self.clock())
            if added:
                self.queue.poke(conn, HANDOFF, item.name)
        return added

    def change(self, item: ScheduleDef) -> bool:
        with transaction(self.engine) as conn:
            changed = self.store.change(conn, item)
            if changed:
                self.queue.poke(conn, HANDOFF, item.name)
        return changed

    def remove(self, name: str) -> bool:
        with transaction(self.engine) as conn:
            return self.store.remove(conn, name)

    def members_inactive(self, name: str, inactive: frozenset[str]) -> None:
        """The members Slack says cannot be on call now (deactivated); they are passed over."""
        with transaction(self.engine) as conn:
            if self.store.set_inactive(conn, name, inactive):
                self.queue.poke(conn, HANDOFF, name)

    # -- the calendar feed's token ------------------------------------------------------------------

    def feed_token(self, name: str) -> str | None:
        """The schedule's feed token (made the first time it is asked for); None if no such schedule."""
        schedule = self.store.get(name)
        if schedule is None:
            return None
        if schedule.feed_salt is None:
            with transaction(self.engine) as conn:
                self.store.set_feed_salt(conn, name, secrets.token_hex(16), only_if_none=True)
            schedule = self.store.get(name)
        return self._token(name, schedule.feed_salt)

    def rotate_feed(self, name: str) -> str | None:
        """A new feed token: the old link stops working."""
        with transaction(self.engine) as conn:
            if not self.store.set_feed_salt(conn, name, secrets.token_hex(16), only_if_none=False):
                return None
        return self.feed_token(name)

    def feed_allows(self, name: str, token: str) -> bool:
        schedule = self.store.get(name)
        if schedule is None or schedule.feed_salt is None or not token:
            return False
        return hmac.compare_digest(self._token(name, schedule.feed_salt).encode(), token.encode("utf-8", "replace"))

    def _token(self, name: str, salt: str) -> str:
        mac = hmac.new(self.feed_key, f"schedule-feed\0{name}\0{salt}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    # -- the hand-off (work) ------------------------------------------------------------------------

    def hand_off(self, name: str) -> None:
        """Announce a change of who is on call, once; book the next run at the next change."""
        now = self.clock()
        current = self.on_call(name, now)
        if current is None:
            return  # removed meanwhile
        until = self.next_change(name, current)
        with transaction(self.engine) as conn:
            before = self.store.announce(conn, name, current.user, now)
            if before is not False:
                handed = HandedOff(name, current.user, before, now, until, current.is_override, current.skipped)
                self.queue.enqueue(conn, HANDED_OFF, name,
                                   key=f"{HANDED_OFF}:{name}:{now.isoformat()}:{current.user or '-'}",
                                   payload=handed.payload())
            self.queue.enqueue(conn, HANDOFF_AT, name, key=f"{HANDOFF_AT}:{name}:{current.end.isoformat()}",
                               due_at=current.end)
            if self.store.get(name).inactive:
                self.queue.enqueue(conn, RECHECK, name, key=f"{RECHECK}:{name}:{now.isoformat()}")
        if before is not False:
            log.info("schedule %s: on call now: %s", name, current.user or "nobody")
