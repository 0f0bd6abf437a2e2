"""The values that flow between the layers: a call (leg), who asked for it, how Plivo reported it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from voice.calls.outcomes import Outcome

# A leg's status only moves forward through these, in this order.
QUEUED = "queued"  # stored; its create-call is waiting in the work queue
DIALLING = "dialling"  # the create-call went to Plivo; no reply yet (or none came: see confirm_by)
CALLING = "calling"  # Plivo accepted the request
RINGING = "ringing"
ANSWERED = "answered"  # the script was served
ENDED = "ended"  # final; `outcome` says how
STATUSES = (QUEUED, DIALLING, CALLING, RINGING, ANSWERED, ENDED)

# What a leg is for.
OTP = "otp"  # reads a voice code
ALERT = "alert"  # one call of an alert
BRIDGE = "bridge"  # a call into an alert's voice bridge: its requester, or someone who joined from Slack
TEST = "test"  # the App Home's test call to someone's own profile number


def before(status: str) -> tuple[str, ...]:
    """The statuses a leg can move on from to reach `status`."""
    return STATUSES[: STATUSES.index(status)]


#: Slack honours a response_url 5 times within 30 minutes
#: (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses); after that it is erased.
REPLY_URL_USES = 5
REPLY_URL_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Requester:
    """Who asked for a call, and where to report on it."""

    user_id: str
    channel_id: str
    team_id: str = ""
    #: A per-command webhook (Slack's response_url) for when the channel
    #: cannot be posted to; valid for a limited time, then erased (None).
    reply_url: str | None = None


@dataclass(frozen=True)
class Leg:
    """One phone call as stored: a voice code's, or one of an alert's. It never holds a code in clear."""

    id: int
    token: str  # opaque, unguessable; the only thing in callback URLs
    purpose: str  # OTP or ALERT
    to_number: str  # E.164
    status: str
    created_at: datetime
    # A voice code's call.
    requester: Requester | None = None
    request_id: str | None = None
    code_id: str | None = None
    code_length: int = 0
    language: str | None = None  # a `lang=` tag the requester asked for
    code_read_at: datetime | None = None
    message_via: str | None = None  # "chat" or "reply_url": how the status message was posted
    message_channel: str | None = None
    message_ts: str | None = None
    reply_uses: int = 0
    message_digest: str | None = None  # what the status message last showed
    # An alert's call.
    alert_id: int | None = None
    position: int | None = None  # the alert's position when it was placed: round * stages + stage
    target: int | None = None  # index into AlertRecord.targets
    stop_requested: bool = False  # the alert was taken or cancelled while this call was live
    silences: int = 0  # menus in a row that got no key
    attempt: int = 0  # 1 for the second ring of a busy or unanswered call
    passed_at: datetime | None = None  # the callee pressed 3: passed on to the next link
    bridge_joined_at: datetime | None = None  # entered the alert's voice bridge (a conference)
    bridge_left_at: datetime | None = None
    bridge_member: str | None = None  # its ConferenceMemberID in the bridge
    confirmed_at: datetime | None = None  # a test call: the callee pressed 1
    # Plivo's side.
    permanent: bool = False  # failed in a way a retry cannot fix (Plivo refused the request)
    request_uuid: str | None = None  # Plivo's, from the create-call reply
    call_uuid: str | None = None  # Plivo's, from the first callback: it binds the leg
    dialled_at: datetime | None = None
    confirm_by: datetime | None = None  # Plivo did not confirm the create-call: it may ring until then
    #: Plivo failed its create-calls since then (a 5xx, no connection, a 429): still being tried.
    retrying_since: datetime | None = None
    answered_at: datetime | None = None
    machine_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    cause: str | None = None  # words, for a failure
    duration: int | None = None  # seconds, once answered and ended
    cost: str | None = None  # USD, as Plivo reports it ("0.00850")

    @property
    def ended(self) -> bool:
        return self.status == ENDED

    @property
    def machine(self) -> bool:
        """Plivo's machine detection heard an answering machine."""
        return self.machine_at is not None

    @property
    def kind(self) -> str:
        return self.purpose

    @property
    def retrying(self) -> bool:
        """Not placed yet because Plivo failed its create-calls: it is being tried again."""
        return self.retrying_since is not None and self.status in (QUEUED, DIALLING) and self.confirm_by is None

    @property
    def unconfirmed(self) -> bool:
        """Plivo never confirmed the create-call, and nothing has come back from the call yet."""
        return self.confirm_by is not None and self.status == DIALLING


@dataclass(frozen=True)
class HangupReport:
    """The fields of Plivo's hangup callback that we use."""

    call_uuid: str
    call_status: str
    cause_code: int | None = None
    cause_name: str | None = None
    duration: int | None = None
    total_cost: str | None = None  # Plivo's TotalCost, when it sends it
