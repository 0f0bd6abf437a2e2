"""The lifecycle of a call: open, dial, ring, answer, hang up, expire.

Each step changes the store once and tells `notify` about the change, so the
Slack side can report it without this package knowing Slack exists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from voice.clock import utcnow
from voice.models import Answer, CallRecord, HangupReport, Requester, token_for_log
from voice.numbers import PhoneNumber
from voice.outcomes import Outcome, classify_hangup
from voice.plivo import OutboundCall, PlivoClient, PlivoError
from voice.policy import DestinationPolicy, refusal_for
from voice.store import Store

log = logging.getLogger(__name__)

#: A call with no final callback after this long is closed, and its code erased.
STALE_AFTER = timedelta(minutes=30)


class CallRefused(ValueError):
    """The destination may not be called; the message says why, for a person."""


@dataclass(frozen=True)
class CallUrls:
    answer: str
    hangup: str
    ring: str


def callback_urls(public_url: str, token: str) -> CallUrls:
    """The URLs Plivo calls back for one call: they carry only the token."""
    base = public_url.rstrip("/")
    return CallUrls(
        answer=f"{base}/plivo/answer/{token}",
        hangup=f"{base}/plivo/hangup/{token}",
        ring=f"{base}/plivo/ring/{token}",
    )


class CallService:
    def __init__(
        self,
        store: Store,
        plivo: PlivoClient,
        *,
        public_url: str,
        from_number: str,
        policy: DestinationPolicy | None = None,
        notify: Callable[[CallRecord], None] = lambda call: None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.plivo = plivo
        self.public_url = public_url
        self.from_number = from_number
        self.policy = policy or DestinationPolicy(allowed_countries=None, own_number=from_number)
        self.notify = notify
        self.clock = clock

    def get(self, token: str) -> CallRecord | None:
        return self.store.get(token)

    def refusal_for(self, to: PhoneNumber) -> str | None:
        """Why `to` may not be called (country, number type, our own number); None if it may."""
        return refusal_for(to, self.policy)

    def open_otp_call(
        self, to: PhoneNumber, code: str, requester: Requester, request_id: str | None = None
    ) -> CallRecord | None:
        """Store a call that will read `code`; None if `request_id` was seen before.

        Raises CallRefused for a destination the policy forbids.
        """
        refusal = self.refusal_for(to)
        if refusal:
            raise CallRefused(refusal)
        return self.store.add_call(
            token=secrets.token_urlsafe(24),
            kind="otp",
            to_number=to.e164,
            requester=requester,
            code=code,
            request_id=request_id,
            now=self.clock(),
        )

    def attach_message(self, token: str, via: str, channel: str | None = None, ts: str | None = None) -> None:
        self.store.attach_message(token, via, channel, ts)

    def dial(self, call: CallRecord) -> None:
        """Ask Plivo to place the call; a refusal ends it as failed."""
        urls = callback_urls(self.public_url, call.token)
        try:
            request_uuid = self.plivo.create_call(
                OutboundCall(
                    from_number=self.from_number,
                    to_number=call.to_number,
                    answer_url=urls.answer,
                    hangup_url=urls.hangup,
                    ring_url=urls.ring,
                )
            )
        except PlivoError as error:
            # Even when the call may have gone out (a timeout), we end it and
            # erase the code: the answer URL then reads nothing to anyone.
            self._finish(call.token, Outcome.FAILED, cause=str(error))
            return
        self.store.mark_dialled(call.token, request_uuid)
        log.info("call %s placed: request %s", token_for_log(call.token), request_uuid)

    def ringing(self, token: str, call_uuid: str) -> None:
        record = self.store.mark_ringing(token, call_uuid)
        if record:
            self.notify(record)

    def answer(self, token: str, call_uuid: str) -> Answer | None:
        """The call's script data for Plivo's answer request; None for an unknown or ended call."""
        answer = self.store.claim_answer(token, call_uuid, self.clock())
        if answer and answer.first:
            log.info("call %s answered", token_for_log(token))
            self.notify(answer.call)
        return answer

    def hangup(self, token: str, report: HangupReport) -> CallRecord | None:
        """Record how a call ended, once; the record if this report ended it."""
        current = self.store.get(token)
        if current is None or current.ended:
            return None
        ending = classify_hangup(
            report.call_status,
            report.cause_code,
            report.cause_name,
            answered=current.answered_at is not None,
        )
        duration = report.duration if ending.outcome is Outcome.ANSWERED else None
        return self._finish(token, ending.outcome, ending.cause, duration, report.call_uuid)

    def abandon(self, token: str, cause: str) -> None:
        """End a call that cannot go on (an error on our side), erasing its code."""
        self._finish(token, Outcome.FAILED, cause=cause)

    def expire_stale(self, max_age: timedelta = STALE_AFTER) -> int:
        """Close calls that never got a final callback; how many were closed."""
        closed = 0
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
    ) -> CallRecord | None:
        record = self.store.finish(
            token, outcome=outcome, cause=cause, duration=duration, call_uuid=call_uuid, now=self.clock()
        )
        if record:
            log.info("call %s ended: %s", token_for_log(token), outcome.value)
            self.notify(record)
        return record
