"""The lifecycle of a call: dial, ring, answer, key press, machine, hang up, expire.

Each step changes the store once and tells `notify` about the change, so the
Slack side can report it without this package knowing Slack exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import phonenumbers

from voice.binding import is_foreign
from voice.clock import utcnow
from voice.languages import Speech, choose_speech
from voice.models import Answer, CallRecord, HangupReport, token_for_log
from voice.numbers import PhoneNumber
from voice.outcomes import Outcome, classify_hangup
from voice.plivo import OutboundCall, PlivoClient, PlivoError
from voice.policy import DestinationPolicy, refusal_for
from voice.sealing import SecretBox
from voice.store import Claimed, Store

log = logging.getLogger(__name__)

#: A call with no final callback after this long is closed, and its code erased.
STALE_AFTER = timedelta(minutes=30)
#: After a create-call Plivo did not confirm, how long past its ring timeout the
#: call may still ring (Plivo queues calls beyond the account's CPS).
UNCONFIRMED_GRACE = timedelta(seconds=60)
#: What Slack says of such a call, and of one that never rang.
NOT_CONFIRMED = "Plivo did not confirm the call; it may still ring"
NEVER_RANG = "Plivo did not confirm the call, and it never rang"

#: The digit that repeats the code once it has been read.
DIGIT_REPEAT = "1"


@dataclass(frozen=True)
class CallUrls:
    answer: str
    hangup: str
    ring: str
    key: str  # GetDigits action
    machine: str  # asynchronous machine detection


def callback_urls(public_url: str, token: str) -> CallUrls:
    """The URLs Plivo calls back for one call: they carry only the token."""
    base = public_url.rstrip("/")
    return CallUrls(
        answer=f"{base}/plivo/answer/{token}",
        hangup=f"{base}/plivo/hangup/{token}",
        ring=f"{base}/plivo/ring/{token}",
        key=f"{base}/plivo/key/{token}",
        machine=f"{base}/plivo/machine/{token}",
    )


@dataclass(frozen=True)
class CallConfig:
    public_url: str
    from_number: str
    policy: DestinationPolicy
    #: Seals codes at rest with a key that is not in the database.
    box: SecretBox
    voice: str = "WOMAN"
    #: The code is read only after a key press, and never to a machine.
    voicemail_guard: bool = True


class CallService:
    def __init__(
        self,
        store: Store,
        plivo: PlivoClient,
        config: CallConfig,
        *,
        notify: Callable[[CallRecord], None] = lambda call: None,
        defer: Callable[[Callable[[], None]], None] = lambda work: work(),
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.plivo = plivo
        self.config = config
        self.notify = notify
        self.defer = defer  # runs slow follow-up work (a cost lookup) off the request path
        self.clock = clock

    def get(self, token: str) -> CallRecord | None:
        return self.store.get(token)

    def refusal_for(self, to: PhoneNumber) -> str | None:
        """Why `to` may not be called (country, number type, our own number); None if it may."""
        return refusal_for(to, self.config.policy)

    def urls(self, token: str) -> CallUrls:
        return callback_urls(self.config.public_url, token)

    def speech_for(self, call: CallRecord | None) -> Speech:
        """The language and voice of a call: its `lang=`, else its number's country."""
        region = None
        if call is not None:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(call.to_number, None))
        return choose_speech(region, call.language if call else None, self.config.voice)

    def seal(self, code: str, token: str) -> str:
        """The code as the call's row keeps it: sealed, bound to this call."""
        return self.config.box.seal(code, token)

    def _opened(self, claimed: Claimed | None) -> Answer | None:
        if claimed is None:
            return None
        code = self.config.box.open(claimed.sealed_code, claimed.call.token)
        if code is None:
            # Sealed under another OTP_HASH_KEY (a rotated key): this call cannot read it.
            log.warning("call %s: its code cannot be opened with this OTP_HASH_KEY", token_for_log(claimed.call.token))
            return None
        return Answer(call=claimed.call, code=code, first=claimed.first)

    def attach_message(self, token: str, via: str, channel: str | None = None, ts: str | None = None,
                       reply_uses: int = 0) -> None:
        self.store.attach_message(token, via, channel, ts, reply_uses)

    def spend_reply_use(self, token: str, limit: int) -> bool:
        return self.store.spend_reply_use(token, limit)

    def dial(self, call: CallRecord) -> None:
        """Ask Plivo to place the call; a refusal ends it as failed."""
        urls = self.urls(call.token)
        outbound = OutboundCall(
            from_number=self.config.from_number,
            to_number=call.to_number,
            answer_url=urls.answer,
            hangup_url=urls.hangup,
            ring_url=urls.ring,
            machine_detection_url=urls.machine if self.config.voicemail_guard else None,
            machine_detection="hangup",
        )
        try:
            request_uuid = self.plivo.create_call(outbound)
        except PlivoError as error:
            if error.placed_unknown:
                # The request reached Plivo and no answer came back: the phone may
                # ring. The call stays answerable, and its callbacks tell the truth.
                confirm_by = self.clock() + timedelta(seconds=outbound.ring_timeout) + UNCONFIRMED_GRACE
                record = self.store.mark_unconfirmed(call.token, confirm_by)
                log.warning("call %s: Plivo did not confirm the create-call; it may still ring",
                            token_for_log(call.token))
                if record:
                    self.notify(record)
                return
            self._finish(call.token, Outcome.FAILED, cause=str(error))
            return
        self.store.mark_dialled(call.token, request_uuid)
        log.info("call %s placed: request %s", token_for_log(call.token), request_uuid)

    def ringing(self, token: str, call_uuid: str) -> None:
        if self._foreign(token, call_uuid, "ring"):
            return
        record = self.store.mark_ringing(token, call_uuid)
        if record:
            self.notify(record)

    def _foreign(self, token: str, call_uuid: str, event: str) -> bool:
        """Whether the event is about another Plivo call than the one this call is bound to."""
        call = self.store.get(token)
        return call is not None and is_foreign(token, call.call_uuid, call_uuid, event)

    def answer(self, token: str, call_uuid: str) -> Answer | None:
        """The call's code for Plivo's answer request; None for an unknown or ended call."""
        if self._foreign(token, call_uuid, "answer"):
            return None
        answer = self._opened(self.store.claim_answer(token, call_uuid, self.clock()))
        if answer and answer.first:
            log.info("call %s answered", token_for_log(token))
            if not self.config.voicemail_guard:
                self.store.serve_code(token, call_uuid, self.clock())
            self.notify(self.store.get(token) or answer.call)
        return answer

    def key_pressed(self, token: str, call_uuid: str, digits: str) -> Answer | None:
        """The code to read after a key press, or None (hang up politely).

        Before the code is read any key opens it (the voicemail guard); after,
        only DIGIT_REPEAT reads it again.
        """
        call = self.store.get(token)
        if call is None or call.ended or not digits or is_foreign(token, call.call_uuid, call_uuid, "key press"):
            return None
        if call.code_read_at is not None and digits != DIGIT_REPEAT:
            return None
        answer = self._opened(self.store.serve_code(token, call_uuid, self.clock()))
        if answer and call.code_read_at is None:
            self.notify(answer.call)
        return answer

    def machine_detected(self, token: str, call_uuid: str) -> None:
        """Plivo heard an answering machine: the code is erased and never read."""
        if self._foreign(token, call_uuid, "machine detection"):
            return
        record = self.store.mark_machine(token, call_uuid, self.clock())
        if record:
            log.info("call %s reached an answering machine", token_for_log(token))
            self.notify(record)

    def hangup(self, token: str, report: HangupReport) -> CallRecord | None:
        """Record how a call ended, once; the record if this report ended it."""
        current = self.store.get(token)
        if current is None or current.ended or is_foreign(token, current.call_uuid, report.call_uuid, "hangup"):
            return None
        ending = classify_hangup(
            report.call_status,
            report.cause_code,
            report.cause_name,
            answered=current.answered_at is not None,
        )
        outcome = ending.outcome
        if current.machine_at is not None and current.code_read_at is None:
            outcome = Outcome.VOICEMAIL
        duration = report.duration if outcome in (Outcome.ANSWERED, Outcome.VOICEMAIL) else None
        record = self._finish(token, outcome, ending.cause, duration, report.call_uuid, report.total_cost)
        if record and record.cost is None and duration and record.call_uuid:
            self.defer(lambda: self.look_up_cost(token))
        return record

    def look_up_cost(self, token: str) -> None:
        """Fetch the cost from Plivo's call record when the hangup callback had none."""
        call = self.store.get(token)
        if call is None or not call.call_uuid or call.cost is not None:
            return
        try:
            cost = self.plivo.call_cost(call.call_uuid)
        except PlivoError as error:
            log.info("no cost for call %s: %s", token_for_log(token), error)
            return
        if cost is not None:
            record = self.store.set_cost(token, cost)
            if record:
                self.notify(record)

    def abandon(self, token: str, cause: str) -> None:
        """End a call that cannot go on (an error on our side), erasing its code."""
        self._finish(token, Outcome.FAILED, cause=cause)

    def expire_unconfirmed(self) -> int:
        """End the calls Plivo never confirmed and never called back about, once their time to ring is over."""
        closed = 0
        for call in self.store.unconfirmed_before(self.clock()):
            if self._finish(call.token, Outcome.FAILED, cause=NEVER_RANG + "."):
                closed += 1
        return closed

    def expire_stale(self, max_age: timedelta = STALE_AFTER) -> int:
        """Close calls that never got a final callback; how many were closed."""
        closed = self.expire_unconfirmed()
        for call in self.store.unfinished_before(self.clock() - max_age):
            if self._finish(call.token, Outcome.FAILED, cause="no final report came back from Plivo"):
                closed += 1
        return closed

    def _finish(
        self,
        token: str,
        outcome: Outcome,
        cause: str | None = None,
        duration: int | None = None,
        call_uuid: str | None = None,
        cost: str | None = None,
    ) -> CallRecord | None:
        record = self.store.finish(
            token, outcome=outcome, cause=cause, duration=duration, call_uuid=call_uuid, now=self.clock(), cost=cost
        )
        if record:
            log.info("call %s ended: %s", token_for_log(token), outcome.value)
            self.notify(record)
        return record

