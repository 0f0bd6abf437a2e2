"""Reporting in Slack, as work: each call's and each alert's one message, kept up to date.

The core pokes `report.call` / `report.alert` whenever a call or an alert
changes; the work queue coalesces the pokes, runs one report per message at
a time, at most about once a second per message (Slack's pace for updates),
and always once after the last change: the final state always lands, late at
worst. Each report reads the latest state and posts it, or updates what was
posted. Slack's pace (a channel's posting slot far off in a burst, its 429s)
delays a message but never uses up its attempts; whoever asked is told, once,
when their message is more than a few seconds behind.
"""

from __future__ import annotations

import hashlib
import json
import logging

from bot.alerts.messages import alert_blocks, alert_text, gave_up_text
from bot.delivery import (
    REPLY_URL_RESERVE,
    VIA_REPLY_URL,
    ChannelBacklog,
    Place,
    StatusMessages,
    WorkspaceMessages,
)
from bot.messages import API_PREFIX, pace_notice, status_blocks, status_text
from voice.alerts.models import ACTIVE, DROPPED, RESOLVING
from voice.alerts.service import REPORT_ALERT, REPORT_GAVE_UP, AlertService
from voice.alerts.store import AlertStore
from voice.calls.legs import LegStore
from voice.calls.models import REPLY_URL_USES, Requester, token_for_log
from voice.codes.calls import REPORT_CALL
from voice.queue.work import RetryLater, WorkItem
from voice.queue.workers import Policy, Registry

log = logging.getLogger(__name__)

#: A message about something else (an announcement, an ephemeral note for whoever acted).
NOTICE = "slack.notice"
#: The least time between two updates of one message (Slack allows about one a second).
MESSAGE_PACE = 1.0
#: A new message whose channel slot is further off than this (seconds) tells its requester, once.
PACE_NOTICE_AFTER = 5.0
#: In a report's payload: its requester was told that the message waits for Slack's pace.
PACE_TOLD = "pace_told"


class Reporting:
    def __init__(self, messages: WorkspaceMessages, legs: LegStore, alerts: AlertService, alert_store: AlertStore, *,
                 pace: float = MESSAGE_PACE):
        self.messages = messages
        self.legs = legs
        self.alerts = alerts
        self.alert_store = alert_store
        self.pace = pace

    def register(self, registry: Registry) -> None:
        # Slack down for a while: keep trying for about half an hour before giving up on a message.
        retries = Policy(attempts=25, backoff=1.0, max_backoff=120.0, rest=self.pace)
        registry.add(REPORT_CALL, self.report_call, retries)
        registry.add(REPORT_ALERT, self.report_alert, retries)
        registry.add(REPORT_GAVE_UP, self.report_gave_up, Policy(attempts=25, backoff=2.0, max_backoff=120.0))
        registry.add(NOTICE, self.notice, Policy(attempts=10, backoff=1.0, max_backoff=60.0))

    # -- a voice code's call -----------------------------------------------------------------

    def report_call(self, item: WorkItem) -> None:
        """Bring the call's status message up to date with its stored state."""
        leg = self.legs.get(item.subject)
        if leg is None or leg.requester is None or not (leg.requester.channel_id or leg.requester.reply_url):
            return  # nowhere to report (an API call with no audit channel)
        place = Place(leg.message_via, leg.message_channel, leg.message_ts)
        messages = self.messages.of(leg.requester.team_id)
        text, blocks = status_text(leg), status_blocks(leg)
        digest = message_digest(text, blocks)
        if place.via is None:
            posted = self._post(item, messages, leg.requester, text, blocks,
                                ("the status message of your call", "the call is not held up"))
            if posted:
                self.legs.attach_message(leg.token, posted.via, posted.channel, posted.ts,
                                         reply_uses=1 if posted.via == VIA_REPLY_URL else 0, digest=digest)
            return
        if digest == leg.message_digest:
            return  # it shows this already (queued, dialling and calling all read "calling…")
        if place.via == VIA_REPLY_URL and not leg.requester.reply_url:
            log.info("call %s: its response_url has expired; the message keeps its last state",
                     token_for_log(leg.token))
            return
        if place.via == VIA_REPLY_URL:
            # Slack takes a response_url 5 times: the states along the way leave room for the end.
            limit = REPLY_URL_USES if leg.ended else REPLY_URL_USES - REPLY_URL_RESERVE
            if not self.legs.spend_reply_use(leg.token, limit):
                log.info("call %s: a state along the way is not sent, to keep response_url uses for the "
                         "final one", token_for_log(leg.token))
                return
        messages.update(place, leg.requester.reply_url, text, blocks)
        self.legs.shown(leg.token, digest)

    # -- an alert ------------------------------------------------------------------------------

    def report_alert(self, item: WorkItem) -> None:
        """Post the alert's message, or bring it up to date."""
        view = self.alerts.view(int(item.subject))
        if view is None or view.alert.status in (RESOLVING, DROPPED):
            return
        alert = view.alert
        place = Place(alert.message_via, alert.message_channel, alert.message_ts)
        messages = self.messages.of(alert.requester.team_id)
        text, blocks = alert_text(view), alert_blocks(view)
        digest = message_digest(text, blocks)
        if place.via is None:
            posted = self._post(item, messages, alert.requester, text, blocks,
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

    def _post(self, item: WorkItem, messages: StatusMessages, requester: Requester, text: str,
              blocks: list[dict] | None, about: tuple[str, str]) -> Place | None:
        """Post a status message; while Slack's pace holds it back for long, say so once to whoever
        asked (only them: nobody else's channel fills up with it)."""
        try:
            return messages.post(requester.channel_id, requester.reply_url, text, blocks)
        except ChannelBacklog as backlog:
            told = (item.payload or {}).get(PACE_TOLD)
            if backlog.late > PACE_NOTICE_AFTER and not told and _a_person(requester):
                messages.tell(requester.channel_id, requester.user_id, pace_notice(*about, backlog.late,
                                                                                   backlog.ahead))
                backlog.payload = {**(backlog.payload or {}), PACE_TOLD: True}  # kept while it waits
            raise

    # -- anything else -----------------------------------------------------------------------------

    def notice(self, item: WorkItem) -> None:
        """One message, to a channel or (ephemeral) to whoever acted:
        payload {text, channel, reply_url, ephemeral, team}."""
        payload = item.payload or {}
        text = payload.get("text", "")
        messages = self.messages.of(payload.get("team") or "")
        if payload.get("ephemeral"):
            messages.reply(payload.get("reply_url"), text, None, replace=False, ephemeral=True)
        else:
            messages.post(payload.get("channel") or "", payload.get("reply_url"), text, None)


def _a_person(requester: Requester) -> bool:
    """Whether a Slack user asked (not a Workflow with nobody behind it, nor an API key)."""
    return bool(requester.user_id) and not requester.user_id.startswith(API_PREFIX)


def message_digest(text: str, blocks: list[dict] | None) -> str:
    """A short fingerprint of what a message shows."""
    return hashlib.sha256(json.dumps([text, blocks], sort_keys=True).encode()).hexdigest()[:16]


def notice_payload(text: str, *, channel: str | None = None, reply_url: str | None = None,
                   ephemeral: bool = False, team: str = "") -> dict:
    return {"text": text, "channel": channel, "reply_url": reply_url, "ephemeral": ephemeral, "team": team}
