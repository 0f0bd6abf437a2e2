"""`/oncall cover`, in the workers: the times read in the typing person's Slack time zone, the person covering
checked in Slack's directory (a deactivated one cannot be on call), the override added, and the typist told
the period in their time zone and the schedule's.

Slack's directory is the only place a person's time zone is kept (users.info's `tz`), so this is work in the
queue, retried while Slack is busy, as every call to Slack's Web API is; the command itself answers at once.
The times are read against the moment the command was typed, however late the work runs.
https://docs.slack.dev/reference/methods/users.info
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Connection

from bot.delivery import NOTICE, notice_payload
from bot.directory import Person, SlackDirectory
from bot.mrkdwn import Markup, mention, slack_text
from bot.oncall.texts import (
    covered_reply,
    deactivated_reply,
    not_covered_reply,
    unknown_schedule_reply,
)
from voice.calls.models import Requester
from voice.queue.work import WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry
from voice.schedules.parsing import Problem, parse_moment, parse_time_zone
from voice.schedules.service import OverrideRefused, ScheduleService
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: An override asked for with /oncall cover; subject: the schedule's name.
COVER = "oncall.cover"


def cover_payload(name: str, user: str | None, start: str | None, end: str, requester: Requester, *,
                  at: datetime) -> dict:
    return {"schedule": name, "user": user or requester.user_id, "start": start, "end": end,
            "by": requester.user_id, "team": requester.team_id, "reply_url": requester.reply_url,
            "at": at.isoformat()}


def enqueue_cover(queue: WorkQueue, conn: Connection, payload: dict, key: str | None) -> None:
    # One override per command, however often it is delivered (Slack's trigger_id is the command's own).
    queue.enqueue(conn, COVER, payload["schedule"], payload=payload, key=f"{COVER}:{key}" if key else None)


class Covers:
    def __init__(self, schedules: ScheduleService, queue: WorkQueue, directory_of: Callable[[str], SlackDirectory]):
        self.schedules = schedules
        self.queue = queue
        self.directory_of = directory_of

    def register(self, registry: Registry) -> None:
        registry.add(COVER, self.cover, Policy(attempts=10, backoff=1.0, max_backoff=60.0, on_failure=self._failed))

    def cover(self, item: WorkItem) -> None:
        asked = item.payload or {}
        name, user, by = asked["schedule"], asked["user"], asked["by"]
        schedule = self.schedules.get(name)
        if schedule is None or schedule.team_id not in ("", asked["team"]):
            return self._tell(asked, unknown_schedule_reply(name, [s.name for s in self.schedules.listed(
                asked["team"])]))
        directory = self.directory_of(asked["team"])
        typist = directory.person(by)  # RetryLater while Slack is busy: the queue tries again
        reader_zone = _zone_of(typist)
        person = typist if user == by else directory.person(user)
        if isinstance(person, str):
            return self._tell(asked, not_covered_reply(Markup(slack_text(mention(user), " ", person, "."))))
        if not person.active:
            return self._tell(asked, deactivated_reply(user))
        rotation = schedule.rotation
        zone = reader_zone or rotation.time_zone
        typed_at = datetime.fromisoformat(asked["at"])
        start = parse_moment(asked["start"], typed_at, zone, rotation.handoff.at) if asked["start"] else typed_at
        if isinstance(start, Problem):
            return self._tell(asked, not_covered_reply(f"“{asked['start']}”: {start.message}."))
        # "from fri 18:00 until mon 09:00": the Monday after that Friday.
        end = parse_moment(asked["end"], start, zone, rotation.handoff.at)
        if isinstance(end, Problem):
            return self._tell(asked, not_covered_reply(f"“{asked['end']}”: {end.message}."))
        try:
            added = self.schedules.add_override(name, user, start, end, created_by=by)
        except OverrideRefused as refused:
            return self._tell(asked, not_covered_reply(f"{refused}."))
        log.info("schedule %s: override %s added from Slack", name, added.id)
        self._tell(asked, covered_reply(name, user, added.start, added.end, added.start > start or not asked["start"],
                                        reader_zone, rotation.time_zone))

    def _failed(self, item: WorkItem, reason: str) -> None:
        self._tell(item.payload or {}, not_covered_reply(
            "Slack did not answer when asked for your time zone and whether the person is active. Please try again."))

    def _tell(self, asked: dict, text: str) -> None:
        with transaction(self.queue.engine) as conn:
            self.queue.enqueue(conn, NOTICE, asked.get("by") or "", payload=notice_payload(
                text, reply_url=asked.get("reply_url"), ephemeral=True, team=asked.get("team") or ""))


def _zone_of(person: Person | str) -> str | None:
    """The person's Slack time zone, if Slack said one zoneinfo knows."""
    if isinstance(person, str) or not person.tz:
        return None
    return None if isinstance(parse_time_zone(person.tz), Problem) else person.tz
