"""One lifecycle for every call: what Plivo reports of it, recorded forward only.

Voice codes and alerts place calls alike; this records each event Plivo
sends (ringing, answered, machine, hangup) and what the dialler learns
(placed, not confirmed), each as one indexed read and at most one
conditional write, in the same transaction as the work that follows it (a
Slack update, the alert's next step). What a call *says* is decided by its
purpose (voice/codes/calls.py, voice/alerts/calls.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy.engine import Connection, Engine

from voice import metrics
from voice.calls.binding import is_foreign
from voice.calls.legs import LegStore
from voice.calls.models import (
    ANSWERED,
    RINGING,
    STATUSES,
    HangupReport,
    Leg,
)
from voice.calls.outcomes import Outcome, classify_hangup
from voice.clock import as_utc, event_time
from voice.log_context import token_for_log
from voice.queue.work import WorkQueue
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: Seconds a call rings before it counts as unanswered; voicemail usually picks up by ~30 s.
RING_TIMEOUT = 45
#: After a create-call Plivo did not confirm, how long past the ring timeout the call may still
#: ring (Plivo queues calls beyond the account's CPS).
UNCONFIRMED_GRACE = timedelta(seconds=60)
#: A call with no final report from Plivo this long after it was dialled is closed as failed (its
#: code erased, its alert moved on): longer than any call can ring and last (ring timeout + time limit).
STALE_AFTER = timedelta(minutes=10)
#: A call on an alert's voice bridge is looked at again this long after it entered (its time limit, and more).
BRIDGE_WATCH = 3600 + 600

#: What Slack says of a call Plivo did not confirm, and of one that then never rang.
NOT_CONFIRMED = "Plivo did not confirm the call; it may still ring"
NEVER_RANG = "Plivo did not confirm the call, and it never rang"
NO_FINAL_REPORT = "no final report came back from Plivo"
#: What Slack says of a call whose create-calls Plivo keeps failing (5xx, no connection): it is tried again.
PLIVO_TROUBLE = "Plivo is having trouble; still trying"

# The work that follows a call.
PLACE = "call.place"  # subject: token — the create-call
UNCONFIRMED = "call.unconfirmed"  # subject: token — end it if it never rang by its confirm_by
STALE = "call.stale"  # subject: token — end it if Plivo never reported its end
COST = "call.cost"  # subject: token — read the cost from Plivo's call record
STOP = "call.stop"  # subject: token — cancel or hang up a call of an alert someone took (poked)


class Followers(Protocol):
    """What a purpose does when one of its legs changes (post to Slack, move an alert on)."""

    def changed(self, conn: Connection, before: Leg | None, after: Leg) -> None: ...


class CallLifecycle:
    def __init__(self, engine: Engine, legs: LegStore, queue: WorkQueue, *,
                 followers: dict[str, Followers], clock: Callable[[], datetime]):
        self.engine = engine
        self.legs = legs
        self.queue = queue
        self.followers = followers
        self.clock = clock

    # -- Plivo's callbacks: the caller read the leg (`bound`), this writes once --------------------

    def bound(self, leg: Leg | None, token: str, call_uuid: str, event: str) -> Leg | None:
        """`leg`, unless there is none or it belongs to another Plivo call than `call_uuid`."""
        if leg is None or is_foreign(token, leg.call_uuid, call_uuid, event):
            return None
        return leg

    def ringing(self, leg: Leg, call_uuid: str) -> Leg | None:
        if STATUSES.index(leg.status) >= STATUSES.index(RINGING):
            return None  # a late or repeated ring: nothing to write
        return self._apply(leg, lambda conn: self.legs.ringing(conn, leg.token, call_uuid))

    def answered(self, leg: Leg, call_uuid: str, *, needs_secret: bool) -> Leg | None:
        """The leg, bound to `call_uuid` and answered; None if it ended (or lost its code) meanwhile."""
        if leg.ended:
            return None
        if leg.status == ANSWERED and leg.call_uuid == call_uuid:
            return leg  # Plivo asks again for the same call: it is answered already
        return self._apply(leg, lambda conn: self.legs.answered(conn, leg.token, call_uuid, self.now(),
                                                                needs_secret=needs_secret))

    def machine(self, leg: Leg, call_uuid: str) -> Leg | None:
        if leg.ended or leg.machine:
            return None
        changed = self._apply(leg, lambda conn: self.legs.machine(conn, leg.token, call_uuid, self.now()))
        if changed:
            log.info("call %s reached an answering machine", token_for_log(leg.token))
        return changed

    def hung_up(self, leg: Leg, report: HangupReport) -> Leg | None:
        """Record how a call ended, once; the leg if this report ended it."""
        if leg.ended:
            return None
        outcome, cause, duration = ending_of(leg, report)
        return self.finish(leg, outcome, cause, duration=duration, cost=report.total_cost,
                           call_uuid=report.call_uuid)

    # -- what the dialler and the timers learn -------------------------------------------------

    def finish(self, leg: Leg, outcome: Outcome, cause: str | None = None, *, duration: int | None = None,
               cost: str | None = None, call_uuid: str | None = None, permanent: bool = False,
               only_if_queued: bool = False, only_if_unconfirmed: bool = False) -> Leg | None:
        ended = self._apply(leg, lambda conn: self.legs.finish(
            conn, leg.token, outcome=outcome, cause=cause, duration=duration, cost=cost, call_uuid=call_uuid,
            permanent=permanent, only_if_queued=only_if_queued, only_if_unconfirmed=only_if_unconfirmed,
            now=self.now()))
        if ended:
            log.info("call %s ended: %s", token_for_log(leg.token), outcome.value)
        return ended

    def placed(self, leg: Leg, request_uuid: str) -> Leg | None:
        return self._apply(leg, lambda conn: self._placed(conn, leg.token, request_uuid))

    def unconfirmed(self, leg: Leg, ring_timeout: int) -> Leg | None:
        """The create-call reached Plivo and no answer came back: the phone may ring; wait and see."""
        confirm_by = self.clock() + timedelta(seconds=ring_timeout) + UNCONFIRMED_GRACE

        def change(conn: Connection) -> Leg | None:
            changed = self.legs.unconfirmed(conn, leg.token, confirm_by)
            if changed:
                self.queue.enqueue(conn, UNCONFIRMED, leg.token, key=f"{UNCONFIRMED}:{leg.token}",
                                   due_at=confirm_by)
                self._expect_end(conn, leg.token)
            return changed

        changed = self._apply(leg, change)
        if changed:
            log.warning("call %s: Plivo did not confirm the create-call; it may still ring",
                        token_for_log(leg.token))
        return changed

    def expire_unconfirmed(self, token: str) -> Leg | None:
        """Its time to ring is over and Plivo never called back: it was never placed."""
        leg = self.legs.get(token)
        if leg is None or not leg.unconfirmed:
            return None
        # Only if it still never rang: a ring arriving this very moment keeps it alive.
        return self.finish(leg, Outcome.FAILED, NEVER_RANG + ".", only_if_unconfirmed=True)

    def expire_stale(self, token: str) -> Leg | None:
        leg = self.legs.get(token)
        if leg is None or leg.ended:
            return None
        if leg.bridge_joined_at and not leg.bridge_left_at:
            # On an alert's voice bridge: a conversation may go on for up to an hour; look again then.
            later = as_utc(leg.bridge_joined_at) + timedelta(seconds=BRIDGE_WATCH)
            if self.clock() < later:
                with transaction(self.engine) as conn:
                    self.queue.enqueue(conn, STALE, token, key=f"{STALE}:{token}:bridge", due_at=later)
                return None
        return self.finish(leg, Outcome.FAILED, NO_FINAL_REPORT)

    def now(self) -> datetime:
        """When the event being recorded happened (voice/clock.py's event_time)."""
        return event_time(self.clock)

    # -- internals --------------------------------------------------------------------------------

    def _placed(self, conn: Connection, token: str, request_uuid: str) -> Leg | None:
        leg = self.legs.placed(conn, token, request_uuid)
        self._expect_end(conn, token)
        return leg

    def _expect_end(self, conn: Connection, token: str) -> None:
        # Plivo may never report the end (a lost callback): close the call then.
        self.queue.enqueue(conn, STALE, token, key=f"{STALE}:{token}", due_at=self.clock() + STALE_AFTER)

    def apply(self, before: Leg | None, change: Callable[[Connection], Leg | None]) -> Leg | None:
        """One conditional write, and the work it calls for, in one transaction; the leg as changed."""
        with transaction(self.engine) as conn:
            after = change(conn)
            if after is not None:
                self.followers[after.purpose].changed(conn, before, after)
        if after is not None and after.ended and not (before is not None and before.ended):
            _count_ending(after)  # committed: counted once, by the process whose write won
        return after

    _apply = apply


def _count_ending(leg: Leg) -> None:
    metrics.CALLS.labels(leg.purpose, leg.outcome.value if leg.outcome else "unknown").inc()
    if leg.duration:
        metrics.CALL_SECONDS.labels(leg.purpose).observe(leg.duration)


def ending_of(leg: Leg, report: HangupReport) -> tuple[Outcome, str | None, int | None]:
    """Outcome, cause and billable duration of a leg from Plivo's hangup callback. Pure."""
    if leg.machine and (leg.purpose != "otp" or leg.code_read_at is None):
        outcome, cause = Outcome.VOICEMAIL, None
    else:
        ending = classify_hangup(report.call_status, report.cause_code, report.cause_name,
                                 answered=leg.answered_at is not None)
        outcome, cause = ending.outcome, ending.cause
    duration = report.duration if outcome in (Outcome.ANSWERED, Outcome.VOICEMAIL) else None
    return outcome, cause, duration
