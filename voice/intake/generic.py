"""The generic webhook, for scripts and tools with no format of their own:
`{"summary", "details", "dedup_key", "action": "trigger" | "resolve", "severity", "links"}`.

Only `summary` is needed to trigger. `details` is text, or any JSON shown as JSON. `links` are URLs, or
`{"href", "text"}` objects. Without a `dedup_key` the incident is named by its summary, so a resolve
with the same summary ends it.
"""

from __future__ import annotations

from typing import Any

from voice.intake import fields
from voice.intake.decoding import not_an_object, type_name
from voice.intake.models import (
    SEVERITY_MAX,
    SUMMARY_MAX,
    Action,
    Event,
    Link,
    Problem,
    Rejected,
)
from voice.intake.severity import phones_by_default

ACTIONS = {"trigger": Action.TRIGGER, "resolve": Action.RESOLVE}
KEY_MAX = 255


def parse(body: Any) -> Event | Rejected:
    """The event a generic request means, or a 400 listing every problem of the body."""
    if not isinstance(body, dict):
        return not_an_object(body)
    problems: list[Problem] = []
    action_name = fields.string(body, "action", "", problems)
    action = ACTIONS.get(action_name or "trigger")
    if action is None:
        problems.append(Problem("action", 'must be "trigger" or "resolve"'))
    dedup_key = fields.string(body, "dedup_key", "", problems, max_chars=KEY_MAX)
    if dedup_key is not None and not fields.one_line(dedup_key, KEY_MAX):
        problems.append(Problem("dedup_key", "is empty"))
        dedup_key = None
    needs_summary = action is Action.TRIGGER or (action is Action.RESOLVE and "dedup_key" not in body)
    summary = fields.string(body, "summary", "", problems, required=needs_summary)
    severity = fields.string(body, "severity", "", problems)
    details = body.get("details")
    links = [_link(item, f"links[{index}]", problems) for index, item in enumerate(_list(body, "links", problems))]
    if problems:
        return Rejected(400, tuple(problems))
    summary_line = fields.one_line(summary or "", SUMMARY_MAX)
    severity = fields.one_line(severity, SEVERITY_MAX) or None if severity else None
    return Event(
        source="generic",
        action=action,
        key=dedup_key if dedup_key is not None else fields.digest(summary_line),
        summary=summary_line,
        severity=severity,
        phones_by_default=phones_by_default("generic", severity),
        details=fields.block(fields.rendered(details)) if details is not None else "",
        links=fields.unique_links(links),
        sender_ref=dedup_key,
    )


def _list(body: dict, name: str, problems: list[Problem]) -> list:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem(name, f"must be a list, not {type_name(value)}"))
        return []
    return value


def _link(item: Any, path: str, problems: list[Problem]) -> Link | None:
    """A URL, or {"href", "text"}; unlike a link a monitoring tool adds on its own, one a script gives that
    cannot be shown is its author's mistake, said as such."""
    if isinstance(item, dict):
        href = fields.string(item, "href", f"{path}.", problems, required=True)
        text = fields.string(item, "text", f"{path}.", problems) or ""
        where = f"{path}.href"
    elif isinstance(item, str):
        href, text, where = item, "", path
    else:
        problems.append(Problem(path, f"must be a URL or an object with href, not {type_name(item)}"))
        return None
    if href is None:
        return None
    made = fields.link(href, text)
    if made is None:
        problems.append(Problem(where, "must be an http or https URL"))
    return made
