"""A hotline call's message, as work: posted once in the hotline's channel, then kept up to date (the queue
coalesces the pokes; the last state always lands), its callbacks too; its voicemail's transcript, a reply in
its thread."""

from __future__ import annotations

from bot.delivery import (
    MESSAGE_PACE,
    VIA_CHAT,
    Place,
    WorkspaceMessages,
    message_digest,
    post_status,
    report_retries,
)
from bot.hotline.messages import hotline_blocks, hotline_text, transcript_text
from voice.alerts.service import AlertService
from voice.calls.models import Requester
from voice.hotline.callbacks import CallBacks
from voice.hotline.models import REFUSED, REPORT_HOTLINE, REPORT_TRANSCRIPT
from voice.hotline.service import HotlineService
from voice.queue.work import RetryLater, WorkItem
from voice.queue.workers import Policy, Registry


class HotlineReports:
    def __init__(self, messages: WorkspaceMessages, hotline: HotlineService, alerts: AlertService,
                 callbacks: CallBacks, *, pace: float = MESSAGE_PACE):
        self.messages = messages
        self.hotline = hotline
        self.alerts = alerts
        self.callbacks = callbacks
        self.pace = pace

    def register(self, registry: Registry) -> None:
        registry.add(REPORT_HOTLINE, self.report, report_retries(self.pace))
        registry.add(REPORT_TRANSCRIPT, self.transcript, Policy(attempts=25, backoff=2.0, max_backoff=120.0))

    def report(self, item: WorkItem) -> None:
        call = self.hotline.get(int(item.subject))
        if call is None or call.status == REFUSED or not call.channel:
            return
        view = self.alerts.view(call.alert_id) if call.alert_id else None
        callbacks = self.callbacks.of(call)
        now = self.hotline.clock()
        text, blocks = hotline_text(call, view, now, callbacks), hotline_blocks(call, view, now, callbacks)
        digest = message_digest(text, blocks)
        messages = self.messages.of(call.team_id)
        if call.message_ts is None:
            requester = Requester(user_id="", channel_id=call.channel, team_id=call.team_id)
            posted = post_status(item, messages, requester, text, blocks, ("the hotline call's message", ""))
            if posted:
                self.hotline.store.attach_message(call.id, posted.channel, posted.ts, digest)
            return
        if digest != call.message_digest:
            messages.update(Place(VIA_CHAT, call.message_channel, call.message_ts), None, text, blocks)
            self.hotline.store.shown(call.id, digest)

    def transcript(self, item: WorkItem) -> None:
        call = self.hotline.get(int(item.subject))
        if call is None or not call.transcript:
            return
        if call.message_ts is None:
            raise RetryLater("the hotline call's message is not posted yet")
        self.messages.of(call.team_id).follow_up(Place(VIA_CHAT, call.message_channel, call.message_ts), None,
                                                 transcript_text(call))
