"""The work that talks to Plivo's REST API for a call: place it, stop it, read its cost, and its timers.

Placing follows one rule above all: a create-call that may have reached
Plivo is never sent again. The leg is marked `dialling` (committed) before
the request goes, so a worker that dies mid-request leaves a leg that the
next worker recognises: it does not dial, it waits for the call's callbacks
as for a request Plivo did not confirm. Calls are paced by the account-wide
PLIVO_CPS limiter (voice/ratelimit.py) and overlap: one slow reply holds up
nobody else's call. A call whose slot is far off goes back to the queue
booked for it (work.Deferred), so a worker that dies holds no call hostage
behind its lease; and the create-calls are spaced once more as they go, so
a late one cannot bunch up with the next.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from voice.bridge import TIME_LIMIT as BRIDGE_TIME_LIMIT
from voice.db import transaction
from voice.legs import LegStore
from voice.lifecycle import (
    COST,
    PLACE,
    RING_TIMEOUT,
    STALE,
    STOP,
    UNCONFIRMED,
    CallLifecycle,
)
from voice.models import (
    ALERT,
    ANSWERED,
    BRIDGE,
    DIALLING,
    OTP,
    QUEUED,
    TEST,
    Leg,
    token_for_log,
)
from voice.outcomes import Outcome
from voice.plivo import OutboundCall, PlivoClient, PlivoError
from voice.ratelimit import SLOT_TOLERANCE, SlotLimiter
from voice.work import Deferred, RetryLater, WorkItem
from voice.workers import OUR_SIDE, Policy, Registry

log = logging.getLogger(__name__)

#: Hard caps on an answered call's length, so a stuck call cannot run up a bill: a code is read twice
#: in well under a minute; a 1000-character alert takes ~70 s, plus menus (its script ends itself:
#: three silent menus, a machine's one message); but an alert's acknowledger may go on into the voice
#: bridge, a conversation of up to an hour (voice/bridge.py), and Plivo's cap is set when the call is.
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


#: Where a deferred call's booked slot is kept in its work item's payload.
SLOT = "cps_slot"


def _booked_slot(item: WorkItem) -> float | None:
    slot = (item.payload or {}).get(SLOT)
    return float(slot) if isinstance(slot, (int, float)) else None


@dataclass(frozen=True)
class DialConfig:
    public_url: str
    from_number: str
    #: Voice codes: a key press before the code, and Plivo hangs up on a machine.
    voicemail_guard: bool = True


class Dialler:
    def __init__(self, legs: LegStore, lifecycle: CallLifecycle, plivo: PlivoClient, limiter: SlotLimiter,
                 config: DialConfig, sends: SlotLimiter | None = None):
        self.legs = legs
        self.lifecycle = lifecycle
        self.plivo = plivo
        #: Slots in the order calls were asked for: when each call's turn comes.
        self.limiter = limiter
        #: The create-calls themselves, spaced again at the moment they go: a call that went late
        #: (a slow write, a busy machine) pushes the next one back instead of bunching up with it.
        self.sends = sends
        self.config = config
        self._slots: dict[int, float] = {}  # item id → its PLIVO_CPS slot, reserved in claim order
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
        """The call's PLIVO_CPS slot, taken as its item is claimed: calls go in the order they were
        asked for. An item that comes back booked for a slot still good keeps it."""
        booked = _booked_slot(item)
        slot = booked if booked is not None and booked >= self.limiter.now() - SLOT_TOLERANCE else self.limiter.reserve()
        with self._lock:
            self._slots[item.id] = slot

    def place(self, item: WorkItem) -> None:
        with self._lock:
            slot = self._slots.pop(item.id, None)
        leg = self.legs.get(item.subject)
        if leg is None or not self._still_to_dial(leg):
            return
        if slot is None:
            slot = self.limiter.reserve()
        if slot - self.limiter.now() > HOLD_FOR_SLOT:
            raise Deferred("waiting for its PLIVO_CPS slot", until=slot - HOLD_FOR_SLOT / 2,
                           payload=(item.payload or {}) | {SLOT: slot})
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
            # Certainly not placed (no connection, or Plivo's 429): the next attempt may dial it.
            self.lifecycle.apply(leg, lambda conn: self.legs.undial(conn, leg.token))
            raise RetryLater(str(error), after=1.0 if error.status == 429 else None)
        self.lifecycle.finish(leg, Outcome.FAILED, str(error), permanent=error.permanent)

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

