"""Alerts: call people until one acknowledges, then stop every other call.

The order of calls is decided by voice.alerts.plan (pure), what each call says
and hears by voice.alerts.calls; this module moves an alert along, each move
one transaction with the work that follows it (through the work queue): the
recipients looked up (by the Slack side), the plan's next step, a position's
calls placed, the other calls stopped. A retry due in a minute is an item in
the queue: it survives a restart and runs once across instances.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy.engine import Connection, Engine

from voice.alerts.bridge import SETTLE as BRIDGE_SETTLE
from voice.alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    CANCELLED,
    DROPPED,
    EXHAUSTED,
    REPORT_ALERT,
    RESOLVING,
    VIA_PHONE,
    VIA_SLACK,
    AlertRecord,
    AlertView,
    Awaited,
    RequesterPhone,
    Skipped,
    Target,
)
from voice.alerts.plan import (
    Advance,
    GiveUp,
    Wait,
    later_link,
    next_step,
    rings_again,
    targets_at,
)
from voice.alerts.store import AlertStore
from voice.calls.legs import LegStore
from voice.calls.lifecycle import PLACE, STOP
from voice.calls.limits import Limit, RateLimited, check, rate_refusal, serialise
from voice.calls.models import Leg, Requester
from voice.calls.numbers import PhoneNumber, parse_phone_number
from voice.calls.policy import DestinationPolicy, refusal_for
from voice.queue.work import WorkQueue
from voice.store.db import transaction
from voice.workflows.steps import ALERT_STEP, poke_steps

log = logging.getLogger(__name__)

# The work an alert calls for.
OPEN = "alert.open"  # subject: alert id — look its recipients up (the Slack side handles it)
NAMES = "alert.names"  # subject: alert id — the names it says, read after it opened (the Slack side)
NEXT = "alert.next"  # subject: alert id — what comes next (poked whenever one of its calls ends)
STEP = "alert.step"  # subject: "<alert id>:<position>" — call that position's targets
REDIAL = "alert.redial"  # subject: "<alert id>:<position>:<target>" — its second ring
STOP_ALL = "alert.stop"  # subject: alert id — stop every other call of a taken alert
# REPORT_ALERT (voice/alerts/models.py), subject: alert id — the alert's message in Slack
REPORT_GAVE_UP = "report.gave_up"  # subject: alert id — tell the requester nobody acknowledged


def alert_limits(per_number_hour: int, per_requester_hour: int) -> tuple[Limit, ...]:
    """ALERT_LIMIT_NUMBER_HOUR and ALERT_LIMIT_REQUESTER_HOUR (0: no limit), checked when a person raises an alert."""
    return (
        Limit("number", timedelta(hours=1), per_number_hour,
              "calls per hour to a number typed into an alert (alerts, voice codes and test calls to it count "
              "together)"),
        Limit("requester", timedelta(hours=1), per_requester_hour, "alerts raised by one person per hour"),
    )


@dataclass(frozen=True)
class Taking:
    """The result of acknowledging or cancelling."""

    won: bool  # False when someone else got there first
    alert: AlertRecord | None  # as it stands, when someone else got there first


def visible_change(before: Leg | None, after: Leg) -> bool:
    """Whether the alert's message would show a difference."""
    if before is None:
        return True
    shown = ("status", "machine_at", "outcome", "confirm_by", "stop_requested", "cause", "passed_at",
             "retrying_since")
    return any(getattr(before, name) != getattr(after, name) for name in shown)


class AlertFollowers:
    """What follows a change of an alert's call: its message, and, once it ended, the next step."""

    def __init__(self, queue: WorkQueue):
        self.queue = queue

    def changed(self, conn: Connection, before: Leg | None, after: Leg) -> None:
        if visible_change(before, after):
            self.queue.poke(conn, REPORT_ALERT, str(after.alert_id))
        if after.ended and not (before and before.ended):
            self.queue.poke(conn, NEXT, str(after.alert_id))
            if after.answered_at is not None:
                # It may have acknowledged and gone on into the voice bridge (or been on its way there).
                self.queue.poke(conn, BRIDGE_SETTLE, str(after.alert_id))
        elif after.stop_requested and after.call_uuid and not (before and before.call_uuid):
            # Its alert was taken before Plivo named the call: now it can be stopped.
            self.queue.poke(conn, STOP, after.token)


