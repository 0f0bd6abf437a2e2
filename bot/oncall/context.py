"""What /oncall's listeners share: the schedules, the queue, who may act, where the calendar feed is served,
and which schedules a workspace sees (its own, and the routing file's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bot.app import Access
from bot.oncall.texts import SCHEDULES, feed_url, unknown_schedule_reply
from voice.calls.models import Requester
from voice.queue.work import WorkQueue
from voice.schedules.service import ScheduleService
from voice.schedules.store import ScheduleRecord


@dataclass(frozen=True)
class Oncall:
    """What the listeners share: the schedules, the queue, who may act, and where the calendar feed is served."""

    schedules: ScheduleService
    queue: WorkQueue
    access: Access
    public_url: str
    record_refusal: Callable[..., None] = lambda **refusal: None

    def visible(self, name: str, team_id: str) -> ScheduleRecord | None:
        """The schedule, if this workspace may see it: its own, or the routing file's (team "")."""
        schedule = self.schedules.get(name)
        return schedule if schedule is not None and schedule.team_id in ("", team_id) else None

    def unknown(self, name: str, team_id: str) -> str:
        return unknown_schedule_reply(name, [schedule.name for schedule in self.schedules.listed(team_id)])

    def refused(self, requester: Requester) -> str | None:
        """Why this person may not use /oncall from here (recorded), or None."""
        denied = self.access.refusal(requester.user_id, requester.channel_id, SCHEDULES)
        if denied is None:
            return None
        kind, reply = denied
        self.record_refusal(source="slack", requester=requester, number=None, kind=kind, reason=reply)
        return reply

    def feed(self, name: str) -> str | None:
        token = self.schedules.feed_token(name)
        return feed_url(self.public_url, name, token) if token else None
