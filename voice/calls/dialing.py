"""The work that talks to Plivo's REST API for a call: place it, stop it, read its cost, and its timers.

Placing follows one rule above all: a create-call that may have reached
Plivo is never sent again. The leg is marked `dialling` (committed) before
the request goes, so a worker that dies mid-request leaves a leg that the
next worker recognises: it does not dial, it waits for the call's callbacks
as for a request Plivo did not confirm. Calls are paced by the account-wide
PLIVO_CPS limiter (voice/queue/ratelimit.py), calls someone waits for ahead of an
alert's many (voice/calls/pacing.py), and overlap: one slow reply holds up
nobody else's call. A call whose slot is far off goes back to the queue
booked for it (work.Deferred), so a worker that dies holds no call hostage
behind its lease; and the create-calls are spaced once more as they go, so
a late one cannot bunch up with the next.

A create-call that certainly did not reach Plivo (Plivo answered 5xx or 429,
or no connection could be made) is tried again, with backoff, for as long as
the call is still useful (`keep_trying`), and the channel says Plivo is having
trouble meanwhile; then it is placed, or fails saying how long it was tried.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from voice.calls.legs import LegStore
from voice.calls.lifecycle import (
    COST,
    PLACE,
    RING_TIMEOUT,
    STALE,
    STOP,
    UNCONFIRMED,
    CallLifecycle,
)
from voice.calls.models import ALERT, ANSWERED, BRIDGE, DIALLING, OTP, QUEUED, TEST, Leg
from voice.calls.outcomes import Outcome
from voice.calls.pacing import CallPacing, Place
from voice.calls.plivo import OutboundCall, PlivoClient, PlivoError
from voice.log_context import token_for_log
from voice.queue.ratelimit import SlotLimiter
from voice.queue.work import RetryLater, WorkItem
from voice.queue.workers import OUR_SIDE, Policy, Registry
from voice.store.db import transaction

log = logging.getLogger(__name__)

#: The longest a call stays in an alert's voice bridge (Plivo's timeLimit): a stuck call cannot run up a bill.
#: Defined here rather than in voice/alerts/: every call is capped here, and voice/calls/ uses nothing of alerts.
BRIDGE_TIME_LIMIT = 3600
#: Hard caps on an answered call's length, so a stuck call cannot run up a bill: a code is read twice
#: in well under a minute; a 1000-character alert takes ~70 s, plus menus (its script ends itself:
#: three silent menus, a machine's one message); but an alert's acknowledger may go on into the voice
#: bridge, a conversation of up to an hour (voice/alerts/bridge.py), and Plivo's cap is set when the call is.
TIME_LIMITS = {OTP: 120, ALERT: 300 + BRIDGE_TIME_LIMIT, BRIDGE: BRIDGE_TIME_LIMIT, TEST: 60}
#: The longest a call we place can last, from its create-call: ringing, then its time limit.
LONGEST_CALL = timedelta(seconds=RING_TIMEOUT + max(TIME_LIMITS.values()))
OUR_ERROR = "an error on our side stopped the call"

#: A call whose PLIVO_CPS slot is further off than this goes back to the queue, booked for its
#: slot, instead of holding a thread and a lease: a worker killed meanwhile holds up nothing.
HOLD_FOR_SLOT = 0.5


@dataclass(frozen=True)
class CallUrls:
    answer: str
    hangup: str
    ring: str
    machine: str  # asynchronous machine detection
    key: str  # a GetDigits action: a key was pressed
    menu: str  # an alert's menu, after the message
    silence: str  # an alert's menu got no key
    conference: str  # the voice bridge's conference events (enter, exit)


_BASES = {OTP: "/plivo", ALERT: "/plivo/alert", BRIDGE: "/plivo/bridge", TEST: "/plivo/test"}


def callback_urls(public_url: str, token: str, purpose: str = OTP) -> CallUrls:
    """The URLs Plivo calls back for one call: they carry only its token (and say what it is for)."""
    base = public_url.rstrip("/") + _BASES[purpose]
    key = "key" if purpose == OTP else "keys"
    return CallUrls(*(f"{base}/{event}/{token}" for event in
                      ("answer", "hangup", "ring", "machine", key, "menu", "silence", "conference")))


#: The longest wait between two create-calls of one call while Plivo fails them (the waits double up to
#: it): a call is placed within about this long of Plivo's recovery.
RETRY_WAIT_MAX = 5.0


def keep_trying(otp_ttl: int = 600, alert_retry_delay: int = 60) -> dict[str, timedelta]:
    """How long after it was asked for a call stays worth placing while Plivo fails its create-calls:
    a voice code's, until its code expires (OTP_TTL); an alert's, as long as its round would have lasted
    had it rung unanswered (its ring time, then the wait for the next round); a call someone waits for
    (a test call, a call into the voice bridge), a minute."""
    return {OTP: timedelta(seconds=otp_ttl), ALERT: timedelta(seconds=RING_TIMEOUT + alert_retry_delay),
            BRIDGE: timedelta(minutes=1), TEST: timedelta(minutes=1)}


#: Why a call stopped being tried, for the channel.
_TOO_LATE = {OTP: "the code expired", ALERT: "the alert's round was over"}


@dataclass(frozen=True)
class DialConfig:
    public_url: str
    from_number: str
    #: Voice codes: a key press before the code, and Plivo hangs up on a machine.
    voicemail_guard: bool = True
    #: By purpose: how long after it was asked for a call is tried through Plivo's failures.
    keep_trying: dict[str, timedelta] = field(default_factory=keep_trying)


class Dialler:
    def __init__(self, legs: LegStore, lifecycle: CallLifecycle, plivo: PlivoClient, limiter: SlotLimiter,
                 config: DialConfig, sends: SlotLimiter | None = None, alert_line: SlotLimiter | None = None):
        self.legs = legs
        self.lifecycle = lifecycle
        self.plivo = plivo
        #: Slots in the order calls were asked for: when each call's turn comes.
        self.limiter = limiter
        #: The calls someone waits for first; an alert's calls in their own line (voice/calls/pacing.py).
        self.pacing = CallPacing(limiter, alert_line or SlotLimiter(limiter.engine, f"{limiter.name}.alerts",
                                                                    limiter.per_second))
        #: The create-calls themselves, spaced again at the moment they go: a call that went late
        #: (a slow write, a busy machine) pushes the next one back instead of bunching up with it.
        self.sends = sends
        self.config = config
        self._places: dict[int, Place] = {}  # item id → its PLIVO_CPS slot (or turn), taken in claim order
        self._lock = threading.Lock()

    def register(self, registry: Registry) -> None:
        registry.add(PLACE, self.place, Policy(attempts=4, backoff=1.0, max_backoff=10.0,
                                               on_failure=self._placing_failed), prepare=self.reserve_slot)
        registry.add(STOP, self.stop, Policy(attempts=5, backoff=1.0, max_backoff=30.0))
        registry.add(COST, self.look_up_cost, Policy(attempts=6, backoff=5.0, max_backoff=60.0))
        registry.add(UNCONFIRMED, lambda item: self.lifecycle.expire_unconfirmed(item.subject))
        registry.add(STALE, lambda item: self.lifecycle.expire_stale(item.subject))

    def outbound(self, leg: Leg) -> OutboundCall:
        urls = callback_urls(self.config.public_url, leg.token, leg.purpose)
        if leg.purpose == ALERT:
            # Report only: a machine still records the alert's message.
            detection = dict(machine_detection_url=urls.machine, machine_detection="true")
        elif leg.purpose in (BRIDGE, TEST):
            detection = {}  # a person asked to be called, or is waited for: no machine detection
        elif self.config.voicemail_guard:
            detection = dict(machine_detection_url=urls.machine, machine_detection="hangup")
        else:
            detection = {}
        return OutboundCall(from_number=self.config.from_number, to_number=leg.to_number, answer_url=urls.answer,
                            hangup_url=urls.hangup, ring_url=urls.ring, ring_timeout=RING_TIMEOUT,
                            time_limit=TIME_LIMITS[leg.purpose], **detection)

    # -- the work ------------------------------------------------------------------------

    def reserve_slot(self, item: WorkItem) -> None:
        """The call's PLIVO_CPS slot (or an alert call's turn), taken as its item is claimed: calls go in
        the order they were asked for, those someone waits for first. An item that comes back booked for
        a slot still good keeps it."""
        leg = self.legs.get(item.subject)
        place = self.pacing.place(item, waited_for=_waited_for(leg))
        with self._lock:
            self._places[item.id] = place

    def place(self, item: WorkItem) -> None:
        with self._lock:
            place = self._places.pop(item.id, None)
        leg = self.legs.get(item.subject)
        if leg is None or not self._still_to_dial(leg):
            return
        if place is None:
            place = self.pacing.place(item, waited_for=_waited_for(leg))
        slot = self.pacing.slot(item, place, HOLD_FOR_SLOT)  # Deferred, back to the queue, while it is far off
        self.limiter.wait_for(slot)  # the slot is shared by every process
        dialling = self.lifecycle.apply(leg, lambda conn: self.legs.start_dialling(conn, leg.token,
                                                                                   self.lifecycle.clock()))
        if dialling is None:
            self._cancel_if_taken(leg)
            return
        call = self.outbound(dialling)
        if self.sends is not None:
            self.sends.acquire()
        log.debug("dialling call %s %.0f ms after its slot", token_for_log(leg.token),
                  (self.limiter.now() - slot) * 1000)
        try:
            request_uuid = self.plivo.create_call(call)
        except PlivoError as error:
            self._not_placed(dialling, call, error)
            return
        log.info("call %s placed: request %s", token_for_log(leg.token), request_uuid)
        placed = self.lifecycle.placed(dialling, request_uuid) or self.legs.get(leg.token)
        if placed is not None and placed.stop_requested and not placed.ended:
            self._stop_later(placed)  # its alert was taken while Plivo placed it

    def stop(self, item: WorkItem) -> None:
        """Stop one call of a taken alert: a queued one never rings, a live one is cancelled or hung up."""
        leg = self.legs.get(item.subject)
        if leg is None or leg.ended:
            return
        if leg.status == QUEUED:
            self.lifecycle.finish(leg, Outcome.CANCELLED, only_if_queued=True)
            return
        try:
            if leg.status == ANSWERED and leg.call_uuid:
                self.plivo.hang_up(leg.call_uuid)
            elif leg.request_uuid:
                # Queued at Plivo or ringing: cancelled by its request.
                self.plivo.cancel_request(leg.request_uuid)
                now = self.legs.get(leg.token)
                if now and now.status == ANSWERED and now.call_uuid:
                    self.plivo.hang_up(now.call_uuid)  # answered in between
            elif leg.call_uuid:
                # Plivo never confirmed the request, but it rang: its call UUID stops it.
                self.plivo.hang_up(leg.call_uuid)
            # Not placed yet (dialling): placing it stops it as soon as Plivo names it.
        except PlivoError as error:
            raise RetryLater(f"could not stop call {token_for_log(leg.token)}: {error}") from None

    def look_up_cost(self, item: WorkItem) -> None:
        """The cost from Plivo's call record, when the hangup callback had none."""
        leg = self.legs.get(item.subject)
        if leg is None or not leg.call_uuid or leg.cost is not None:
            return
        try:
            cost = self.plivo.call_cost(leg.call_uuid)
        except PlivoError as error:
            raise RetryLater(str(error)) from None
        if cost is None:
            raise RetryLater("the call record is not there yet")
        self.lifecycle.apply(leg, lambda conn: self.legs.set_cost(conn, leg.token, cost))

    # -- internals ------------------------------------------------------------------------------

    def _still_to_dial(self, leg: Leg) -> bool:
        if leg.status == QUEUED:
            if leg.stop_requested:
                self.lifecycle.finish(leg, Outcome.CANCELLED, only_if_queued=True)  # never rings
                return False
            return True
        if leg.status == DIALLING and leg.confirm_by is None:
            # An earlier attempt sent the create-call and was lost before Plivo's reply came
            # back: never send it again; the call's own callbacks will tell what happened.
            self.lifecycle.unconfirmed(leg, RING_TIMEOUT)
        return False

    def _not_placed(self, leg: Leg, call: OutboundCall, error: PlivoError) -> None:
        if error.placed_unknown:
            self.lifecycle.unconfirmed(leg, call.ring_timeout)
            return
        if error.retryable:
            self._retry_or_give_up(leg, error)
            return
        self.lifecycle.finish(leg, Outcome.FAILED, str(error), permanent=error.permanent)

    def _retry_or_give_up(self, leg: Leg, error: PlivoError) -> None:
        """Certainly not placed (Plivo's 5xx or 429, no connection): back in the queue, tried again
        while the call is still useful, its attempts not counted (an outage can last minutes)."""
        now = self.lifecycle.clock()
        wait = retry_wait(leg.retrying_since, now)
        if now + timedelta(seconds=wait) > leg.created_at + self.config.keep_trying[leg.purpose]:
            self.lifecycle.finish(leg, Outcome.FAILED, gave_up(error, leg, now))
            return
        self.lifecycle.apply(leg, lambda conn: self.legs.undial(conn, leg.token, now))
        raise RetryLater(str(error), after=wait, counted=False)

    def _cancel_if_taken(self, leg: Leg) -> None:
        """Not dialled because its alert was taken or cancelled meanwhile: it never rings."""
        now = self.legs.get(leg.token)
        if now is not None and now.status == QUEUED:
            self.lifecycle.finish(now, Outcome.CANCELLED, only_if_queued=True)

    def _stop_later(self, leg: Leg) -> None:
        # A poke: the stop asked when the alert was taken may have run already, finding nothing
        # to stop yet; asked again, it runs once more, and never twice for one request.
        with transaction(self.lifecycle.engine) as conn:
            self.lifecycle.queue.poke(conn, STOP, leg.token)

    def _placing_failed(self, item: WorkItem, error: str) -> None:
        """Out of attempts: the call is reported failed, in words, and its code erased."""
        leg = self.legs.get(item.subject)
        if leg is None or leg.ended:
            return
        if leg.status == QUEUED:
            # Plivo's own words when it was Plivo (unreachable, limiting us), else ours.
            self.lifecycle.finish(leg, Outcome.FAILED, OUR_ERROR if error == OUR_SIDE else error)
        elif leg.status == DIALLING and leg.confirm_by is None:
            self.lifecycle.unconfirmed(leg, RING_TIMEOUT)


def retry_wait(since: datetime | None, now: datetime) -> float:
    """Seconds before the next create-call of a call Plivo has failed since `since`: as long as the
    failures have lasted (so the waits double), at least a second, at most RETRY_WAIT_MAX. Pure."""
    lasted = (now - since).total_seconds() if since is not None else 0.0
    return min(RETRY_WAIT_MAX, max(1.0, lasted))


def gave_up(error: PlivoError, leg: Leg, now: datetime) -> str:
    """Why a call Plivo kept failing was given up, for the channel. Pure."""
    if leg.retrying_since is None:
        return str(error)  # its first attempt came too late to try again
    seconds = int((now - leg.retrying_since).total_seconds())
    lasted = f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"
    too_late = _TOO_LATE.get(leg.purpose, "the call was no longer worth placing")
    return f"{error.problem}; tried again for {lasted}, until {too_late}. No call was placed."


def _waited_for(leg: Leg | None) -> bool:
    """Whether a person waits for this call (a code, a test call, the voice bridge), not one of an alert's."""
    return leg is None or leg.purpose != ALERT
