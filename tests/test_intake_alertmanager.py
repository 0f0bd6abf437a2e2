"""Alertmanager's webhook (v4) and Grafana's contact point (v1), read into one event per group."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from voice.intake import alertmanager
from voice.intake.models import Action, Event, Link, Rejected

GROUP_KEY = '{}/{team="db"}:{alertname="DiskFull"}'

# Alertmanager's v4 webhook as it sends one group of two alerts
# (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
AM_FIRING = {
    "version": "4", "groupKey": GROUP_KEY, "truncatedAlerts": 0, "status": "firing", "receiver": "hotline",
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "team": "db"},
    "commonAnnotations": {},
    "externalURL": "http://am.example:9093",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "DiskFull", "team": "db", "instance": "db1", "severity": "warning"},
         "annotations": {"summary": "Disk 95% on db1", "runbook_url": "https://runbooks.example/disk"},
         "startsAt": "2026-12-03T10:01:52Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prom.example:9090/graph?g0.expr=disk", "fingerprint": "af8369991ce2c913"},
        {"status": "firing", "labels": {"alertname": "DiskFull", "team": "db", "instance": "db2", "severity": "critical"},
         "annotations": {"summary": "Disk 97% on db2", "runbook_url": "https://runbooks.example/disk"},
         "startsAt": "2026-12-03T09:58:00Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "", "fingerprint": "0c7f2a1b9d3e4f56"},
    ],
}


def grafana_example() -> dict:
    # Grafana's documented webhook payload, as published:
    # https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
    return json.loads((Path(__file__).parent / "data" / "intake" / "grafana_webhook.json").read_text())


def am(**changes) -> dict:
    body = copy.deepcopy(AM_FIRING)
    body.update(changes)
    return body


def parsed(body) -> Event:
    event = alertmanager.parse(body)
    assert isinstance(event, Event), event
    return event


def problems(body) -> tuple[str, ...]:
    result = alertmanager.parse(body)
    assert isinstance(result, Rejected), result
    assert result.status == 400
    return result.lines()


def test_a_firing_group_is_one_trigger_named_by_the_hash_of_its_group_key():
    event = parsed(AM_FIRING)
    assert event.source == "alertmanager"
    assert event.action is Action.TRIGGER
    # The same key Alertmanager's own Opsgenie (alias) and PagerDuty (dedup_key) notifiers send for the group.
    assert event.key == hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert event.sender_ref == "af8369991ce2c913,0c7f2a1b9d3e4f56"


def test_a_resolved_group_resolves_the_same_incident():
    body = am(status="resolved")
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-12-03T10:30:00Z"
    event = parsed(body)
    assert event.action is Action.RESOLVE
    assert event.key == parsed(AM_FIRING).key


def test_the_top_level_status_decides_even_when_max_alerts_left_a_firing_alert_out():
    body = am(status="resolved", truncatedAlerts=1)
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0]["status"] = "resolved"
    event = parsed(body)
    assert event.action is Action.RESOLVE
    assert "… and 1 more alerts" in event.details


def test_the_summary_is_the_common_summary_annotation():
    assert parsed(am(commonAnnotations={"summary": "Disks filling on the db team"})).summary == \
        "Disks filling on the db team"


def test_without_one_the_summary_is_the_alert_name_and_its_instances():
    assert parsed(AM_FIRING).summary == "DiskFull on db1, db2"


def test_many_instances_are_counted_not_listed():
    body = am()
    body["alerts"] = [dict(body["alerts"][0], labels={"alertname": "DiskFull", "instance": f"db{n}"},
                           fingerprint=f"{n:016x}") for n in range(7)]
    assert parsed(body).summary == "DiskFull on db0, db1, db2 and 4 more"


def test_the_group_severity_is_its_most_severe_alerts_and_a_critical_phones():
    event = parsed(AM_FIRING)
    assert event.severity == "critical"
    assert event.phones_by_default


def test_a_common_severity_label_decides_and_warning_does_not_phone():
    event = parsed(am(commonLabels={"alertname": "DiskFull", "severity": "warning"}))
    assert event.severity == "warning"
    assert not event.phones_by_default


def test_an_unusual_severity_counts_as_most_severe():
    body = am()
    body["alerts"][0]["labels"]["severity"] = "page"
    assert parsed(body).severity == "page"
    assert parsed(body).phones_by_default


def test_a_group_with_no_severity_phones():
    body = am()
    for alert in body["alerts"]:
        del alert["labels"]["severity"]
    assert parsed(body).severity is None
    assert parsed(body).phones_by_default


def test_links_are_the_generator_and_runbook_urls_each_once_and_empty_ones_left_out():
    assert parsed(AM_FIRING).links == (
        Link("http://prom.example:9090/graph?g0.expr=disk", "Source"),
        Link("https://runbooks.example/disk", "Runbook"),
    )


def test_links_that_are_not_http_are_left_out():
    body = am()
    body["alerts"][0]["generatorURL"] = "javascript:alert(1)"
    body["alerts"][1]["annotations"]["runbook_url"] = "/relative/runbook"
    body["alerts"][0]["annotations"]["runbook_url"] = "ftp://runbooks.example/disk"
    assert parsed(body).links == ()


def test_it_fired_when_its_earliest_alert_started():
    assert parsed(AM_FIRING).fired_at == datetime(2026, 12, 3, 9, 58, tzinfo=timezone.utc)


def test_details_list_each_alert_and_labels_show_the_common_ones():
    event = parsed(AM_FIRING)
    assert event.details.splitlines() == [
        "[firing] Disk 95% on db1 (alertname=DiskFull, team=db, instance=db1, severity=warning)",
        "[firing] Disk 97% on db2 (alertname=DiskFull, team=db, instance=db2, severity=critical)",
    ]
    assert event.labels == (("alertname", "DiskFull"), ("team", "db"))


def test_grafanas_documented_payload_is_a_grafana_trigger_titled_as_grafana_titled_it():
    event = parsed(grafana_example())
    assert event.source == "grafana"
    assert event.action is Action.TRIGGER
    assert event.key == hashlib.sha256(b"{}:{}").hexdigest()
    assert event.summary == "[FIRING:2] (blue)"  # Grafana's title, its double space made one
    assert event.labels == (("team", "blue"),)
    assert event.sender_ref == "c6eadffa33fcdf37,bc97ff14869b13e3"
    assert event.fired_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=timezone.utc)
    assert [link.text for link in event.links] == ["Source", "Runbook", "Silence", "Source", "Silence"]
    assert event.links[2].url.startswith("https://play.grafana.org/alerting/silence/new?alertmanager=grafana")


def test_grafanas_dashboard_and_panel_urls_are_links():
    body = grafana_example()
    body["alerts"][0]["dashboardURL"] = "https://play.grafana.org/d/abc"
    body["alerts"][0]["panelURL"] = "https://play.grafana.org/d/abc?viewPanel=2"
    texts = {link.url: link.text for link in parsed(body).links}
    assert texts["https://play.grafana.org/d/abc"] == "Dashboard"
    assert texts["https://play.grafana.org/d/abc?viewPanel=2"] == "Panel"


def test_an_empty_grafana_title_falls_back_to_the_alert_names():
    body = grafana_example()
    body["title"] = " "
    assert parsed(body).summary == "High memory usage, High CPU usage"


@pytest.mark.parametrize("change, expected", [
    ({"version": "3"}, 'version: must be "4" (Alertmanager) or "1" (Grafana)'),
    ({"version": 4}, "version: must be a string, not a number"),
    ({"version": None}, "version: is missing"),
    ({"groupKey": ""}, "groupKey: is empty"),
    ({"groupKey": ["a"]}, "groupKey: must be a string, not a list"),
    ({"status": "pending"}, 'status: must be "firing" or "resolved"'),
    ({"commonLabels": {"team": ["db"]}}, "commonLabels: must map names to strings"),
    ({"commonAnnotations": "summary"}, "commonAnnotations: must be an object, not a string"),
    ({"alerts": {"0": {}}}, "alerts: must be a list, not an object"),
    ({"alerts": None}, "alerts: is missing"),
    ({"alerts": [{"status": "firing"}, 7]}, "alerts[1]: must be an object, not a number"),
    ({"truncatedAlerts": -1}, "truncatedAlerts: must be a whole number, 0 or more"),
    ({"title": {"text": "x"}}, "title: must be a string, not an object"),
])
def test_a_malformed_group_is_refused_saying_which_field(change, expected):
    assert expected in problems(am(**change))


@pytest.mark.parametrize("field, value, expected", [
    ("status", "ok", 'alerts[0].status: must be "firing" or "resolved"'),
    ("labels", None, None),
    ("labels", {"instance": 1}, "alerts[0].labels: must map names to strings"),
    ("startsAt", "yesterday", "alerts[0].startsAt: must be a time with its offset, e.g. 2026-12-03T10:01:52Z"),
    ("startsAt", "2026-12-03T10:01:52", "alerts[0].startsAt: must be a time with its offset, e.g. 2026-12-03T10:01:52Z"),
    ("generatorURL", ["http://x"], "alerts[0].generatorURL: must be a string, not a list"),
    ("fingerprint", 12, "alerts[0].fingerprint: must be a string, not a number"),
])
def test_a_malformed_alert_is_refused_saying_which_alert_and_field(field, value, expected):
    body = am()
    body["alerts"][0][field] = value
    if expected is None:  # labels are optional: a null is no labels
        assert isinstance(alertmanager.parse(body), Event)
    else:
        assert expected in problems(body)


def test_every_problem_is_said_at_once():
    lines = problems(am(version="9", status="bad", groupKey=3))
    assert len(lines) == 3


def test_a_body_that_is_not_an_object_is_refused():
    assert problems([AM_FIRING]) == ("the body must be a JSON object, not a list",)


def test_hostile_text_is_made_printable_and_bounded():
    body = am(commonAnnotations={"summary": "Disk\x00 full\u202e on \x1b[31mdb1\n" + "x" * 5000,
                                 "description": "line one\r\nline two\x07" + "y" * 10000})
    body["commonLabels"] = {f"label{n}\u200b": "v" * 1000 for n in range(20)}
    event = parsed(body)
    assert event.summary.startswith("Disk full on [31mdb1 xxx")
    assert len(event.summary) == 1024 and event.summary.endswith("…")
    assert event.details.startswith("line one\nline two y")
    assert len(event.details.encode()) <= 6 * 1024
    assert len(event.labels) == 8
    assert event.labels[0] == ("label0", "v" * 255 + "…")


def test_a_lone_surrogate_in_a_group_key_still_names_one_incident():
    assert parsed(am(groupKey="db\ud800")).key == parsed(am(groupKey="db\ud800")).key
