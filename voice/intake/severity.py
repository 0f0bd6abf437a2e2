"""Whether an event phones: by default unless its severity says it is informational, or as an integration's
`phone` list says."""

from __future__ import annotations

from typing import Iterable

from voice.intake.models import Action, Event

#: The severities that do not phone unless an integration's `phone` list names them, per sender, lower case.
#: PagerDuty: https://developer.pagerduty.com/docs/send-alert-event (critical, error, warning, info);
#: Opsgenie: https://docs.opsgenie.com/docs/alert-api (P1 highest … P5, default P3);
#: Alertmanager and Grafana: the `severity` label by convention (critical, warning, info, none).
INFORMATIONAL: dict[str, frozenset[str]] = {
    "alertmanager": frozenset({"warning", "info", "none"}),
    "grafana": frozenset({"warning", "info", "none"}),
    "generic": frozenset({"warning", "info"}),
    "opsgenie": frozenset({"p4", "p5"}),
    "pagerduty": frozenset({"warning", "info"}),
}

#: The usual label values, most severe first, to pick one severity for a group of alerts.
_RANK = ("critical", "error", "warning", "info", "none")


def phones_by_default(source: str, severity: str | None) -> bool:
    """No severity phones: a sender that says nothing is not saying the alert can wait."""
    return severity is None or severity.lower() not in INFORMATIONAL.get(source, frozenset())


def phones(event: Event, phone_list: tuple[str, ...] | None) -> bool:
    """Whether `event` calls anyone: only a TRIGGER does; then, with no `phone` list, as its source's default;
    with one, if its severity is in the list (case-insensitive; an event without a severity is "none")."""
    if event.action is not Action.TRIGGER:
        return False
    if phone_list is None:
        return event.phones_by_default
    return (event.severity or "none").lower() in {wanted.lower() for wanted in phone_list}


def most_severe(severities: Iterable[str]) -> str | None:
    """The most severe of several alerts' `severity` labels. A value outside the usual ones ("page", "sev1")
    counts as the most severe: it phones by default, and a group holding one should too."""
    found = [severity for severity in severities if severity]
    if not found:
        return None
    return min(found, key=lambda severity: _RANK.index(severity.lower()) if severity.lower() in _RANK else -1)
