"""The hand-off, in Slack: when who is on call changed (voice/schedules/service.py's `schedule.handed_off`),
the schedule's user group is set to them, and the incoming and outgoing people and the schedule's channel
are told, each as its own work item (retried alone: a failed DM never sets the group twice). A person
Slack says is deactivated is reported to the schedule, which passes them over and hands off again."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from bot.delivery import NOTICE, notice_payload, slack_failures, waiting_for_slack
from bot.installs.workspaces import Workspaces
from bot.oncall.texts import channel_text, incoming_text, outgoing_text
from voice.queue.work import GiveUp, WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry
from voice.schedules.service import HANDED_OFF, RECHECK, HandedOff, ScheduleService
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Sets a schedule's user group to who is on call now; subject: the schedule's name.
SET_GROUP = "schedule.group"


class HandOffs:
    def __init__(self, engine: Engine, schedules: ScheduleService, queue: WorkQueue, workspaces: Workspaces):
        self.engine = engine
        self.schedules = schedules
        self.queue = queue
        self.workspaces = workspaces

    def register(self, registry: Registry) -> None:
        slack_busy = Policy(attempts=30, backoff=2.0, max_backoff=60.0)
        registry.add(HANDED_OFF, self.handed_off, slack_busy)
        registry.add(SET_GROUP, self.set_group, slack_busy)
        registry.add(RECHECK, self.recheck, slack_busy)

    def handed_off(self, item: WorkItem) -> None:
        handed = HandedOff.from_payload(item.payload or {})
        schedule = self.schedules.get(handed.schedule)
        if schedule is None:
            return
        if handed.to_user and not self._active(schedule.team_id, handed.to_user):
            # Passed over from now on: the schedule hands off again, to the next who can be on call.
            self.schedules.members_inactive(schedule.name, schedule.inactive | {handed.to_user})
            log.info("schedule %s: a member is deactivated in Slack; passed over", schedule.name)
            return
        if handed.to_user is None and handed.from_user is None and not handed.skipped:
            return  # nobody before, nobody now: nothing to say
        team = schedule.team_id
        # Someone passed over (deactivated) is not told they are off, nor named as the one handing over.
        before = handed.from_user if handed.from_user not in schedule.inactive else None
        with transaction(self.engine) as conn:
            if schedule.user_group and handed.to_user:
                self.queue.poke(conn, SET_GROUP, schedule.name)
            stamp = f"{handed.at.isoformat()}:{handed.to_user or '-'}"
            if handed.to_user:
                self._notice(conn, f"in:{schedule.name}:{stamp}", handed.to_user,
                             incoming_text(schedule.name, handed.until, handed.override), team)
            if before and before != handed.to_user:
                self._notice(conn, f"out:{schedule.name}:{stamp}", before,
                             outgoing_text(schedule.name, handed.to_user, handed.until), team)
            if schedule.channel:
                self._notice(conn, f"channel:{schedule.name}:{stamp}", schedule.channel,
                             channel_text(schedule.name, handed.to_user, before, handed.until,
                                          handed.override, handed.skipped), team)

    def set_group(self, item: WorkItem) -> None:
        """The group becomes who is on call now (read now: a late run never sets an old hand-off's person)."""
        schedule = self.schedules.get(item.subject)
        current = self.schedules.on_call(item.subject) if schedule else None
        if schedule is None or not schedule.user_group or current is None or current.user is None:
            return  # Slack keeps at least one person in a group: with nobody on call it is left as it is
        client = self.workspaces.client(schedule.team_id)
        with waiting_for_slack(), slack_failures("a user group update"):
            client.usergroups_users_update(usergroup=schedule.user_group, users=current.user)
        log.info("schedule %s: its user group now holds who is on call", schedule.name)

    def _notice(self, conn, key: str, channel: str, text: str, team: str) -> None:
        self.queue.enqueue(conn, NOTICE, channel, key=f"{NOTICE}:{key}",
                           payload=notice_payload(text, channel=channel, team=team))

    def recheck(self, item: WorkItem) -> None:
        """Members passed over as deactivated who are active in Slack again are no longer passed over (the
        schedule then hands off again if that changes who is on call)."""
        schedule = self.schedules.get(item.subject)
        if schedule is None or not schedule.inactive:
            return
        still = frozenset(user for user in schedule.inactive if not self._active(schedule.team_id, user))
        if still != schedule.inactive:
            self.schedules.members_inactive(schedule.name, still)
            log.info("schedule %s: a member passed over is active again", schedule.name)

    def _active(self, team_id: str, user_id: str) -> bool:
        """Whether Slack has them as an active member (gone from the workspace: not)."""
        client = self.workspaces.client(team_id)
        try:
            with waiting_for_slack(), slack_failures("a user lookup"):
                found = client.users_info(user=user_id)
        except GiveUp as refused:
            if "user_not_found" in str(refused):
                return False
            raise
        return not found.get("user", {}).get("deleted", False)
