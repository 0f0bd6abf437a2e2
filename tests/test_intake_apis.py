"""The generic webhook, and the Opsgenie and PagerDuty APIs as Alertmanager's notifiers and scripts call them."""

from __future__ import annotations

import hashlib

import pytest

from voice.intake import generic, opsgenie, pagerduty
from voice.intake.models import Action, Event, Link, Rejected

GROUP_KEY = '{}/{team="db"}:{alertname="DiskFull"}'
GROUP_HASH = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
ALERTS_URL = "http://am.example:9093/#/alerts?receiver=hotline"

# What Alertmanager's opsgenie_configs POSTs to {api_url}v2/alerts for a firing group, with default settings:
# no priority (Opsgenie's P3), commonLabels as details.
AM_OPSGENIE_CREATE = {
    "alias": GROUP_HASH,
    "message": "[FIRING:2] DiskFull (db)",
    "description": "Alerts Firing:\nLabels:\n - alertname = DiskFull\n - instance = db1\n",
    "details": {"alertname": "DiskFull", "team": "db"},
    "source": ALERTS_URL,
}
# What Alertmanager's pagerduty_configs POSTs to its url, with default settings.
AM_PAGERDUTY_TRIGGER = {
    "routing_key": "rk-0123456789abcdef0123456789abcd",
    "dedup_key": GROUP_HASH,
    "event_action": "trigger",
    "payload": {
        "summary": "[FIRING:2] DiskFull (db)",
        "source": "Alertmanager",
        "severity": "error",
        "custom_details": {"firing": [{"labels": {"alertname": "DiskFull", "instance": "db1"}}],
                           "num_firing": 2, "num_resolved": 0, "resolved": []},
    },
    "client": "Alertmanager",
    "client_url": ALERTS_URL,
}


def event_of(result) -> Event:
    assert isinstance(result, Event), result
    return result


def refused(result, status: int = 400) -> tuple[str, ...]:
    assert isinstance(result, Rejected), result
    assert result.status == status
    return result.lines()


# --- generic ------------------------------------------------------------------------------------------------

def test_a_generic_summary_alone_triggers_an_incident_named_by_its_summary():
    event = event_of(generic.parse({"summary": "Backups failed"}))
    assert (event.source, event.action, event.summary) == ("generic", Action.TRIGGER, "Backups failed")
    assert event.key == hashlib.sha256(b"Backups failed").hexdigest()
    assert event.sender_ref is None
    assert event.severity is None and event.phones_by_default


def test_a_generic_resolve_with_the_same_summary_ends_the_same_incident():
    trigger = event_of(generic.parse({"summary": "Backups failed"}))
    resolve = event_of(generic.parse({"summary": "Backups  failed", "action": "resolve"}))
    assert resolve.action is Action.RESOLVE
    assert resolve.key == trigger.key


def test_a_generic_resolve_by_dedup_key_needs_no_summary():
    event = event_of(generic.parse({"dedup_key": "backup-42", "action": "resolve"}))
    assert (event.key, event.sender_ref, event.summary) == ("backup-42", "backup-42", "")


def test_generic_fields_are_all_read():
    event = event_of(generic.parse({
        "summary": "Backups failed", "details": {"job": "nightly", "exit": 2}, "dedup_key": "backup-42",
        "severity": "warning", "links": ["https://ci.example/42", {"href": "https://wiki.example/b", "text": "Wiki"}],
    }))
    assert event.key == "backup-42"
    assert event.severity == "warning" and not event.phones_by_default
    assert '"job": "nightly"' in event.details
    assert event.links == (Link("https://ci.example/42", ""), Link("https://wiki.example/b", "Wiki"))


