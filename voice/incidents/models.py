"""The values of incidents from monitoring: an integration as stored, and what one event did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voice.routing.models import RecipientRef

#: Where an integration is defined.
FILE = "file"
SLACK = "slack"

#: What an event did, as a sender's answer and the log say it.
OPENED = "opened"  # a new incident
FIRED_AGAIN = "fired again"  # counted against the open incident: nobody is phoned again
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
UPDATED = "updated"
REPEATED = "repeated"  # the same request delivered again (a sender's retry): nothing changed
NOT_OPEN = "no open incident"  # an acknowledge, resolve or update of a key with no open incident


@dataclass(frozen=True)
class Integration:
    id: int
    name: str
    team_id: str  # the Slack workspace its channel is in ("": the one the app is installed in)
    channel_id: str
    call: str  # whom it phones, as written
    stages: tuple[tuple[RecipientRef, ...], ...]
    lang: str | None
    phone: tuple[str, ...] | None  # the severities that phone; None: the default
    token_sha256: str
    defined_in: str  # FILE or SLACK
    created_at: datetime
    created_by: str | None = None
    last_alert_at: datetime | None = None


@dataclass(frozen=True)
class Received:
    """What one event did to its incident."""

    outcome: str  # OPENED, FIRED_AGAIN, …
    key: str  # the incident's dedup key (PagerDuty's answer returns it)
    incident: int | None = None  # the alert's id
    phoned: bool = False  # it opened an incident that phones now
    held: bool = False  # it opened an incident that a storm holds (no call, listed in the storm's line)


@dataclass(frozen=True)
class StormItem:
    incident: int
    summary: str
    severity: str | None
    fired_at: datetime
    resolved: bool


@dataclass(frozen=True)
class Storm:
    """An integration's incidents held since it last phoned: its one line in the channel."""

    integration: Integration
    started_at: datetime
    count: int
    phones_again_at: datetime  # when the next incident may phone
    interval: int  # INTEGRATION_CALL_INTERVAL, seconds
    latest: tuple[StormItem, ...]  # the most recent few, newest first
    channel: str | None = None  # where its line was posted, once it was
    ts: str | None = None
    digest: str | None = None
