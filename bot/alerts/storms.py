"""An alert storm's one line in its integration's channel, as work: posted once, then kept up to date as
more incidents are held (the work queue coalesces the pokes; the last state always lands)."""

from __future__ import annotations

from bot.alerts.incidents import storm_blocks, storm_digest, storm_text
from bot.delivery import (
    MESSAGE_PACE,
    VIA_CHAT,
    Place,
    WorkspaceMessages,
    post_status,
    report_retries,
)
from voice.calls.models import Requester
from voice.incidents.service import REPORT_STORM, IncidentService
from voice.queue.work import WorkItem
from voice.queue.workers import Registry


class StormReports:
    def __init__(self, messages: WorkspaceMessages, incidents: IncidentService, *, pace: float = MESSAGE_PACE):
        self.messages = messages
        self.incidents = incidents
        self.pace = pace

    def register(self, registry: Registry) -> None:
        registry.add(REPORT_STORM, self.report_storm, report_retries(self.pace))

    def report_storm(self, item: WorkItem) -> None:
        storm = self.incidents.storm(int(item.subject))
        if storm is None:
            return  # over: the integration phoned again since, and the line keeps its last state
        integration = storm.integration
        messages = self.messages.of(integration.team_id)
        text, blocks = storm_text(storm), storm_blocks(storm, self.incidents.clock())
        digest = storm_digest(text, blocks)
        if storm.ts is None:
            requester = Requester(user_id="", channel_id=integration.channel_id, team_id=integration.team_id)
            posted = post_status(item, messages, requester, text, blocks, ("the alert storm's line", ""))
            if posted:
                self.incidents.integrations.storm_posted(integration.id, storm.started_at, posted.channel, posted.ts,
                                                         digest)
            return
        if digest != storm.digest:
            messages.update(Place(VIA_CHAT, storm.channel, storm.ts), None, text, blocks)
            self.incidents.integrations.storm_posted(integration.id, storm.started_at, storm.channel, storm.ts, digest)
