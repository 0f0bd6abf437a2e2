"""What an incident from monitoring shows in Slack beyond a person's alert: its integration and source,
severity, a few labels, the source's links, how often it fired, how it ended; and an alert storm's one
line. Pure."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from bot.messages import format_duration
from bot.mrkdwn import Markup, date, escape_within, slack_text, web_link
from voice.alerts.models import AlertRecord, Incident
from voice.incidents.models import Storm

#: How a source is named in Slack.
SOURCE_LABELS = {"alertmanager": "Alertmanager", "grafana": "Grafana", "generic": "webhook",
                 "opsgenie": "Opsgenie API", "pagerduty": "PagerDuty Events API"}
#: Labels and links shown in the message (the rest are in the source).
LABELS_SHOWN = 6
LINKS_SHOWN = 5


def raised_by(alert: AlertRecord) -> Markup:
    """"*backend-prod* (Alertmanager)"."""
    incident = alert.incident
    return Markup(slack_text(Markup("*"), incident.integration, Markup("*"), f" ({source_label(incident.source)})"))


def source_label(source: str | None) -> str:
    return SOURCE_LABELS.get(source or "", source or "monitoring")


def facts_line(incident: Incident) -> str:
    """Severity, labels, links and firings, as one context line."""
    parts: list[str] = []
    if incident.severity:
        parts.append(slack_text("Severity ", Markup("*"), _shortened(incident.severity, 32), Markup("*")))
    labels = [f"{name}={value}" for name, value in incident.labels[:LABELS_SHOWN]]
    if labels:
        parts.append(Markup(" · ".join(escape_within(label, 120) for label in labels)))
    links = [web_link(url, text or _host(url)) for url, text in incident.links[:LINKS_SHOWN]]
    if links:
        parts.append(" · ".join(links))
    if incident.fire_count > 1 and incident.last_fired_at:
        parts.append(slack_text(f"Fired {incident.fire_count} times, last ",
                                date(incident.last_fired_at, "{time_secs}", f"{incident.last_fired_at:%H:%M:%S} UTC")))
    return "  |  ".join(parts)


def closed_line(alert: AlertRecord) -> str | None:
    """"Resolved by Alertmanager at 10:42, open 12 min 3 s", once the source resolved it."""
    incident = alert.incident
    if incident is None or incident.closed_at is None:
        return None
    open_for = format_duration(int((incident.closed_at - alert.created_at).total_seconds()))
    return slack_text(":large_green_circle: *Resolved* by ", source_label(incident.closed_source), " ",
                      date(incident.closed_at, "at {time_secs}", f"at {incident.closed_at:%H:%M:%S} UTC"),
                      f", open {open_for}.")


def storm_text(storm: Storm) -> str:
    return slack_text(":zap: Alert storm from ", Markup("*"), storm.integration.name, Markup("*"),
                      f": {storm.count} incident{'s' if storm.count != 1 else ''} in {_minutes(storm)}; "
                      "nobody is phoned for them.")


def storm_blocks(storm: Storm, now: datetime) -> list[dict]:
    head = slack_text(
        ":zap: *Alert storm* from ", Markup("*"), storm.integration.name, Markup("*"),
        f": {storm.count} incident{'s' if storm.count != 1 else ''} in {_minutes(storm)}. "
        "This integration phoned someone moments before; it phones at most once every "
        f"{_interval(storm)}, so these were not phoned. The next new incident phones from ",
        date(storm.phones_again_at, "{time_secs}", f"{storm.phones_again_at:%H:%M:%S} UTC"), ".")
    lines = [slack_text("• ", ("~" if item.resolved else ""), _shortened(item.summary, 150),
                        ("~ resolved" if item.resolved else ""),
                        (f" ({item.severity})" if item.severity else "")) for item in storm.latest]
    more = storm.count - len(storm.latest)
    if more > 0:
        lines.append(slack_text(f"…and {more} more."))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return blocks


def storm_digest(text: str, blocks: list[dict]) -> str:
    return hashlib.sha256(json.dumps([text, blocks], sort_keys=True).encode()).hexdigest()[:16]


def _minutes(storm: Storm) -> str:
    latest = max((item.fired_at for item in storm.latest), default=storm.started_at)
    minutes = max(1, round((latest - storm.started_at).total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _interval(storm: Storm) -> str:
    seconds = storm.interval
    return format_duration(seconds) if seconds < 60 or seconds % 60 else f"{seconds // 60} minutes"


def _shortened(text: str, limit: int) -> Markup:
    """Escaped and cut to `limit` characters, as Markup: slack_text must not escape it again."""
    return Markup(escape_within(text, limit))


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0]