@pytest.mark.parametrize("body, expected", [
    ({}, "summary: is missing"),
    ({"summary": " \u200b\x00 "}, "summary: is empty"),
    ({"summary": ["a"]}, "summary: must be a string, not a list"),
    ({"action": "resolve"}, "summary: is missing"),
    ({"summary": "x", "action": "close"}, 'action: must be "trigger" or "resolve"'),
    ({"summary": "x", "action": 1}, "action: must be a string, not a number"),
    ({"summary": "x", "dedup_key": "k" * 256}, "dedup_key: is longer than 255 characters"),
    ({"summary": "x", "dedup_key": " "}, "dedup_key: is empty"),
    ({"summary": "x", "severity": {"level": 1}}, "severity: must be a string, not an object"),
    ({"summary": "x", "links": "https://a.example"}, "links: must be a list, not a string"),
    ({"summary": "x", "links": ["javascript:alert(1)"]}, "links[0]: must be an http or https URL"),
    ({"summary": "x", "links": [{"text": "Wiki"}]}, "links[0].href: is missing"),
    ({"summary": "x", "links": [{"href": "ftp://a.example"}]}, "links[0].href: must be an http or https URL"),
    ({"summary": "x", "links": [3]}, "links[0]: must be a URL or an object with href, not a number"),
])
def test_a_malformed_generic_body_is_refused_saying_which_field(body, expected):
    assert expected in refused(generic.parse(body))


def test_a_generic_body_says_all_its_problems_in_our_own_answer():
    result = generic.parse({"summary": 1, "action": "close"})
    assert result.body() == {"error": "action: must be \"trigger\" or \"resolve\"; summary: must be a string, not a number",
                             "errors": ['action: must be "trigger" or "resolve"', "summary: must be a string, not a number"]}


# --- Opsgenie -----------------------------------------------------------------------------------------------

def test_alertmanagers_opsgenie_create_is_a_p3_trigger_under_its_alias():
    event = event_of(opsgenie.parse_create(AM_OPSGENIE_CREATE))
    assert event.source == "opsgenie" and event.action is Action.TRIGGER
    assert event.key == GROUP_HASH and event.sender_ref == GROUP_HASH
    assert event.summary == "[FIRING:2] DiskFull (db)"
    assert event.severity == "P3" and event.phones_by_default
    assert event.details.startswith("Alerts Firing:\nLabels:")
    assert event.labels == (("alertname", "DiskFull"), ("team", "db"), ("source", ALERTS_URL))


def test_alertmanagers_opsgenie_close_resolves_the_alias():
    event = event_of(opsgenie.parse_action("close", GROUP_HASH, "alias", {"source": ALERTS_URL}))
    assert (event.action, event.key, event.summary) == (Action.RESOLVE, GROUP_HASH, "")
    assert not event.phones_by_default


def test_opsgenie_acknowledge_by_id_names_the_same_alert_as_its_alias():
    event = event_of(opsgenie.parse_action("acknowledge", GROUP_HASH, None, None))
    assert (event.action, event.key) == (Action.ACKNOWLEDGE, GROUP_HASH)


def test_opsgenie_message_and_description_updates_carry_the_new_words():
    message = event_of(opsgenie.parse_action("message", GROUP_HASH, "alias", {"message": "[FIRING:3] DiskFull"}))
    description = event_of(opsgenie.parse_action("description", GROUP_HASH, "alias", {"description": "three now"}))
    assert (message.action, message.summary, message.details) == (Action.UPDATE, "[FIRING:3] DiskFull", "")
    assert (description.action, description.summary, description.details) == (Action.UPDATE, "", "three now")


@pytest.mark.parametrize("priority, phones", [("P1", True), ("P2", True), ("P3", True), ("P4", False), ("P5", False)])
def test_opsgenie_p4_and_p5_do_not_phone(priority, phones):
    assert event_of(opsgenie.parse_create({"message": "m", "priority": priority})).phones_by_default is phones


def test_an_opsgenie_create_without_alias_is_named_by_its_message():
    event = event_of(opsgenie.parse_create({"message": "Queue stuck"}))
    assert event.key == hashlib.sha256(b"Queue stuck").hexdigest() and event.sender_ref is None


