"""Alertmanager's webhook (payload version "4") and Grafana's webhook contact point (version "1", the same
shape plus title, message and state): one request is one group of alerts, so one incident.

https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voice.intake import fields
from voice.intake.decoding import not_an_object
from voice.intake.models import (
    SENDER_REF_MAX,
    SEVERITY_MAX,
    SUMMARY_MAX,
    Action,
    Event,
    Link,
    Problem,
    Rejected,
)
from voice.intake.severity import most_severe, phones_by_default

VERSIONS = {"4": "alertmanager", "1": "grafana"}
STATUSES = {"firing": Action.TRIGGER, "resolved": Action.RESOLVE}
#: Alerts named in the summary and listed in the details; the rest are counted.
_NAMED = 3
_LISTED = 20
# Grafana's per-alert links, with the words shown for them.
_GRAFANA_LINKS = (("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence"))


def parse(body: Any) -> Event | Rejected:
    """The event one webhook request means, or a 400 listing every problem of the body."""
    if not isinstance(body, dict):
        return not_an_object(body)
    problems: list[Problem] = []
    version = fields.string(body, "version", "", problems, required=True)
    if version is not None and version not in VERSIONS:
        problems.append(Problem("version", 'must be "4" (Alertmanager) or "1" (Grafana)'))
    group_key = fields.string(body, "groupKey", "", problems, required=True)
    status = _status(body, "", problems)
    group_labels = fields.string_map(body, "groupLabels", "", problems)
    common_labels = fields.string_map(body, "commonLabels", "", problems)
    common_annotations = fields.string_map(body, "commonAnnotations", "", problems)
    title = fields.string(body, "title", "", problems)
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        problems.append(Problem("truncatedAlerts", "must be a whole number, 0 or more"))
    alerts = [_alert(item, f"alerts[{index}].", problems)
              for index, item in enumerate(fields.objects(body, "alerts", "", problems))]
    if body.get("alerts") is None:
        problems.append(Problem("alerts", "is missing"))
    if problems:
        return Rejected(400, tuple(problems))
    source = VERSIONS[version]
    # The alerts that matter now: the firing ones while any fires (a resolved one is listed, not counted).
    current = [alert for alert in alerts if alert.action is STATUSES[status]] or alerts
    severity = common_labels.get("severity") or most_severe(alert.labels.get("severity", "") for alert in current)
    severity = fields.one_line(severity, SEVERITY_MAX) or None if severity else None
    starts = [alert.starts_at for alert in current if alert.starts_at is not None]
    return Event(
        source=source,
        action=STATUSES[status],
        # Hashed as Alertmanager's own Opsgenie and PagerDuty notifiers do (alias, dedup_key): bounded whatever
        # the routes' matchers, and the same incident whichever of the three receivers a group is sent to.
        key=fields.digest(group_key),
        summary=_summary(title, common_annotations, common_labels, group_labels, current),
        severity=severity,
        phones_by_default=phones_by_default(source, severity),
        details=fields.block(_details(common_annotations, alerts, truncated)),
        labels=fields.labels((common_labels or group_labels).items()),
        links=fields.unique_links(_links(common_annotations, alerts)),
        fired_at=min(starts, default=None),
        sender_ref=_fingerprints(alerts),
    )


@dataclass(frozen=True)
class _Alert:
    """One alert of the group, its fields checked."""

    action: Action
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    links: tuple[Link | None, ...]
    fingerprint: str | None


def _alert(item: dict, path: str, problems: list[Problem]) -> _Alert:
    status = _status(item, path, problems)
    labels = fields.string_map(item, "labels", path, problems)
    annotations = fields.string_map(item, "annotations", path, problems)
    starts_at = fields.timestamp(item, "startsAt", path, problems)
    fields.timestamp(item, "endsAt", path, problems)
    generator = fields.string(item, "generatorURL", path, problems)
    fingerprint = fields.string(item, "fingerprint", path, problems)
    links = [fields.link(generator, "Source"), fields.link(annotations.get("runbook_url"), "Runbook")]
    links += [fields.link(fields.string(item, name, path, problems), text) for name, text in _GRAFANA_LINKS]
    return _Alert(STATUSES.get(status or "", Action.TRIGGER), labels, annotations, starts_at, tuple(links),
                  fingerprint)


def _status(body: dict, path: str, problems: list[Problem]) -> str | None:
    status = fields.string(body, "status", path, problems, required=True)
    if status is not None and status not in STATUSES:
        problems.append(Problem(f"{path}status", 'must be "firing" or "resolved"'))
        return None
    return status


def _summary(title: str | None, common_annotations: dict[str, str], common_labels: dict[str, str],
             group_labels: dict[str, str], current: list[_Alert]) -> str:
    """Grafana's title; else the group's summary annotation; else what fires, and where."""
    for said in (title, common_annotations.get("summary")):
        if said and fields.one_line(said, SUMMARY_MAX):
            return fields.one_line(said, SUMMARY_MAX)
    names = _distinct(alert.labels.get("alertname", "") for alert in current)
    name = common_labels.get("alertname") or group_labels.get("alertname") or _listed(names) or "Alert"
    where = _listed(_distinct(alert.labels.get("instance", "") for alert in current))
    return fields.one_line(f"{name} on {where}" if where else name, SUMMARY_MAX)


def _details(common_annotations: dict[str, str], alerts: list[_Alert], truncated: int) -> str:
    """The group's description, then a line per alert (its status, summary and labels)."""
    lines = [common_annotations["description"]] if common_annotations.get("description") else []
    for alert in alerts[:_LISTED]:
        said = alert.annotations.get("summary") or alert.annotations.get("description") or ""
        labels = ", ".join(f"{name}={value}" for name, value in alert.labels.items())
        status = "firing" if alert.action is Action.TRIGGER else "resolved"
        lines.append(" ".join(part for part in (f"[{status}]", fields.one_line(said, 300),
                                                f"({fields.one_line(labels, 500)})" if labels else "") if part))
    unlisted = max(0, len(alerts) - _LISTED) + truncated
    if unlisted > 0:
        lines.append(f"… and {unlisted} more alerts")
    return "\n".join(lines)


def _links(common_annotations: dict[str, str], alerts: list[_Alert]) -> list[Link | None]:
    return [fields.link(common_annotations.get("runbook_url"), "Runbook")] + [
        each for alert in alerts for each in alert.links]


def _fingerprints(alerts: list[_Alert]) -> str | None:
    """The alerts' fingerprints, comma-separated, as many whole ones as fit in SENDER_REF_MAX."""
    kept: list[str] = []
    for fingerprint in _distinct(fields.one_line(alert.fingerprint or "", 64) for alert in alerts):
        if len(",".join([*kept, fingerprint])) > SENDER_REF_MAX:
            break
        kept.append(fingerprint)
    return ",".join(kept) or None


def _distinct(values) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _listed(values: list[str]) -> str:
    """ "a, b, c and 2 more" """
    if len(values) <= _NAMED:
        return ", ".join(values)
    return f"{', '.join(values[:_NAMED])} and {len(values) - _NAMED} more"
