"""Call back, as work: a click only records (bot/hotline/listeners.py); here, in a worker, the call is checked,
the clicker's profile number read from Slack's directory and checked against the call policy, and they are
phoned (the caller follows once they are in the room), or told, only them, why not."""

from __future__ import annotations

from typing import Callable

from bot.delivery import NOTICE, notice_payload
from bot.directory import SlackDirectory
from bot.hotline.messages import no_callback_reply, no_phone_reply
from voice.calls.numbers import PhoneNumber
from voice.hotline.callbacks import CallBacks
from voice.hotline.models import CALL_BACK
from voice.queue.work import WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry
from voice.store.db import transaction


class CallBackClicks:
    def __init__(self, callbacks: CallBacks, queue: WorkQueue, directory_of: Callable[[str], SlackDirectory],
                 refusal: Callable[[PhoneNumber], str | None]):
        self.callbacks = callbacks
        self.queue = queue
        self.directory_of = directory_of
        self.refusal = refusal  # the call policy, as for every number phoned

    def register(self, registry: Registry) -> None:
        registry.add(CALL_BACK, self.call_back, Policy(attempts=10, backoff=1.0, max_backoff=30.0))

    def call_back(self, item: WorkItem) -> None:
        call_id, user_id = item.subject.split(":", 1)
        payload = item.payload or {}
        # Checked first, so a second click is told at once, without asking Slack anything.
        refused = self.callbacks.refusal(int(call_id))
        if refused is not None:
            self._tell(payload, no_callback_reply(refused))
            return
        phone = self.directory_of(payload.get("team") or "").phone_of(user_id, self.refusal)
        if phone.number is None:
            self._tell(payload, no_phone_reply(user_id, phone.problem))
            return
        refused = self.callbacks.call_back(int(call_id), user_id, phone.number, phone.locale)
        if refused is not None:
            self._tell(payload, no_callback_reply(refused))

    def _tell(self, payload: dict, text: str) -> None:
        """Only to whoever clicked (the click's response_url, ephemeral)."""
        with transaction(self.queue.engine) as conn:
            self.queue.enqueue(conn, NOTICE, "hotline", payload=notice_payload(
                text, reply_url=payload.get("reply_url"), ephemeral=True, team=payload.get("team") or ""))