def test_an_opsgenie_create_without_message_gets_opsgenies_own_422():
    result = opsgenie.parse_create({"alias": "a"})
    assert refused(result, 422)
    assert opsgenie.error_body(result) == {"message": "Request body is not processable. Please check the errors.",
                                           "errors": {"message": "Message can not be empty."}}


def test_an_opsgenie_create_with_a_bad_priority_gets_opsgenies_own_422():
    assert opsgenie.error_body(opsgenie.parse_create({"message": "m", "priority": "P0"}))["errors"] == \
        {"priority": "should be one of [ P1, P2, P3, P4, P5 ]"}


@pytest.mark.parametrize("body, field, expected", [
    ({"message": 5}, "message", "Message can not be empty."),
    ({"message": "\x00\u200b"}, "message", "Message can not be empty."),
    ({"message": "m", "priority": ["P1"]}, "priority", "should be one of [ P1, P2, P3, P4, P5 ]"),
    ({"message": "m", "alias": "a" * 513}, "alias", "is longer than 512 characters"),
    ({"message": "m", "alias": {"id": 1}}, "alias", "must be a string, not an object"),
    ({"message": "m", "details": {"a": {"b": "c"}}}, "details", "should be a map of strings"),
    ({"message": "m", "details": ["a"]}, "details", "should be a map of strings"),
    ({"message": "m", "tags": "a,b"}, "tags", "should be a list of strings"),
    ({"message": "m", "description": 1.5}, "description", "must be a string, not a number"),
])
def test_a_malformed_opsgenie_create_gets_a_422_naming_the_field(body, field, expected):
    assert opsgenie.error_body(opsgenie.parse_create(body))["errors"][field] == expected


@pytest.mark.parametrize("action, identifier, identifier_type, body, status, expected", [
    ("close", GROUP_HASH, "tiny", {}, 422, "identifierType: should be one of [ id, alias ]"),
    ("close", " ", "alias", {}, 422, "identifier: should be 1 to 512 characters"),
    ("close", "a" * 513, "alias", {}, 422, "identifier: should be 1 to 512 characters"),
    ("close", GROUP_HASH, "alias", {"note": ["x"]}, 422, "note: must be a string, not a list"),
    ("close", GROUP_HASH, "alias", [], 400, "the body must be a JSON object, not a list"),
    ("message", GROUP_HASH, "alias", {}, 422, "message: Message can not be empty."),
    ("description", GROUP_HASH, "alias", {}, 422, "description: is missing"),
    ("snooze", GROUP_HASH, "alias", {}, 404, "no such action; use close, acknowledge, message or description"),
])
def test_a_malformed_opsgenie_action_is_refused(action, identifier, identifier_type, body, status, expected):
    assert expected in refused(opsgenie.parse_action(action, identifier, identifier_type, body), status)


def test_opsgenie_details_numbers_are_text_and_the_note_is_kept():
    event = event_of(opsgenie.parse_create({"message": "m", "details": {"count": 5, "ok": True}, "note": "n",
                                            "tags": ["db", "prod"]}))
    assert event.labels == (("count", "5"), ("ok", "true"), ("tags", "db, prod"))
    assert event.details == "n"


# --- PagerDuty ----------------------------------------------------------------------------------------------

def test_alertmanagers_pagerduty_trigger_is_an_error_that_phones_under_its_dedup_key():
    event = event_of(pagerduty.parse(AM_PAGERDUTY_TRIGGER))
    assert event.source == "pagerduty" and event.action is Action.TRIGGER
    assert event.key == GROUP_HASH and event.sender_ref == GROUP_HASH
    assert event.summary == "[FIRING:2] DiskFull (db)"
    assert event.severity == "error" and event.phones_by_default
    assert event.labels == (("source", "Alertmanager"),)
    assert event.links == (Link(ALERTS_URL, "Alertmanager"),)
    assert '"num_firing": 2' in event.details
    assert "rk-0123456789abcdef" not in repr(event)
    assert pagerduty.accepted_body(event) == {"status": "success", "message": "Event processed",
                                              "dedup_key": GROUP_HASH}


