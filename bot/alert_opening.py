"""The work of opening an alert: who its recipients are, in Slack's directory.

`/voicealert` only stored the recipients as typed; here (a worker, after the
acknowledgement) each person and group is looked up, numbers are checked
against the call policy, and the alert starts calling, or is dropped when
nobody can be called. The requester is told, only them, who is not called.
A Slack that is busy (429, 5xx) makes the lookup wait and try again.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.engine import Connection

from bot.alert_commands import Recipient, mentioned_users, plain_message
from bot.alert_listeners import TAKER
from bot.alert_messages import failure_reply, not_called_reply
from bot.directory import SlackDirectory, TooManyRecipients
from bot.reporting import NOTICE, notice_payload
from voice.alert_models import RESOLVING, AlertRecord, RequesterPhone, Skipped
from voice.alert_store import AlertStore
from voice.alerts import OPEN, AlertService
from voice.work import WorkItem, WorkQueue
from voice.workers import Policy, Registry

log = logging.getLogger(__name__)

RecordRefusal = Callable[..., None]


class AlertOpening:
    def __init__(self, alerts: AlertService, store: AlertStore, queue: WorkQueue,
                 directory_of: Callable[[str], SlackDirectory], record_refusal: RecordRefusal):
        self.alerts = alerts
        self.store = store
        self.queue = queue
        self.directory_of = directory_of  # Slack's directory of one workspace, read with its token
        self.record_refusal = record_refusal

    def register(self, registry: Registry) -> None:
        registry.add(OPEN, self.open, Policy(attempts=20, backoff=1.0, max_backoff=60.0,
                                             on_failure=self._could_not_open))
        registry.add(TAKER, self.name_taker, Policy(attempts=5))

    def open(self, item: WorkItem) -> None:
        alert = self.alerts.get(int(item.subject))
        recipients = self.store.recipients(alert.id) if alert and alert.status == RESOLVING else None
        if recipients is None:
            return  # opened already (this item ran before, and died before it was marked done)
        stages = [[Recipient(**recipient) for recipient in stage] for stage in recipients["stages"]]
        directory = self.directory_of(alert.requester.team_id)
        try:
            found = directory.resolve(stages, self.alerts.refusal_for, recipients.get("language"))
        except TooManyRecipients as error:
            self._drop(alert, failure_reply(f"{error} No call was placed."))
            return
        typed = recipients["message"]
        names = {user_id: directory.name(user_id) or "someone" for user_id in mentioned_users(typed)}
        sender = directory.name(alert.requester.user_id) or alert.sender_name
        # For the voice bridge: the requester is called into it once someone acknowledges and presses 9.
        requester_phone = directory.phone_of(alert.requester.user_id, self.alerts.refusal_for) \
            if alert.requester.user_id else RequesterPhone(problem="raised the alert from a workflow")
        opened = self.alerts.opened(
            alert.id, sender_name=sender, message=plain_message(typed, names), targets=found.targets,
            skipped=found.skipped, then=lambda conn: self._tell_who_is_skipped(conn, alert, found.skipped,
                                                                              nobody_left=not found.targets),
            requester_phone=requester_phone)
        if opened:
            for skipped in found.skipped:
                self.record_refusal(source="slack", requester=alert.requester, number=None, kind="alert_recipient",
                                    reason=f"{skipped.label}: {skipped.reason}")

    def name_taker(self, item: WorkItem) -> None:
        alert_id, user_id = item.subject.split(":", 1)
        alert = self.alerts.get(int(alert_id))
        if alert is None:
            return
        name = self.directory_of(alert.requester.team_id).name(user_id)
        if name:
            self.alerts.name_taker(int(alert_id), user_id, name)

    # -- internals ---------------------------------------------------------------------------

    def _tell_who_is_skipped(self, conn: Connection, alert: AlertRecord, skipped: tuple[Skipped, ...],
                             nobody_left: bool) -> None:
        if skipped:
            self._notify(conn, alert, not_called_reply(skipped, nobody_left=nobody_left))

    def _drop(self, alert: AlertRecord, text: str) -> None:
        self.alerts.opened(alert.id, sender_name=alert.sender_name, message=alert.message, targets=(), skipped=(),
                           then=lambda conn: self._notify(conn, alert, text))

    def _notify(self, conn: Connection, alert: AlertRecord, text: str) -> None:
        self.queue.enqueue(conn, NOTICE, str(alert.id), payload=notice_payload(
            text, reply_url=alert.requester.reply_url, ephemeral=True, team=alert.requester.team_id))

    def _could_not_open(self, item: WorkItem, error: str) -> None:
        alert = self.alerts.get(int(item.subject))
        if alert is not None and alert.status == RESOLVING:
            self._drop(alert, failure_reply("Slack's directory could not be read, so the alert was not raised "
                                            "and no call was placed. Please try again."))
