"""A voice code's status message in Slack, as work: posted, then kept up to date with its call.

The core pokes `report.call` whenever a code's call changes; the work queue
coalesces the pokes, runs one report per message at a time, at most about
once a second (Slack's pace for updates), and always once after the last
change: the final state always lands, late at worst. Slack's pace delays a
message but never uses up its attempts (bot/delivery.py).
"""

from __future__ import annotations

import logging

from bot.codes.messages import status_blocks, status_text
from bot.delivery import (
    MESSAGE_PACE,
    REPLY_URL_RESERVE,
    VIA_REPLY_URL,
    Place,
    WorkspaceMessages,
    message_digest,
    post_status,
    report_retries,
)
from voice.calls.legs import LegStore
from voice.calls.models import REPLY_URL_USES
from voice.codes.calls import REPORT_CALL
from voice.log_context import token_for_log
from voice.queue.work import WorkItem
from voice.queue.workers import Registry

log = logging.getLogger(__name__)


class CallReports:
    def __init__(self, messages: WorkspaceMessages, legs: LegStore, *, pace: float = MESSAGE_PACE):
        self.messages = messages
        self.legs = legs
        self.pace = pace

    def register(self, registry: Registry) -> None:
        registry.add(REPORT_CALL, self.report_call, report_retries(self.pace))

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
            posted = post_status(item, messages, leg.requester, text, blocks,
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