def test_alertmanagers_pagerduty_resolve_needs_only_the_dedup_key():
    body = {"routing_key": "rk", "dedup_key": GROUP_HASH, "event_action": "resolve",
            "payload": {"summary": "[RESOLVED] DiskFull (db)", "source": "Alertmanager", "severity": "error"}}
    event = event_of(pagerduty.parse(body))
    assert (event.action, event.key, event.summary) == (Action.RESOLVE, GROUP_HASH, "")


@pytest.mark.parametrize("severity, phones", [("critical", True), ("error", True), ("warning", False), ("info", False)])
def test_pagerduty_warning_and_info_do_not_phone(severity, phones):
    body = {"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": severity}}
    assert event_of(pagerduty.parse(body)).phones_by_default is phones


def test_a_pagerduty_trigger_without_dedup_key_gets_one_that_a_retry_gets_again():
    body = {"routing_key": "rk", "event_action": "trigger",
            "payload": {"summary": "CPU high", "source": "web1", "severity": "critical",
                        "timestamp": "2026-12-03T10:01:52.123+00:00", "component": "nginx"},
            "links": [{"href": "https://grafana.example/d/1", "text": "Dashboard"}, {"href": "mailto:x@y"}]}
    first, again = event_of(pagerduty.parse(body)), event_of(pagerduty.parse(body))
    assert first.key == again.key == hashlib.sha256(b"web1\nCPU high").hexdigest()
    assert first.sender_ref is None
    assert first.fired_at.isoformat() == "2026-12-03T10:01:52.123000+00:00"
    assert first.labels == (("source", "web1"), ("component", "nginx"))
    assert first.links == (Link("https://grafana.example/d/1", "Dashboard"),)


@pytest.mark.parametrize("body, expected", [
    ({"payload": {}}, "event_action: is missing"),
    ({"event_action": "snooze"}, "event_action: must be trigger, acknowledge or resolve"),
    ({"event_action": "resolve"}, "dedup_key: is missing"),
    ({"event_action": "acknowledge", "dedup_key": 7}, "dedup_key: must be a string, not a number"),
    ({"event_action": "acknowledge", "dedup_key": "k" * 256}, "dedup_key: is longer than 255 characters"),
    ({"event_action": "trigger"}, "payload: is missing"),
    ({"event_action": "trigger", "payload": "down"}, "payload: must be an object, not a string"),
    ({"event_action": "trigger", "payload": {"source": "h", "severity": "error"}}, "payload.summary: is missing"),
    ({"event_action": "trigger", "payload": {"summary": "s", "severity": "error"}}, "payload.source: is missing"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h"}}, "payload.severity: is missing"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "high"}},
     "payload.severity: must be one of critical, error, warning, info"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "info", "timestamp": "now"}},
     "payload.timestamp: must be a time with its offset, e.g. 2026-12-03T10:01:52Z"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "info"}, "links": {}},
     "links: must be a list, not an object"),
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "h", "severity": "info"}, "links": ["x"]},
     "links[0]: must be an object, not a string"),
])
def test_a_malformed_pagerduty_event_is_refused_saying_which_field(body, expected):
    assert expected in refused(pagerduty.parse(body))


def test_a_refused_pagerduty_event_is_answered_in_pagerdutys_shape_without_the_routing_key():
    result = pagerduty.parse({"routing_key": "secret-routing-key", "event_action": "trigger", "payload": {}})
    answer = pagerduty.error_body(result)
    assert answer == {"status": "invalid event", "message": "Event object is invalid",
                      "errors": ["payload.summary: is missing", "payload.source: is missing",
                                 "payload.severity: is missing"]}
    assert "secret-routing-key" not in repr(answer)
