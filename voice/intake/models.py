"""The values intake hands on: an Event (what one request means), its Links, and Rejected (why a
request means nothing), which each sender's module renders in that sender's own error format."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

#: The senders, as Event.source names them.
SOURCES = ("alertmanager", "grafana", "generic", "opsgenie", "pagerduty")

#: Bounds on what an event carries, whatever the sender sent: the summary is said on the phone and
#: shown in Slack; the details are shown (GoAlert keeps the same 1 KiB / 6 KiB bounds).
SUMMARY_MAX = 1024
DETAILS_MAX_BYTES = 6 * 1024
#: A dedup key longer than this is refused, never cut: two keys cut to one would merge two incidents.
#: 255 is PagerDuty's own bound on dedup_key (https://developer.pagerduty.com/docs/send-alert-event);
#: Opsgenie allows 512 for an alias (https://docs.opsgenie.com/docs/alert-api#create-alert).
KEY_MAX = 512
LABELS_MAX = 8
LABEL_KEY_MAX = 64
LABEL_VALUE_MAX = 256
LINKS_MAX = 10
URL_MAX = 2048
LINK_TEXT_MAX = 256
SEVERITY_MAX = 32
SENDER_REF_MAX = 512


class Action(enum.Enum):
    #: Opens an incident, or is counted against the open one with the same key.
    TRIGGER = "trigger"
    #: Stops the incident's calls; later triggers of it phone nobody.
    ACKNOWLEDGE = "acknowledge"
    #: Ends the incident; a trigger after it opens a new one.
    RESOLVE = "resolve"
    #: Changes an open incident's words (Opsgenie's message and description updates, which Alertmanager's
    #: `update_alerts` sends): a non-empty summary or details replaces the incident's. Never phones.
    UPDATE = "update"


@dataclass(frozen=True)
class Link:
    url: str  # http or https only, at most URL_MAX characters
    text: str  # what to show for it; may be empty


@dataclass(frozen=True)
class Event:
    source: str  # one of SOURCES
    action: Action
    #: The incident this event belongs to, unique within one integration; at most KEY_MAX characters.
    key: str
    #: One line, printable (voice.speech.text), at most SUMMARY_MAX characters; empty only for ACKNOWLEDGE,
    #: RESOLVE and a description UPDATE.
    summary: str
    #: As the sender said it (e.g. "critical", "P2", "warning"), at most SEVERITY_MAX characters.
    severity: str | None
    #: Whether it phones when its integration has no `phone` list (severity.phones_by_default).
    phones_by_default: bool
    details: str = ""  # printable, lines kept, at most DETAILS_MAX_BYTES of UTF-8
    labels: tuple[tuple[str, str], ...] = ()  # a few (LABELS_MAX), for display
    links: tuple[Link, ...] = ()  # deduplicated, at most LINKS_MAX
    fired_at: datetime | None = None  # timezone-aware, when the sender says it began
    #: The sender's own identifier as it gave it (Alertmanager's fingerprints, an Opsgenie alias, a PagerDuty
    #: dedup_key), for display and for answering; None when the key was made up here.
    sender_ref: str | None = None


@dataclass(frozen=True)
class Problem:
    #: Where, as a path into the body ("payload.summary", "alerts[3].labels"); "" for the whole body.
    field: str
    #: What is wrong, never quoting the value (it may be a secret, or hostile): "is missing", "must be a string".
    message: str

    def line(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Rejected:
    """A request that cannot become an event, and never will (so a 4xx: senders do not retry those)."""

    status: int  # 400, or the imitated API's own (Opsgenie's 422)
    problems: tuple[Problem, ...]

    def lines(self) -> tuple[str, ...]:
        return tuple(problem.line() for problem in self.problems)

    def body(self) -> dict:
        """The answer of our own routes (Alertmanager, Grafana, generic): every problem, one line each."""
        return {"error": "; ".join(self.lines()), "errors": list(self.lines())}


def rejected(status: int, *problems: Problem) -> Rejected:
    return Rejected(status, tuple(problems))
