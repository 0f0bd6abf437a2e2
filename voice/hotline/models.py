"""The values of the hotline: a hotline as ROUTING_FILE defines it, one inbound call as stored, and what
the caller is to hear when their call comes in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# An inbound call's status.
WAITING = "waiting"  # in the waiting room; the recipients are being phoned
CONNECTED = "connected"  # someone took it: they are talking (or about to)
VOICEMAIL = "voicemail"  # nobody took it (or the caller is over their limit): leaving a message
ENDED = "ended"  # the call is over
REFUSED = "refused"  # a blocked number, hung up on after a sentence

# Why a caller went to voicemail.
NOBODY = "nobody"  # the chain ended, or HOTLINE_WAIT passed
OVER_LIMIT = "over_limit"  # HOTLINE_LIMIT_CALLER_HOUR

#: The work a hotline call calls for; subject: the inbound call's id.
WAIT_OVER = "hotline.wait_over"  # HOTLINE_WAIT after the call came in: to voicemail if nobody took it
TO_VOICEMAIL = "hotline.voicemail"  # move the caller out of the waiting room (Plivo's transfer)
REPORT_HOTLINE = "report.hotline"  # the call's message in Slack, brought up to date
REPORT_TRANSCRIPT = "report.hotline_transcript"  # the voicemail's transcript, as a reply in its thread
#: Someone clicked Call back: their profile number is looked up (the Slack side), then they are phoned.
CALL_BACK = "hotline.call_back"  # subject: "<call id>:<user id>"; payload {reply_url, team}


@dataclass(frozen=True)
class HotlineDef:
    number: str  # E.164: the Plivo number callers dial
    name: str  # said and shown: "Backend on call"
    stages: tuple  # tuple[tuple[RecipientRef, ...], ...] (voice.routing.models)
    channel: str  # where its calls are shown
    lang: str | None = None  # the greeting's language (and its call-outs'); None: the number's country
    greeting: str | None = None  # said first; None: "You have reached <name>."
    team_id: str = ""


@dataclass(frozen=True)
class InboundCall:
    id: int
    token: str  # opaque: the only thing in the URLs of this call's webhooks
    call_uuid: str
    hotline: str  # its number (E.164)
    name: str  # the hotline's name when the call came in
    caller: str | None  # E.164; None for a withheld number
    status: str
    room: str  # the waiting room's conference name
    created_at: datetime
    channel: str | None = None
    team_id: str = ""
    alert_id: int | None = None  # the call-outs
    voicemail_reason: str | None = None
    taker: str | None = None  # the Slack user (or number) who took it
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    recording_url: str | None = None
    recording_seconds: int | None = None
    transcript: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    message_digest: str | None = None
    callback_by: str | None = None  # who clicked Call back last (its callbacks: voice/hotline/callbacks.py)
