"""The values that flow between the layers: a call, who asked for it, its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voice.outcomes import Outcome

# A call's status only moves forward through these, in this order.
QUEUED = "queued"  # stored; Plivo not asked yet
CALLING = "calling"  # Plivo accepted the request
RINGING = "ringing"
ANSWERED = "answered"  # the script was served
ENDED = "ended"  # final; `outcome` says how
STATUSES = (QUEUED, CALLING, RINGING, ANSWERED, ENDED)


def token_for_log(token: str) -> str:
    """Enough of a call's token to follow it through the log, not enough to use it."""
    return token[:6]


@dataclass(frozen=True)
class Requester:
    """Who asked for a call, and where to report on it."""

    user_id: str
    channel_id: str
    team_id: str = ""
    #: A per-command webhook (Slack's response_url) for when the channel
    #: cannot be posted to; valid for a limited time.
    reply_url: str | None = None


@dataclass(frozen=True)
class CallRecord:
    """One call as stored. It never holds the OTP code: see Store.secret."""

    token: str  # opaque, unguessable; the only thing in callback URLs
    kind: str  # "otp"
    to_number: str  # E.164
    requester: Requester
    status: str
    created_at: datetime
    code_length: int = 0
    request_id: str | None = None  # dedupes a command delivered twice
    message_via: str | None = None  # "chat" or "reply_url": how the status message was posted
    message_channel: str | None = None
    message_ts: str | None = None
    reply_uses: int = 0  # uses of the requester's response_url so far
    request_uuid: str | None = None  # Plivo's, from the create-call reply
    call_uuid: str | None = None  # Plivo's, from the first callback
    outcome: Outcome | None = None
    cause: str | None = None  # words, for a failure
    duration: int | None = None  # seconds, once answered and ended
    cost: str | None = None  # USD, as Plivo reports it ("0.00850")
    code_id: str | None = None  # the code this call reads (otp_codes.id)
    language: str | None = None  # a `lang=` tag the requester asked for
    answered_at: datetime | None = None
    code_read_at: datetime | None = None  # the code was spoken (after a key press)
    machine_at: datetime | None = None  # an answering machine was detected
    confirm_by: datetime | None = None  # Plivo did not confirm the create-call: it may ring until then
    ended_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status == ENDED


@dataclass(frozen=True)
class Answer:
    """What the answer URL needs to build the call script."""

    call: CallRecord
    code: str
    first: bool = True  # False when Plivo asks again for the same call


@dataclass(frozen=True)
class HangupReport:
    """The fields of Plivo's hangup callback that we use."""

    call_uuid: str
    call_status: str
    cause_code: int | None = None
    cause_name: str | None = None
    duration: int | None = None
    total_cost: str | None = None  # Plivo's TotalCost, when it sends it
