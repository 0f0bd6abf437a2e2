"""An alert's message in Slack, as work: posted, then kept up to date with its calls; and who gave up.

The core pokes `report.alert` whenever an alert or one of its calls changes;
the work queue coalesces the pokes, runs one report per message at a time, at
most about once a second (Slack's pace for updates), and always once after
the last change: the final state always lands, late at worst. Each report
reads the latest state and posts it, or updates what was posted. Slack's pace
delays a message but never uses up its attempts (bot/delivery.py).
"""

from __future__ import annotations

import logging
from typing import Callable

from bot.alerts.messages import alert_blocks, alert_text, gave_up_text
from bot.delivery import (
    MESSAGE_PACE,
    VIA_REPLY_URL,
    Place,
    WorkspaceMessages,
    message_digest,
    post_status,
    report_retries,
)
from voice.alerts.models import ACTIVE, DROPPED, RESOLVING
from voice.alerts.service import REPORT_ALERT, REPORT_GAVE_UP, AlertService
from voice.alerts.store import AlertStore
from voice.calls.models import REPLY_URL_USES
from voice.queue.work import RetryLater, WorkItem
from voice.queue.workers import Policy, Registry

log = logging.getLogger(__name__)


class AlertReports:
    def __init__(self, messages: WorkspaceMessages, alerts: AlertService, alert_store: AlertStore, *,
                 pace: float = MESSAGE_PACE):
        self.messages = messages
        self.alerts = alerts
        self.alert_store = alert_store
        self.pace = pace
        #: A hotline's call-outs changed: its call's message is brought up to date (set by the server).
        self.hotline_changed: Callable[[int], None] = lambda call_id: None

    def register(self, registry: Registry) -> None:
        registry.add(REPORT_ALERT, self.report_alert, report_retries(self.pace))
        registry.add(REPORT_GAVE_UP, self.report_gave_up, Policy(attempts=25, backoff=2.0, max_backoff=120.0))

    def report_alert(self, item: WorkItem) -> None:
        """Post the alert's message, or bring it up to date."""
        view = self.alerts.view(int(item.subject))
        if view is None or view.alert.status in (RESOLVING, DROPPED):
            return
        alert = view.alert
        if alert.hotline_call is not None:
            self.hotline_changed(alert.hotline_call)  # shown in the hotline call's own message
            return
        place = Place(alert.message_via, alert.message_channel, alert.message_ts)
        messages = self.messages.of(alert.requester.team_id)
        text, blocks = alert_text(view), alert_blocks(view)
        digest = message_digest(text, blocks)
        if place.via is None:
            posted = post_status(item, messages, alert.requester, text, blocks,
                                 ("your alert's message", "its calls are not held up"))
            if posted:
                uses = 1 if posted.via == VIA_REPLY_URL else 0
                self.alert_store.attach_message(alert.id, posted.via, posted.channel, posted.ts, uses,
                                                reported_status=alert.status, digest=digest)
            return
        if digest == alert.message_digest:
            return  # nothing the message shows has changed
        if place.via == VIA_REPLY_URL and not alert.requester.reply_url:
            log.info("alert %s: its response_url has expired; the message keeps its last state", alert.id)
            return
        if place.via == VIA_REPLY_URL:
            # Through a response_url only the changes of the alert's status are sent: its 5 uses
            # would not last through every ring and answer of every call.
            if alert.status == ACTIVE or not self.alert_store.spend_reply_use(alert.id, REPLY_URL_USES, alert.status):
                return
        messages.update(place, alert.requester.reply_url, text, blocks)
        self.alert_store.shown(alert.id, digest)

    def report_gave_up(self, item: WorkItem) -> None:
        """Nobody acknowledged: tell the requester with a message that notifies them."""
        view = self.alerts.view(int(item.subject))
        if view is None:
            return
        alert = view.alert
        place = Place(alert.message_via, alert.message_channel, alert.message_ts)
        if place.via is None and not (alert.requester.channel_id or alert.requester.reply_url):
            return  # nowhere to say it (a Workflow step with no channel: its outputs say it)
        if place.via is None:
            raise RetryLater("the alert's message is not posted yet")
        if place.via == VIA_REPLY_URL and not alert.requester.reply_url:
            return  # its response_url has expired: nowhere left to say it
        self.messages.of(alert.requester.team_id).follow_up(place, alert.requester.reply_url, gave_up_text(alert))
