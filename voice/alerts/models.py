"""The values of an alert: who to call in which order, and who took it. Its calls are voice.calls.models.Leg."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from voice.calls.models import Leg, Requester

# An alert's status. ACTIVE moves to exactly one of the others, by one
# conditional UPDATE, so the first acknowledgement wins everywhere.
RESOLVING = "resolving"  # stored; its recipients are being looked up in Slack
DROPPED = "dropped"  # nobody it named could be called: no call, no message in the channel
ACTIVE = "active"  # calls are being placed or retried
ACKNOWLEDGED = "acknowledged"  # someone took it, by phone or in Slack
CANCELLED = "cancelled"  # someone stopped it in Slack
EXHAUSTED = "exhausted"  # every round ended and nobody acknowledged; still acknowledgeable in Slack
# Only incidents from monitoring (voice/incidents):
POSTED = "posted"  # its severity does not phone: shown in Slack, no call
HELD = "held"  # an alert storm: no call and no message of its own; the storm's one line lists it
RESOLVED = "resolved"  # the source resolved it before anyone acknowledged: every call was stopped

VIA_PHONE = "phone"
VIA_SLACK = "slack"
VIA_SOURCE = "source"  # acknowledged by the monitoring source (PagerDuty's or Opsgenie's acknowledge)

#: The work that brings an alert's Slack message up to date; subject: the alert's id.
REPORT_ALERT = "report.alert"


@dataclass(frozen=True)
class Target:
    """One phone to ring, and where it stands in the escalation chain."""

    number: str  # E.164
    stage: int  # 0 is called first; stage n+1 only when nobody at stage n acknowledged
    user_id: str | None = None  # the Slack user whose profile gave the number
    name: str | None = None  # how to say who they are ("Alice Smith"); None for a bare number
    #: The language their call speaks: `lang=`, else their Slack locale ("es-ES"); None: their number's country.
    language: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A recipient not called, and why, for the requester."""

    label: str  # as Slack shows it: "<@U123>", "+1 415-555-0100", "<!subteam^S1>"
    reason: str


@dataclass(frozen=True)
class Awaited:
    """A recipient (a Slack user or group) still being looked up, while the alert's numbers are called."""

    label: str  # as Slack shows it: "<@U123>", "<!subteam^S1>"
    stage: int  # the link of the chain it was typed in


@dataclass(frozen=True)
class RequesterPhone:
    """Whoever raised the alert, as the voice bridge would call them: their profile's number, or why not."""

    number: str | None = None  # E.164
    problem: str | None = None  # e.g. "has no phone number in their Slack profile"
    locale: str | None = None  # their Slack language, which the bridge's call speaks


@dataclass(frozen=True)
class NewAlert:
    """What the Slack side asks for, once the recipients are numbers."""

    requester: Requester
    sender_name: str  # spoken: "This is an alert from <sender_name>"
    channel_name: str | None  # spoken; None where Slack gives no name (DMs, private channels)
    message: str  # plain text, 1 to 1000 characters, spoken verbatim
    targets: tuple[Target, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Incident:
    """What a monitoring source said about an alert it raised (voice/incidents), for Slack to show."""

    integration: str
    source: str  # voice.intake.models.SOURCES
    key: str  # the source's dedup key, as given
    severity: str | None = None
    details: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (url, text)
    sender_ref: str | None = None
    fired_at: datetime | None = None  # when the source says it began
    fire_count: int = 1
    last_fired_at: datetime | None = None
    closed_at: datetime | None = None  # the source resolved it
    closed_source: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class AlertRecord:
    id: int
    requester: Requester
    sender_name: str
    channel_name: str | None
    message: str
    targets: tuple[Target, ...]
    skipped: tuple[Skipped, ...]
    rounds: int  # 1 + ALERT_RETRIES when the alert was raised
    retry_delay: int  # seconds, ALERT_RETRY_DELAY when the alert was raised
    position: int  # -1 before the first call; then round * stages + stage
    status: str
    created_at: datetime
    request_id: str | None = None
    next_at: datetime | None = None  # when the next round starts, while one is pending
    resolved_at: datetime | None = None
    resolved_via: str | None = None  # VIA_PHONE or VIA_SLACK
    resolved_by: str | None = None  # Slack user ID of who took or cancelled it, if known
    resolved_name: str | None = None  # their name, for speech
    resolved_number: str | None = None  # the number that acknowledged, by phone
    resolved_leg: int | None = None  # the leg that acknowledged
    message_via: str | None = None  # "chat" or "reply_url", as for calls
    message_channel: str | None = None
    message_ts: str | None = None
    reply_uses: int = 0  # uses of the requester's response_url so far
    message_digest: str | None = None  # what the message last showed
    redial_delay: int = 0  # seconds, ALERT_REDIAL_DELAY when the alert was raised (0: no second ring)
    requester_number: str | None = None  # the requester's profile number, for the voice bridge
    requester_problem: str | None = None  # why it cannot be called, when it cannot
    requester_locale: str | None = None
    bridge_room: str | None = None  # the Plivo conference, once the acknowledger pressed 9
    bridge_started_at: datetime | None = None
    bridge_ended_at: datetime | None = None
    source_link: str | None = None  # the Slack message it was raised about
    #: Its chain's links as typed, when its numbers were called before Slack could look its people up.
    links: int | None = None
    #: Its people still being looked up in Slack (their links wait for them); their targets come later.
    awaiting: tuple[Awaited, ...] = ()
    #: Raised by monitoring through an integration; None for a person's alert.
    incident: Incident | None = None
    #: The hotline call (voice/hotline) these calls are for: its caller waits in `bridge_room` (its call-outs), or
    #: is phoned into it (a callback, taken by whoever clicked Call back); None otherwise.
    hotline_call: int | None = None

    def target_of(self, leg: Leg) -> Target | None:
        """The target a call of this alert rings (None for a call into the voice bridge)."""
        if leg.target is None or not 0 <= leg.target < len(self.targets):
            return None
        return self.targets[leg.target]

    @property
    def bridge_open(self) -> bool:
        return self.bridge_room is not None and self.bridge_ended_at is None

    @property
    def stages(self) -> int:
        return self.links or max((target.stage for target in self.targets), default=0) + 1

    @property
    def awaited_stages(self) -> frozenset[int]:
        """The links whose people are still being looked up in Slack."""
        return frozenset(awaited.stage for awaited in self.awaiting)

    @property
    def requester_unknown(self) -> bool:
        """Whoever raised it is a Slack user whose profile number has not been read yet."""
        return bool(self.requester.user_id) and self.requester_number is None and self.requester_problem is None

    @property
    def round(self) -> int:
        """0-based round of the current position (0 before any call)."""
        return max(self.position, 0) // self.stages

    @property
    def positions(self) -> int:
        return self.rounds * self.stages

    @property
    def open(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class AlertView:
    """An alert with its calls: everything the Slack message shows."""

    alert: AlertRecord
    legs: tuple[Leg, ...] = field(default_factory=tuple)
