"""What ROUTING_FILE defines, as frozen values: the integrations and whom each one phones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voice.hotline.models import HotlineDef  # noqa: F401  (Routing.hotlines)
from voice.intake.credentials import digests_match, token_digest
from voice.schedules.models import ScheduleDef  # noqa: F401  (Routing.schedules)

USER = "user"
GROUP = "group"
NUMBER = "number"
SCHEDULE = "schedule"

#: The severities `phone:` may name: Alertmanager's and Grafana's `severity` label, PagerDuty's
#: payload.severity (https://developer.pagerduty.com/docs/events-api-v2-overview) and Opsgenie's
#: priority (https://docs.opsgenie.com/docs/alert-api), as each source writes them.
SEVERITIES = ("critical", "error", "warning", "info", "none", "P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True)
class RecipientRef:
    """Someone to phone, as the file names them: a Slack user (U…/W…), a user group (S…), a number (E.164), or
    whoever an on-call schedule has on call (`schedule:backend`)."""

    kind: Literal["user", "group", "number", "schedule"]
    value: str


@dataclass(frozen=True)
class IntegrationDef:
    #: [a-z0-9-]{1,40}, unique in the file.
    name: str
    #: SHA-256 hex of the token its senders present; the token itself is never kept.
    token_sha256: str
    #: The Slack channel ID its alerts are posted in.
    channel: str
    #: Each stage is phoned at once; the next only if nobody in it acknowledged (as /voicealert's `>`).
    stages: tuple[tuple[RecipientRef, ...], ...]
    #: A language every call speaks (voice/speech/languages.py), else each callee's own.
    lang: str | None = None
    #: The severities that phone; None: the default (every severity but the informational ones).
    phone: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Routing:
    integrations: tuple[IntegrationDef, ...] = ()
    schedules: tuple[ScheduleDef, ...] = ()
    hotlines: tuple[HotlineDef, ...] = ()

    def hotline(self, number: str) -> HotlineDef | None:
        return next((found for found in self.hotlines if found.number == number), None)

    def described(self) -> str:
        """"2 integrations, 1 schedule", for the log."""
        counted = [(len(self.integrations), "integration"), (len(self.schedules), "schedule"),
                   (len(self.hotlines), "hotline")]
        said = [f"{count} {what}" + ("" if count == 1 else "s") for count, what in counted if count]
        return ", ".join(said) or "0 integrations"

    def by_token(self, token: str) -> IntegrationDef | None:
        """The integration whose token this is, if any (digests compared in constant time)."""
        digest = token_digest(token)
        return next((found for found in self.integrations if digests_match(digest, found.token_sha256)), None)

    def named(self, name: str) -> IntegrationDef | None:
        return next((found for found in self.integrations if found.name == name), None)


@dataclass(frozen=True)
class RoutingProblems:
    """Why the file cannot be used: every problem, one line each, none holding a secret."""

    lines: tuple[str, ...]
