"""The Slack side of the voice bridge: "Join the call", looked up and placed as work.

A click only records (bot/alerts/listeners.py); here, in a worker, the
clicker's profile number is read from Slack's directory and checked against
the call policy, and they are called into the bridge, or told, only them, why
they cannot be. The same for the requester, when the acknowledger pressed 9
before their number could be read (Slack failing when the alert opened).
"""

from __future__ import annotations

import logging
from typing import Callable

from bot.delivery import NOTICE, notice_payload
from bot.directory import SlackDirectory
from bot.mrkdwn import mention, slack_text
from voice.alerts.bridge import JOIN, BridgeService
from voice.alerts.store import AlertStore
from voice.calls.numbers import PhoneNumber
from voice.queue.work import WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry
from voice.store.db import transaction

log = logging.getLogger(__name__)


class BridgeJoining:
    def __init__(self, bridge: BridgeService, store: AlertStore, queue: WorkQueue,
                 directory_of: Callable[[str], SlackDirectory], refusal: Callable[[PhoneNumber], str | None]):
        self.bridge = bridge
        self.store = store
        self.queue = queue
        self.directory_of = directory_of
        self.refusal = refusal

    def register(self, registry: Registry) -> None:
        registry.add(JOIN, self.join, Policy(attempts=10, backoff=1.0, max_backoff=30.0))

    def join(self, item: WorkItem) -> None:
        alert_id, user_id = item.subject.split(":", 1)
        payload = item.payload or {}
        alert = self.store.get(int(alert_id))
        if alert is None:
            return
        phone = self.directory_of(payload.get("team") or alert.requester.team_id).phone_of(user_id, self.refusal)
        if phone.number is None and payload.get("requester"):
            self.bridge.requester_unreachable(alert.id, phone)  # the acknowledger pressed 9 for them
            return
        if phone.number is None:
            self._tell(payload, slack_text(":telephone_receiver: You cannot be called into the voice bridge: ",
                                           mention(user_id), f" {phone.problem}. Add a phone number with + and "
                                           "the country code to your Slack profile, then click Join the call again."))
            return
        refused = self.bridge.join(int(alert_id), user_id, phone.number, payload.get("team") or "", phone.locale)
        if refused and not payload.get("requester"):
            self._tell(payload, slack_text(f":telephone_receiver: {refused}"))

    def _tell(self, payload: dict, text: str) -> None:
        """Only to whoever clicked (the click's response_url, ephemeral)."""
        with transaction(self.queue.engine) as conn:
            self.queue.enqueue(conn, NOTICE, "bridge", payload=notice_payload(
                text, reply_url=payload.get("reply_url"), ephemeral=True, team=payload.get("team") or ""))