class AlertService:
    def __init__(self, engine: Engine, store: AlertStore, legs: LegStore, queue: WorkQueue, *,
                 policy: DestinationPolicy, retries: int = 2, retry_delay: int = 60, redial_delay: int = 0,
                 limits: Sequence[Limit] = (), clock: Callable[[], datetime]):
        self.engine = engine
        self.store = store
        self.legs = legs
        self.queue = queue
        self.policy = policy
        self.retries = retries
        self.retry_delay = retry_delay
        self.redial_delay = redial_delay
        self.limits = tuple(limits)
        self.clock = clock
        #: Called as (conn, alert id, status) when an alert is over (taken, cancelled, given up), in its transaction.
        self.watchers: list[Callable[[Connection, int, str], None]] = []

    def register(self, registry) -> None:
        from voice.queue.workers import Policy

        registry.add(NEXT, lambda item: self.advance(int(item.subject)))
        registry.add(STEP, lambda item: self.step(*(int(part) for part in item.subject.split(":"))))
        registry.add(REDIAL, lambda item: self.redial(*(int(part) for part in item.subject.split(":"))))
        registry.add(STOP_ALL, lambda item: self.stop_others(int(item.subject)), Policy(attempts=10))

    # -- raising an alert -----------------------------------------------------------------

    def refusal_for(self, number: PhoneNumber) -> str | None:
        """Why `number` may not be called (the same policy as every call); None if it may."""
        return refusal_for(number, self.policy)

    def request(self, *, requester: Requester, sender_name: str, channel_name: str | None, message: str,
                recipients: dict, request_id: str | None, source_link: str | None = None,
                typed_numbers: Sequence[str] = ()) -> int | None:
        """Store an alert to raise and the work of looking its recipients up; None if seen before.

        The requester's limit, and each number a person typed (E.164; not Slack users' numbers), are
        counted first, in the same transaction: raises Refused, naming the limit reached and when it
        frees up, with nothing stored. The alert then counts once against each, whatever it rings later.
        """
        now = self.clock()
        # A number the policy refuses is never called: it neither counts nor is counted.
        typed_numbers = [number for number in dict.fromkeys(typed_numbers)
                         if self.refusal_for(parse_phone_number(number)) is None]
        with transaction(self.engine) as conn:
            if self.store.seen(conn, request_id):
                return None  # delivered again: its first delivery was counted, and raised it
            serialise(conn, *typed_numbers, f"alerts:{requester.team_id}:{requester.user_id}")
            try:
                self._check_limits(conn, requester, typed_numbers, now)
            except RateLimited as limited:
                raise rate_refusal(limited) from None
            alert_id = self.store.add_request(
                conn, requester=requester, sender_name=sender_name, channel_name=channel_name, message=message,
                recipients=recipients, request_id=request_id, rounds=self.retries + 1,
                retry_delay=self.retry_delay, redial_delay=self.redial_delay, now=now,
                source_link=source_link)
            if alert_id is not None:
                self.store.add_typed_numbers(conn, alert_id, typed_numbers, now)
                self.queue.enqueue(conn, OPEN, str(alert_id), key=f"{OPEN}:{alert_id}")
        return alert_id

    def _check_limits(self, conn: Connection, requester: Requester, typed_numbers: Sequence[str],
                      now: datetime) -> None:
        for limit in self.limits:
            if limit.maximum <= 0:
                continue
            if limit.scope == "requester":
                check(self.store.raised_since(conn, requester, now - limit.window), limit)
                continue
            for number in typed_numbers:
                check(self.store.typed_number_calls_since(conn, number, now - limit.window), limit, number)

    def opened(self, alert_id: int, *, sender_name: str, message: str, targets: Sequence[Target],
               skipped: Sequence[Skipped], then: Callable[[Connection], None] = lambda conn: None,
               requester_phone: RequesterPhone = RequesterPhone(), links: int | None = None,
               awaiting: Sequence[Awaited] = (), request: dict | None = None) -> bool:
        """The recipients are known: start calling (or drop the alert if nobody can be called). With
        `awaiting`, only its numbers are: they are called, and those people's links wait for them."""
        with transaction(self.engine) as conn:
            status = ACTIVE if targets else DROPPED
            if not self.store.resolved(conn, alert_id, status=status, sender_name=sender_name, message=message,
                                       targets=targets, skipped=skipped, requester_phone=requester_phone,
                                       links=links, awaiting=awaiting, request=request):
                return False
            if targets:
                self.queue.poke(conn, REPORT_ALERT, str(alert_id))
                self.queue.poke(conn, NEXT, str(alert_id))
            else:
                poke_steps(self.queue, conn, ALERT_STEP, str(alert_id))  # dropped: over before it began
            then(conn)
        return True

    def looked_up(self, alert_id: int, *, targets: Sequence[Target], skipped: Sequence[Skipped],
                  then: Callable[[Connection], None] = lambda conn: None) -> bool:
        """The people an alert waited for were looked up: `targets` and `skipped` as they now stand
        (the earlier ones unchanged, first). Those in the link being called now are called at once."""
        with transaction(self.engine) as conn:
            before = self.store.get_in(conn, alert_id)
            if not self.store.looked_up(conn, alert_id, targets=targets, skipped=skipped):
                return False
            alert = self.store.get_in(conn, alert_id)
            if alert.open and alert.position >= 0:
                stage = alert.position % alert.stages
                late = [(index, target.number, secrets.token_urlsafe(24))
                        for index, target in enumerate(alert.targets)
                        if index >= len(before.targets) and target.stage == stage]
                for token in self.legs.add_alert_legs(conn, alert_id, alert.position, late, self.clock()):
                    self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))
            self.queue.poke(conn, NEXT, str(alert_id))
            then(conn)
        return True

    def named(self, alert_id: int, *, sender_name: str | None, message: str | None,
              requester_phone: RequesterPhone | None) -> None:
        """The names it says, read once Slack answered (until then: the handle, or "a Slack user")."""
        with transaction(self.engine) as conn:
            self.store.named(conn, alert_id, sender_name=sender_name, message=message,
                             requester_phone=requester_phone)
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))

    def get(self, alert_id: int) -> AlertRecord | None:
        return self.store.get(alert_id)

    def view(self, alert_id: int) -> AlertView | None:
        alert = self.store.get(alert_id)
        return AlertView(alert, tuple(self.legs.of_alert(alert_id))) if alert else None

    # -- taking it: the first acknowledgement (or a cancel) wins ------------------------------------

    def acknowledge(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone took the alert in Slack: calls stop, as for a keypress."""
        return self._take(alert_id, ACKNOWLEDGED, resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name)

    def cancel(self, alert_id: int, user_id: str, name: str) -> Taking:
        """Someone cancelled the alert in Slack: every call stops."""
        return self._take(alert_id, CANCELLED, resolved_via=VIA_SLACK, resolved_by=user_id, resolved_name=name)

    def acknowledge_call(self, leg: Leg, alert: AlertRecord) -> bool:
        """The callee of `leg` pressed the acknowledgement key; whether theirs was the first."""
        target = alert.targets[leg.target]
        return self._take(
            leg.alert_id, ACKNOWLEDGED, resolved_via=VIA_PHONE, resolved_by=target.user_id,
            resolved_name=target.name, resolved_number=target.number, resolved_leg=leg.id,
        ).won

    def name_taker(self, alert_id: int, user_id: str, name: str) -> None:
        """The display name of who took the alert in Slack, once looked up."""
        with transaction(self.engine) as conn:
            self.store.name_taker(conn, alert_id, user_id, name)

    # -- moving on (the work) ---------------------------------------------------------------------

    def advance(self, alert_id: int) -> None:
        """Decide what comes next for the alert, and arrange it."""
        alert = self.store.get(alert_id)
        if alert is None:
            return
        now = self.clock()
        step = next_step(alert, self.legs.of_alert(alert_id), now)
        if isinstance(step, Advance):
            with transaction(self.engine) as conn:
                self.queue.enqueue(conn, STEP, f"{alert.id}:{step.position}", key=f"{STEP}:{alert.id}:{step.position}",
                                   due_at=step.at)
                later = step.at > now and self.store.set_next_at(conn, alert.id, step.at)
                if later:
                    self.queue.poke(conn, REPORT_ALERT, str(alert.id))
            if later:  # said once it is recorded: a line in the log means the round is in the database
                log.info("alert %s: nobody acknowledged; next round at %s", alert.id, step.at.isoformat())
        elif isinstance(step, Wait) and step.redials:
            with transaction(self.engine) as conn:
                for redial in step.redials:
                    subject = f"{alert.id}:{redial.position}:{redial.target}"
                    self.queue.enqueue(conn, REDIAL, subject, key=f"{REDIAL}:{subject}", due_at=redial.at)
        elif isinstance(step, GiveUp):
            with transaction(self.engine) as conn:
                gave_up = self.store.give_up(conn, alert.id, alert.position, now)
                if gave_up:
                    self._ended(conn, alert.id, EXHAUSTED)
                    self.queue.poke(conn, REPORT_ALERT, str(alert.id))
                    self.queue.enqueue(conn, REPORT_GAVE_UP, str(alert.id), key=f"{REPORT_GAVE_UP}:{alert.id}")
                    poke_steps(self.queue, conn, ALERT_STEP, str(alert.id))
            if gave_up:
                log.info("alert %s: nobody acknowledged after %s rounds", alert.id, alert.rounds)

    def step(self, alert_id: int, position: int) -> None:
        """Call every target of a position: its legs and their create-calls, in one transaction."""
        alert = self.store.get(alert_id)
        if alert is None or not alert.open:
            return
        chosen = targets_at(alert, position, self.legs.of_alert(alert_id))
        with transaction(self.engine) as conn:
            if not self.store.move_to(conn, alert_id, position):
                return  # over, or another worker got there first
            new_legs = [(index, alert.targets[index].number, secrets.token_urlsafe(24)) for index in chosen]
            for token in self.legs.add_alert_legs(conn, alert_id, position, new_legs, self.clock()):
                self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))
            if not new_legs:
                self.queue.poke(conn, NEXT, str(alert_id))  # nobody to call here: move on

    def redial(self, alert_id: int, position: int, target: int) -> None:
        """The second ring of a busy or unanswered call, if the alert still waits on it."""
        alert = self.store.get(alert_id)
        if alert is None or not alert.open or alert.position != position:
            return
        calls = [leg for leg in self.legs.of_alert(alert_id) if leg.position == position and leg.target == target]
        if len(calls) != 1 or not rings_again(alert, calls[0]):
            return  # rung again already, or acknowledged, passed on or stopped meanwhile
        with transaction(self.engine) as conn:
            for token in self.legs.add_alert_legs(conn, alert_id, position,
                                                  [(target, alert.targets[target].number, secrets.token_urlsafe(24))],
                                                  self.clock(), attempt=1):
                self.queue.enqueue(conn, PLACE, token, key=f"{PLACE}:{token}")
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))

    def pass_on(self, leg: Leg, alert: AlertRecord) -> bool:
        """The callee pressed 3: their link ends as if unanswered, and the next link is called now.
        Whether it was passed (there is a later link, and the call may still pass it)."""
        if not later_link(alert, leg):
            return False
        with transaction(self.engine) as conn:
            if not self.legs.mark_passed(conn, leg.token, self.clock()):
                return False
            self.queue.poke(conn, NEXT, str(alert.id))
            self.queue.poke(conn, REPORT_ALERT, str(alert.id))
        log.info("alert %s: passed on by the callee at position %s", alert.id, leg.position)
        return True

    def stop_others(self, alert_id: int) -> None:
        """Every live call but the one that acknowledged stops (each its own item, retried alone)."""
        alert = self.store.get(alert_id)
        if alert is None:
            return
        with transaction(self.engine) as conn:
            for leg in self.legs.request_stop(conn, alert.id, keep_leg=alert.resolved_leg):
                self.queue.poke(conn, STOP, leg.token)
            self.queue.poke(conn, REPORT_ALERT, str(alert.id))

    # -- internals --------------------------------------------------------------------------------

    def take_in(self, conn: Connection, alert_id: int, status: str, from_statuses: Sequence[str], **who) -> bool:
        """Move the alert to `status` if it is in one of `from_statuses`, in the caller's transaction; if
        it moved, every call but the acknowledging one (`resolved_leg`) stops and Slack is told."""
        won = self.store.resolve(conn, alert_id, status=status, from_statuses=from_statuses, now=self.clock(),
                                 **who)
        if won:
            # Off the caller's path: Plivo's keypress request must not wait on N hang-ups.
            self.queue.enqueue(conn, STOP_ALL, str(alert_id), key=f"{STOP_ALL}:{alert_id}")
            self.queue.poke(conn, REPORT_ALERT, str(alert_id))
            poke_steps(self.queue, conn, ALERT_STEP, str(alert_id))
            self._ended(conn, alert_id, status)
        return won

    def _ended(self, conn: Connection, alert_id: int, status: str) -> None:
        """Tell whoever watches alerts (the hotline) that one is over, in the same transaction."""
        for watcher in self.watchers:
            watcher(conn, alert_id, status)

    def add_in(self, conn: Connection, *, requester: Requester, sender_name: str, message: str,
               recipients: dict | None, status: str, columns: dict, now: datetime, rounds: int | None = None,
               request_id: str | None = None) -> int | None:
        """Store an alert raised by monitoring (voice/incidents) or for a hotline call (voice/hotline: its
        call-outs, or a callback), in the caller's transaction, with this service's rounds (or `rounds`, and
        then no second ring) and delays; RESOLVING: its recipients are looked up, then called. None when its
        incident is open already (another instance stored it first), or `request_id` was seen."""
        alert_id = self.store.add_request(
            conn, requester=requester, sender_name=sender_name, channel_name=None, message=message,
            recipients=recipients, request_id=request_id, rounds=rounds or self.retries + 1,
            retry_delay=self.retry_delay, redial_delay=0 if rounds else self.redial_delay, now=now, status=status,
            columns=columns)
        if alert_id is not None and status == RESOLVING:
            self.queue.enqueue(conn, OPEN, str(alert_id), key=f"{OPEN}:{alert_id}")
        return alert_id

    def _take(self, alert_id: int, status: str, **who) -> Taking:
        """Acknowledge or cancel, if nobody did first; then every other call stops."""
        # Acknowledging after "nobody acknowledged" is still welcome; cancelling is not.
        from_statuses = (ACTIVE, EXHAUSTED) if status == ACKNOWLEDGED else (ACTIVE,)
        with transaction(self.engine) as conn:
            won = self.take_in(conn, alert_id, status, from_statuses, **who)
        if won:
            log.info("alert %s %s %s", alert_id, status,
                     "by phone" if who.get("resolved_via") == VIA_PHONE else "in Slack")
            return Taking(True, None)
        return Taking(False, self.store.get(alert_id))  # who was first, for whoever came second

