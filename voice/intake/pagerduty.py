"""PagerDuty's Events API v2 (`POST /v2/enqueue`), as Alertmanager's `pagerduty_configs` and scripts written
for PagerDuty send it: trigger, acknowledge or resolve the alert named by `dedup_key`.

https://developer.pagerduty.com/docs/send-alert-event, https://developer.pagerduty.com/api-reference/
The `routing_key` is the integration's token (credentials.py); it is never part of an event.
"""

from __future__ import annotations

from typing import Any

from voice.intake import fields
from voice.intake.decoding import not_an_object, type_name
from voice.intake.models import SUMMARY_MAX, Action, Event, Link, Problem, Rejected
from voice.intake.severity import phones_by_default

ACTIONS = {"trigger": Action.TRIGGER, "acknowledge": Action.ACKNOWLEDGE, "resolve": Action.RESOLVE}
SEVERITIES = ("critical", "error", "warning", "info")
#: PagerDuty's bound on dedup_key.
KEY_MAX = 255


def parse(body: Any) -> Event | Rejected:
    """The event an enqueue means, or a 400 listing every problem of the body."""
    if not isinstance(body, dict):
        return not_an_object(body)
    problems: list[Problem] = []
    action_name = fields.string(body, "event_action", "", problems, required=True)
    action = ACTIONS.get(action_name) if action_name is not None else None
    if action_name is not None and action is None:
        problems.append(Problem("event_action", "must be trigger, acknowledge or resolve"))
    dedup_key = fields.string(body, "dedup_key", "", problems, max_chars=KEY_MAX,
                              required=action in (Action.ACKNOWLEDGE, Action.RESOLVE))
    if dedup_key is not None and not dedup_key.strip():
        problems.append(Problem("dedup_key", "is empty"))
    if action is not Action.TRIGGER:
        # Acknowledge and resolve name an alert; PagerDuty ignores their payload.
        if problems:
            return Rejected(400, tuple(problems))
        if action is None:
            return Rejected(400, (Problem("event_action", "is missing"),))
        return Event(source="pagerduty", action=action, key=dedup_key, summary="", severity=None,
                     phones_by_default=False, sender_ref=dedup_key)
    payload = body.get("payload")
    if not isinstance(payload, dict):
        problems.append(Problem("payload", "is missing" if payload is None else
                                f"must be an object, not {type_name(payload)}"))
        payload = {}
    summary = fields.string(payload, "summary", "payload.", problems, required=True)
    source = fields.string(payload, "source", "payload.", problems, required=True)
    severity = fields.string(payload, "severity", "payload.", problems, required=True)
    if severity is not None and severity not in SEVERITIES:
        problems.append(Problem("payload.severity", f"must be one of {', '.join(SEVERITIES)}"))
    fired_at = fields.timestamp(payload, "timestamp", "payload.", problems)
    shown = [(name, fields.string(payload, name, "payload.", problems)) for name in ("component", "group", "class")]
    links = [_link(item) for item in fields.objects(body, "links", "", problems)]
    fields.objects(body, "images", "", problems)
    client = fields.string(body, "client", "", problems)
    client_url = fields.string(body, "client_url", "", problems)
    if problems:
        return Rejected(400, tuple(problems))
    summary_line = fields.one_line(summary, SUMMARY_MAX)
    details = payload.get("custom_details")
    return Event(
        source="pagerduty",
        action=Action.TRIGGER,
        # Without a dedup_key, PagerDuty makes one up and answers with it. Ours is the hash of where and what,
        # so a sender's retry of the same trigger lands in the same incident, and it is answered the same key.
        key=dedup_key if dedup_key is not None else fields.digest(f"{source}\n{summary_line}"),
        summary=summary_line,
        severity=severity,
        phones_by_default=phones_by_default("pagerduty", severity),
        details=fields.block(fields.rendered(details)) if details is not None else "",
        labels=fields.labels([("source", source), *((name, value) for name, value in shown if value)]),
        links=fields.unique_links([*links, fields.link(client_url, client or "Source")]),
        fired_at=fired_at,
        sender_ref=dedup_key,
    )


def accepted_body(event: Event) -> dict:
    """PagerDuty's 202 answer, which tells the sender the dedup_key to acknowledge or resolve with."""
    return {"status": "success", "message": "Event processed", "dedup_key": event.key}


def error_body(rejected: Rejected) -> dict:
    """PagerDuty's 400 answer."""
    return {"status": "invalid event", "message": "Event object is invalid", "errors": list(rejected.lines())}


def _link(item: dict) -> Link | None:
    """A `links` entry; one that cannot be shown (not http(s)) is left out, as a sender's own mistake that
    PagerDuty would not refuse the event for either."""
    text = item.get("text")
    return fields.link(item.get("href"), text if isinstance(text, str) else "")
