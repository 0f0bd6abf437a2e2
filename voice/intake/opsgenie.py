"""Opsgenie's Alert API, as Alertmanager's `opsgenie_configs` and scripts written for Opsgenie call it:
create an alert; close, acknowledge, or change the message or description of one, named by alias or id.

https://docs.opsgenie.com/docs/alert-api, https://docs.opsgenie.com/docs/alert-api-continued
Errors are answered in Opsgenie's shape (https://docs.opsgenie.com/docs/response): a 422 with
`{"message": "Request body is not processable. Please check the errors.", "errors": {field: reason}}`.
"""

from __future__ import annotations

from typing import Any

from voice.intake import fields
from voice.intake.decoding import not_an_object
from voice.intake.models import SUMMARY_MAX, Action, Event, Problem, Rejected
from voice.intake.severity import phones_by_default

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
#: Opsgenie's default when a create names none (Alertmanager sends none unless configured): it phones.
DEFAULT_PRIORITY = "P3"
#: Opsgenie's bound on an alias (https://docs.opsgenie.com/docs/alert-api#create-alert).
ALIAS_MAX = 512
TAGS_MAX = 20
#: What each action route does to the alert it names.
ACTIONS = {"close": Action.RESOLVE, "acknowledge": Action.ACKNOWLEDGE,
           "message": Action.UPDATE, "description": Action.UPDATE}
#: The identifier types we know. Opsgenie's `tiny` ids are its own short numbers; we give none out.
#: An alert's id here is its alias (what a create answered with, or the hash of its message).
IDENTIFIER_TYPES = ("id", "alias")
NOT_PROCESSABLE = "Request body is not processable. Please check the errors."


def parse_create(body: Any) -> Event | Rejected:
    """`POST /v2/alerts`: the event a create means, or a 422 as Opsgenie gives it."""
    if not isinstance(body, dict):
        return not_an_object(body)
    problems: list[Problem] = []
    message = fields.string(body, "message", "", problems)
    if message is None or not fields.one_line(message, SUMMARY_MAX):
        # Opsgenie's own words (prometheus/alertmanager#1223 shows them as Alertmanager logs them).
        problems = [problem for problem in problems if problem.field != "message"]
        problems.append(Problem("message", "Message can not be empty."))
    alias = fields.string(body, "alias", "", problems, max_chars=ALIAS_MAX)
    description = fields.string(body, "description", "", problems)
    priority = DEFAULT_PRIORITY if body.get("priority") is None else body["priority"]
    if priority not in PRIORITIES:
        problems.append(Problem("priority", f"should be one of [ {', '.join(PRIORITIES)} ]"))
    details = _details(body, problems)
    tags = _tags(body, problems)
    source = fields.string(body, "source", "", problems)
    entity = fields.string(body, "entity", "", problems)
    note = fields.string(body, "note", "", problems)
    fields.string(body, "user", "", problems)
    if problems:
        return Rejected(422, tuple(problems))
    summary = fields.one_line(message, SUMMARY_MAX)
    shown = [*details.items()] + [(name, value) for name, value in
                                  (("tags", ", ".join(tags)), ("source", source), ("entity", entity)) if value]
    return Event(
        source="opsgenie",
        action=Action.TRIGGER,
        # Without an alias, the message names the alert: the same message again is the same open alert.
        key=alias if alias else fields.digest(summary),
        summary=summary,
        severity=priority,
        phones_by_default=phones_by_default("opsgenie", priority),
        details=fields.block("\n\n".join(text for text in (description, note) if text)),
        labels=fields.labels(shown),
        sender_ref=alias or None,
    )


def parse_action(action: str, identifier: str, identifier_type: str | None, body: Any) -> Event | Rejected:
    """`POST /v2/alerts/{identifier}/close` or `/acknowledge`, `PUT …/message` or `/description`, with
    `?identifierType=` (Opsgenie's default: id); `body` may be None (an empty body)."""
    body = {} if body is None else body
    if not isinstance(body, dict):
        return not_an_object(body)
    if action not in ACTIONS:
        return Rejected(404, (Problem("", "no such action; use close, acknowledge, message or description"),))
    problems: list[Problem] = []
    if (identifier_type or "id") not in IDENTIFIER_TYPES:
        problems.append(Problem("identifierType", f"should be one of [ {', '.join(IDENTIFIER_TYPES)} ]"))
    if not identifier.strip() or len(identifier) > ALIAS_MAX:
        problems.append(Problem("identifier", f"should be 1 to {ALIAS_MAX} characters"))
    summary = details = ""
    if action == "message":
        message = fields.string(body, "message", "", problems)
        summary = fields.one_line(message or "", SUMMARY_MAX)
        if not summary:
            problems = [problem for problem in problems if problem.field != "message"]
            problems.append(Problem("message", "Message can not be empty."))
    elif action == "description":
        details = fields.string(body, "description", "", problems, required=True) or ""
    else:
        details = fields.string(body, "note", "", problems) or ""
    user = fields.string(body, "user", "", problems)
    source = fields.string(body, "source", "", problems)
    if problems:
        return Rejected(422, tuple(problems))
    return Event(
        source="opsgenie",
        action=ACTIONS[action],
        key=identifier,
        summary=summary,
        severity=None,
        phones_by_default=False,
        details=fields.block(details),
        labels=fields.labels((name, value) for name, value in (("user", user), ("source", source)) if value),
        sender_ref=identifier,
    )


def error_body(rejected: Rejected) -> dict:
    """Opsgenie's error answer; the HTTP layer adds `took` and `requestId`, as on every answer."""
    if rejected.status == 422:
        return {"message": NOT_PROCESSABLE,
                "errors": {problem.field or "body": problem.message for problem in rejected.problems}}
    return {"message": "; ".join(rejected.lines())}


def _details(body: dict, problems: list[Problem]) -> dict[str, str]:
    """Opsgenie's `details`: custom properties, a map of strings (numbers and booleans are taken as text)."""
    value = body.get("details")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(item, (str, int, float)) for item in value.values()):
        problems.append(Problem("details", "should be a map of strings"))
        return {}
    return {name: item if isinstance(item, str) else _text(item) for name, item in value.items()}


def _tags(body: dict, problems: list[Problem]) -> list[str]:
    value = body.get("tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(Problem("tags", "should be a list of strings"))
        return []
    return [tag for tag in value[:TAGS_MAX] if tag]


def _text(value: int | float) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
