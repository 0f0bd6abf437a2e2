"""An alert's recipients as stored while they are looked up (`alerts.recipients`, read by the Slack side's
opening): links of recipients, each `{"kind", "id", "label"}`, the label as Slack shows it. Pure.

Monitoring's integrations and the hotline name theirs in ROUTING_FILE's terms (voice.routing's
RecipientRef: anything with `kind` and `value`); a person's alert, in Slack's.
"""

from __future__ import annotations

from typing import Iterable

from voice.calls.numbers import display_number


def recipient_label(kind: str, value: str) -> str:
    """"<@U1>", "<!subteam^S1>", "schedule:backend" or "+1 415-555-0100"."""
    if kind == "user":
        return f"<@{value}>"
    if kind == "group":
        return f"<!subteam^{value}>"
    if kind == "schedule":
        return f"schedule:{value}"
    return display_number(value)


def stages_of(stages: Iterable[Iterable]) -> list[list[dict]]:
    """Links of recipients (each with `kind` and `value`) as an alert stores them."""
    return [[{"kind": ref.kind, "id": ref.value, "label": recipient_label(ref.kind, ref.value)} for ref in stage]
            for stage in stages]


def request_of(stages: Iterable[Iterable], language: str | None) -> dict:
    """The stored request of an alert raised by no person: its recipients; no typed message to name anyone."""
    return {"stages": stages_of(stages), "message": "", "language": language}
