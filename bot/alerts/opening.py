"""The work of opening an alert: who its recipients are, in Slack's directory.

`/voicealert` only stored the recipients as typed; here (a worker, after the
acknowledgement) each person and group is looked up, numbers are checked
against the call policy, and the alert starts calling, or is dropped when
nobody can be called. The requester is told, only them, who is not called.
A Slack that is busy (429, 5xx) makes the lookup wait and try again.

Calls to numbers never wait on Slack:
- numbers need no look-up: an alert to numbers alone opens without asking
  Slack anything;
- when Slack fails while an alert's people are looked up, its numbers are
  called at once and its people are looked up again until Slack answers, then
  called; a link of the chain made of numbers goes ahead, a link with people
  in it waits for them (the chain keeps its order: the next link is not rung
  before them);
- the names a call says (whoever raised it, the people its message mentions)
  and the requester's number (for the voice bridge) are read after it opened
  (`alert.names`): until then a call says the requester's Slack handle, and a
  mention its handle or "a Slack user". A 9 pressed before the requester's
  number was read reads it then (voice/alerts/bridge.py).

What was read for an alert is kept in this process while it opens, so a
retry (after Slack's 429) goes on from there instead of starting over; a
retry taken up by another instance reads again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Callable

from sqlalchemy.engine import Connection

from bot.alerts.commands import mentioned_users, plain_message
from bot.alerts.listeners import TAKER
from bot.alerts.messages import failure_reply, not_called_reply
from bot.delivery import NOTICE, notice_payload
from bot.directory import (
    NUMBER,
    Lookups,
    Recipient,
    Resolution,
    SlackDirectory,
    TooManyRecipients,
)
from voice.alerts.models import RESOLVING, AlertRecord, Awaited, RequesterPhone, Skipped
from voice.alerts.service import NAMES, OPEN, AlertService
from voice.alerts.store import AlertStore
from voice.queue.work import RetryLater, WorkItem, WorkQueue
from voice.queue.workers import Policy, Registry

log = logging.getLogger(__name__)

RecordRefusal = Callable[..., None]
DirectoryOf = Callable[..., SlackDirectory]  # (team ID, lookups=None)

#: Alerts whose look-ups are kept in memory at once (each at most MAX_PEOPLE people).
KEPT_LOOKUPS = 64
#: How a call says someone its message mentions whose name cannot be read (and Slack gave no handle).
UNNAMED = "a Slack user"
#: Whoever raised an alert from a Workflow Builder step: nobody to call into the voice bridge.
FROM_A_WORKFLOW = RequesterPhone(problem="raised the alert from a workflow")


class AlertOpening:
    def __init__(self, alerts: AlertService, store: AlertStore, queue: WorkQueue, directory_of: DirectoryOf,
                 record_refusal: RecordRefusal):
        self.alerts = alerts
        self.store = store
        self.queue = queue
        self.directory_of = directory_of  # Slack's directory of one workspace, read with its token
        self.record_refusal = record_refusal
        self._lookups: OrderedDict[int, Lookups] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, registry: Registry) -> None:
        # Slack failing: the people of an alert are looked up again every 10 s at most, so they are called
        # within seconds of Slack's return, for about 10 minutes; then the alert goes on without them, said.
        slack_busy = dict(attempts=60, backoff=1.0, max_backoff=10.0)
        registry.add(OPEN, self.open, Policy(**slack_busy, on_failure=self._could_not_open))
        registry.add(NAMES, self.name, Policy(**slack_busy))
        registry.add(TAKER, self.name_taker, Policy(attempts=5))

    def open(self, item: WorkItem) -> None:
        alert = self.alerts.get(int(item.subject))
        request = self.store.recipients(alert.id) if alert else None
        if request is None:
            return  # opened already (this item ran before, and died before it was marked done)
        if alert.status == RESOLVING:
            self._open(alert, request)
        elif alert.awaiting:
            self._look_up_awaited(alert, request)

    def name(self, item: WorkItem) -> None:
        """The names the alert's calls say, and the requester's number, once Slack answers."""
        alert = self.alerts.get(int(item.subject))
        if alert is None:
            return
        directory = self._directory(alert)
        user_id = alert.requester.user_id
        typed = (item.payload or {}).get("message")
        message = None
        if typed:
            names = {user: directory.name(user) for user in mentioned_users(typed)}
            message = _spoken(typed, alert, {user: name for user, name in names.items() if name})
        self.alerts.named(alert.id, sender_name=directory.name(user_id) if user_id else None, message=message,
                          requester_phone=directory.phone_of(user_id, self.alerts.refusal_for)
                          if alert.requester_unknown else None)

    def name_taker(self, item: WorkItem) -> None:
        alert_id, user_id = item.subject.split(":", 1)
        alert = self.alerts.get(int(alert_id))
        if alert is None:
            return
        name = self.directory_of(alert.requester.team_id).name(user_id)
        if name:
            self.alerts.name_taker(int(alert_id), user_id, name)

    # -- opening ---------------------------------------------------------------------------------

    def _open(self, alert: AlertRecord, request: dict) -> None:
        stages = _stages(request)
        try:
            found = self._directory(alert).resolve(stages, self.alerts.refusal_for, request.get("language"))
        except TooManyRecipients as error:
            self._drop(alert, failure_reply(f"{error} No call was placed."))
            return
        except RetryLater:
            self._call_numbers_first(alert, request, stages)
            raise  # its people are looked up again when Slack allows
        typed = request.get("message") or ""
        if self._start(alert, typed, found, then=lambda conn: self._after_opening(conn, alert, typed, found)):
            self._record_skipped(alert, found.skipped)

    def _call_numbers_first(self, alert: AlertRecord, request: dict, stages: list[list[Recipient]]) -> None:
        """Slack failed to look the people up: the alert's numbers (if any may be called) are called now,
        each in the link it was typed in, and its people are awaited."""
        numbers = [[recipient for recipient in stage if recipient.kind == NUMBER] for stage in stages]
        found = self._directory(alert).resolve(numbers, self.alerts.refusal_for, request.get("language"),
                                               close_up=False)  # numbers only: Slack is not asked
        if not found.targets:
            return  # nobody to call without Slack: the whole alert waits for it
        awaiting = tuple(Awaited(recipient.label, index) for index, stage in enumerate(stages)
                         for recipient in stage if recipient.kind != NUMBER)
        typed = request.get("message") or ""
        if self._start(alert, typed, found, then=lambda conn: self._look_up_names(conn, alert, typed),
                       links=len(stages), awaiting=awaiting, request=request):
            log.warning("alert %s: Slack failed to look its people up; its %s numbers are called first",
                        alert.id, len(found.targets))

    def _look_up_awaited(self, alert: AlertRecord, request: dict) -> None:
        """The people an alert opened without (Slack failing then): looked up, then called where due."""
        if not alert.open:  # taken or given up meanwhile: nobody is called any more
            self.alerts.looked_up(alert.id, targets=alert.targets, skipped=alert.skipped)
            return
        try:
            found = self._directory(alert).resolve(_stages(request), self.alerts.refusal_for, request.get("language"),
                                                   close_up=False)
        except TooManyRecipients as error:
            self._not_awaited(alert, str(error))
            return
        called = {(target.stage, target.number) for target in alert.targets}
        more = tuple(target for target in found.targets if (target.stage, target.number) not in called)
        if self.alerts.looked_up(alert.id, targets=alert.targets + more, skipped=found.skipped,
                                 then=lambda conn: self._tell_who_is_skipped(conn, alert, found.skipped, False)):
            self._record_skipped(alert, found.skipped)
            log.info("alert %s: its people were looked up: %s more to call", alert.id, len(more))

    def _not_awaited(self, alert: AlertRecord, reason: str) -> None:
        """The people an alert waited for will not be called (its numbers were, or are)."""
        skipped = alert.skipped + tuple(Skipped(awaited.label, reason) for awaited in alert.awaiting)
        self.alerts.looked_up(alert.id, targets=alert.targets, skipped=skipped,
                              then=lambda conn: self._tell_who_is_skipped(conn, alert, skipped, False))

    # -- internals ---------------------------------------------------------------------------

    def _directory(self, alert: AlertRecord) -> SlackDirectory:
        """The workspace's directory, with what was read for this alert already (a retry goes on from there)."""
        with self._lock:
            lookups = self._lookups.pop(alert.id, None) or Lookups()
            self._lookups[alert.id] = lookups
            while len(self._lookups) > KEPT_LOOKUPS:
                self._lookups.popitem(last=False)
        return self.directory_of(alert.requester.team_id, lookups)

    def _start(self, alert: AlertRecord, typed: str, found: Resolution, **opening) -> bool:
        """Open the alert with `found` (names and the requester's number read later: `alert.names`)."""
        return self.alerts.opened(alert.id, sender_name=alert.sender_name, message=_spoken(typed, alert),
                                  targets=found.targets, skipped=found.skipped, requester_phone=_unread(alert),
                                  **opening)

    def _after_opening(self, conn: Connection, alert: AlertRecord, typed: str, found: Resolution) -> None:
        self._tell_who_is_skipped(conn, alert, found.skipped, nobody_left=not found.targets)
        if found.targets:
            self._look_up_names(conn, alert, typed)

    def _look_up_names(self, conn: Connection, alert: AlertRecord, typed: str) -> None:
        if alert.requester.user_id or mentioned_users(typed):
            # The typed message (with its mentions) only where there are names to put in it.
            self.queue.enqueue(conn, NAMES, str(alert.id), key=f"{NAMES}:{alert.id}",
                               payload={"message": typed} if mentioned_users(typed) else None)

    def _tell_who_is_skipped(self, conn: Connection, alert: AlertRecord, skipped: tuple[Skipped, ...],
                             nobody_left: bool) -> None:
        if skipped:
            self._notify(conn, alert, not_called_reply(skipped, nobody_left=nobody_left))

    def _record_skipped(self, alert: AlertRecord, skipped: tuple[Skipped, ...]) -> None:
        for item in skipped:
            self.record_refusal(source="slack", requester=alert.requester, number=None, kind="alert_recipient",
                                reason=f"{item.label}: {item.reason}")

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
        elif alert is not None and alert.awaiting:
            self._not_awaited(alert, "could not be looked up in Slack, so was not called")


def _spoken(typed: str, alert: AlertRecord, names: dict[str, str] | None = None) -> str:
    """The message as calls say it: a mention by its name once read, else by its handle, else as
    "a Slack user"."""
    return plain_message(typed, names, unnamed=UNNAMED) if typed else alert.message


def _stages(request: dict) -> list[list[Recipient]]:
    return [[Recipient(**recipient) for recipient in stage] for stage in request["stages"]]


def _unread(alert: AlertRecord) -> RequesterPhone:
    """The requester's number for the voice bridge, before it is read (`alert.names`, or a 9 pressed)."""
    return RequesterPhone() if alert.requester.user_id else FROM_A_WORKFLOW
