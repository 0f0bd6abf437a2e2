"""Report an alert in Slack: one message, posted once, then updated live.

Changes come in bursts (every ring, answer and hang-up of every call), so they
go through a Coalescer: at most one update per `interval` per message, and
always the latest state. Through a response_url, which Slack accepts only 5
times in 30 minutes, only the post, the final state and the "nobody
acknowledged" notice are sent.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from slack_sdk import WebClient

from bot.alert_messages import alert_blocks, alert_text, gave_up_text
from bot.coalesce import Coalescer
from bot.reporter import VIA_REPLY_URL, Place, StatusMessages
from voice.alert_models import ACTIVE, AlertView

log = logging.getLogger(__name__)


class AlertReporter:
    def __init__(
        self,
        client: WebClient,
        view: Callable[[int], AlertView | None],
        attach: Callable[..., None],
        *,
        interval: float = 1.0,
        coalescer: Callable[..., Coalescer] = Coalescer,
    ):
        self._messages = StatusMessages(client)
        self._view = view  # the latest state of an alert and its calls
        self._attach = attach  # remember where the message went
        self._updates = coalescer(self.publish, interval)
        # What each response_url message last showed, so its few uses go to real changes.
        self._replied: dict[int, str] = {}
        self._lock = threading.Lock()

    def changed(self, alert_id: int) -> None:
        """The alert changed: its message follows within about `interval` seconds."""
        self._updates.poke(alert_id)

    def publish(self, alert_id: int) -> None:
        """Post the alert's message, or bring it up to date, now."""
        view = self._view(alert_id)
        if view is None:
            return
        alert, place = view.alert, _place(view)
        try:
            text, blocks = alert_text(view), alert_blocks(view)
            if place.via is None:
                if posted := self._messages.post(alert.requester.channel_id, alert.requester.reply_url, text, blocks):
                    self._attach(alert.id, posted.via, posted.channel, posted.ts)
                    self._remember(alert.id, alert.status)
            elif place.via != VIA_REPLY_URL or (alert.status != ACTIVE and self._remember(alert.id, alert.status)):
                self._messages.update(place, alert.requester.reply_url, text, blocks)
        except Exception:  # a reporting failure must not stop the calls
            log.exception("could not report alert %s in Slack", alert_id)

    def gave_up(self, alert_id: int) -> None:
        """Nobody acknowledged: tell the requester with a message that notifies them."""
        view = self._view(alert_id)
        if view is None:
            return
        try:
            self._messages.follow_up(_place(view), view.alert.requester.reply_url, gave_up_text(view.alert))
        except Exception:
            log.exception("could not tell the requester of alert %s that nobody acknowledged", alert_id)

    def _remember(self, alert_id: int, status: str) -> bool:
        """Whether `status` is new for this alert's response_url message."""
        with self._lock:
            if self._replied.get(alert_id) == status:
                return False
            self._replied[alert_id] = status
            return True


def _place(view: AlertView) -> Place:
    return Place(view.alert.message_via, view.alert.message_channel, view.alert.message_ts)
