"""Alerts from monitoring through the whole app, in-process: each sender's request as it sends it, the
calls placed on Plivo's REST API (`responses`), the callee's call followed as Plivo follows it, and the
incident's message on a loopback Slack. What a sender, a callee and the channel observe."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from answer_server.http.request_limits import MAX_ALERT_BODY_BYTES, MAX_BODY_BYTES
from tests.conftest import SIGNING_SECRET, send
from tests.fakes.senders import SlackSender
from tests.test_voicealert_flow import (
    CHANNEL,
    alert_message,
    callee,
    clocked_app,
    message_of,
    settle,
    speech,
)
from voice.intake.credentials import token_digest
from voice.routing.loading import parse_routing

TOKEN = "am-token-0123456789abcdef"
OTHER = "other-token-0123456789abcdef"
ALICE, BOB = "+14155550101", "+14155550102"

ROUTING = f"""
integrations:
  - name: backend-prod
    token_sha256: {token_digest(TOKEN)}
    channel: {CHANNEL}
    call: "U0ALICE > U0BOB"
  - name: quiet
    token_sha256: {token_digest(OTHER)}
    channel: {CHANNEL}
    call: "U0BOB"
    phone: [critical]
"""


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ALICE", "Alice Smith", "(415) 555-0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")


@pytest.fixture
def alert_app(settings, plivo_api, clock):
    routing = parse_routing(ROUTING, {})
    app = clocked_app(replace(settings, routing=routing), clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(alert_app):
    return alert_app.test_client()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


def group(status="firing", key='{}:{alertname="DiskFull"}', summary="Disk full on db-1", severity="critical",
          **extra) -> dict:
    """An Alertmanager webhook body (version 4), as https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
    documents it."""
    labels = {"alertname": "DiskFull", "instance": "db-1", "severity": severity}
    return {
        "version": "4", "groupKey": key, "truncatedAlerts": 0, "status": status, "receiver": "voicebridge",
        "groupLabels": {"alertname": "DiskFull"}, "commonLabels": labels,
        "commonAnnotations": {"summary": summary, "runbook_url": "https://runbooks.example.com/disk"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": status, "labels": labels, "annotations": {"summary": summary},
                    "startsAt": "2026-12-03T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph?g0.expr=disk", "fingerprint": "a1b2c3d4e5f60718"}],
    } | extra


def post_alertmanager(client, body, token=TOKEN, **headers):
    return client.post("/integrations/alertmanager", data=json.dumps(body),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"} | headers)


def created_to(plivo_rest, number):
    return [call for call in plivo_rest.created if call["to"] == number]


# -- a firing group phones, once ------------------------------------------------------------


def test_a_firing_group_phones_the_first_link_and_says_the_integration_and_summary(client, plivo, plivo_rest,
                                                                                  fake_slack):
    reply = post_alertmanager(client, group())
    assert reply.status_code == 202
    assert reply.json["status"] == "accepted" and reply.json["outcome"] == "opened"
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    assert created_to(plivo_rest, BOB) == []  # the second link waits for the first
    alice = callee(client, plivo, plivo_rest, ALICE)
    document = alice.answer()
    said = " ".join(speech(document))
    assert "backend-prod" in said and "Disk full on db-1" in said
    message = alert_message(fake_slack, "Disk full on db-1")
    shown = message.text + json.dumps(message.blocks)
    assert "backend-prod" in shown


def test_alertmanagers_repeat_of_a_firing_group_wakes_nobody_again(client, plivo_rest, fake_slack):
    assert post_alertmanager(client, group()).status_code == 202
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    # repeat_interval later, Alertmanager sends the group again (its own body: a new field order here).
    again = post_alertmanager(client, dict(reversed(list(group().items()))))
    assert again.status_code == 202 and again.json["outcome"] == "fired again"
    assert again.json["incident"] == post_alertmanager(client, group(summary="Disk full on db-1 (still)")).json["incident"]
    settle(client)
    assert len(plivo_rest.created) == 1
    alert_message(fake_slack, "3")  # fired 3 times, shown


def test_a_senders_retry_of_the_same_request_is_recorded_once(client, alert_app, plivo_rest):
    repeats = REGISTRY.get_sample_value("voicebridge_integration_events_total",
                                        {"source": "alertmanager", "outcome": "repeated"}) or 0
    body = json.dumps(group())
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    first = client.post("/integrations/alertmanager", data=body, headers=headers)
    retry = client.post("/integrations/alertmanager", data=body, headers=headers)
    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json["outcome"] == "repeated" and retry.json["incident"] == first.json["incident"]
    alert = alert_app.extensions["voicebridge"]["services"].alerts.get(first.json["incident"])
    assert alert.incident.fire_count == 1
    assert REGISTRY.get_sample_value("voicebridge_integration_events_total",
                                     {"source": "alertmanager", "outcome": "repeated"}) == repeats + 1


def test_resolved_by_alertmanager_every_call_stops_and_the_message_says_so(client, plivo, plivo_rest, fake_slack):
    post_alertmanager(client, group())
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.ring()
    reply = post_alertmanager(client, group(status="resolved"))
    assert reply.status_code == 202 and reply.json["outcome"] == "resolved"
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.stopped)
    assert plivo_rest.stopped == [("Request", alice.created["request_uuid"])]
    alert_message(fake_slack, "Resolved", "Alertmanager")
    # A firing after that is a new incident (the same body as the first: not taken for a retry).
    assert post_alertmanager(client, group()).json["outcome"] == "opened"


def test_a_warning_is_posted_without_a_call(client, plivo_rest, fake_slack):
    reply = post_alertmanager(client, group(severity="warning", key="{}:{alertname=\"Slow\"}", summary="Slow disk"))
    assert reply.status_code == 202
    settle(client)
    alert_message(fake_slack, "Slow disk")
    assert plivo_rest.created == []


# -- storms --------------------------------------------------------------------------------------


def test_a_storm_phones_once_and_puts_one_line_in_the_channel(client, plivo_rest, fake_slack, alert_app):
    outcomes = [post_alertmanager(client, group(key=f'{{}}:{{alertname="Down{n}"}}', summary=f"Service {n} down"))
                for n in range(6)]
    assert [reply.status_code for reply in outcomes] == [202] * 6
    assert len({reply.json["incident"] for reply in outcomes}) == 6  # nothing lost: six incidents
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    storm = alert_message(fake_slack, "storm", "5 incidents")
    assert "Service 5 down" in storm.text + json.dumps(storm.blocks)
    assert len(plivo_rest.created) == 1


# -- tokens and bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-000000000000", f"Basic {TOKEN}", f"Token {TOKEN}"])
def test_an_unknown_or_missing_token_gets_401_and_changes_nothing(client, plivo_rest, authorization, alert_app):
    headers = {"Authorization": authorization} if authorization else {}
    reply = client.post("/integrations/alertmanager", data=json.dumps(group()), headers=headers)
    assert reply.status_code == 401 and reply.json == {"error": "missing or unknown token"}
    settle(client)
    assert plivo_rest.created == []


def test_the_password_of_basic_auth_is_a_token(client):
    basic = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()
    assert post_alertmanager(client, group(), Authorization=f"Basic {basic}").status_code == 202


def test_a_body_that_is_not_a_group_gets_400_naming_the_problem(client):
    reply = post_alertmanager(client, {"version": "4", "status": "firing"})
    assert reply.status_code == 400 and "alerts" in reply.json["error"]
    assert client.post("/integrations/alertmanager", data="{not json", headers={
        "Authorization": f"Bearer {TOKEN}"}).status_code == 400


def test_monitoring_routes_take_a_megabyte_and_no_more_while_slack_keeps_its_cap(client):
    big = group(commonAnnotations={"summary": "Big", "description": "x" * (MAX_BODY_BYTES * 2)})
    assert post_alertmanager(client, big).status_code == 202
    huge = json.dumps(group(commonAnnotations={"summary": "Huge", "description": "x" * MAX_ALERT_BODY_BYTES}))
    reply = client.post("/integrations/alertmanager", data=huge, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 413
    assert reply.get_data(as_text=True) == f"request body too large: at most {MAX_ALERT_BODY_BYTES} bytes\n"


# -- the generic webhook ------------------------------------------------------------------------------


def test_the_generic_webhook_opens_and_resolves_by_dedup_key(client, plivo_rest, fake_slack):
    opened = client.post(f"/integrations/generic?token={TOKEN}", json={
        "summary": "Checkout errors above 5%", "dedup_key": "checkout", "severity": "critical",
        "links": [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}]})
    assert opened.status_code == 202 and opened.json["outcome"] == "opened"
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    resolved = client.post("/integrations/generic", json={"action": "resolve", "dedup_key": "checkout"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert resolved.json["outcome"] == "resolved" and resolved.json["incident"] == opened.json["incident"]


# -- the Opsgenie-shaped API ----------------------------------------------------------------------------


def test_opsgenie_create_close_and_its_errors_answer_as_opsgenie_does(client, plivo_rest, fake_slack):
    headers = {"Authorization": f"GenieKey {TOKEN}"}
    created = client.post("/opsgenie/v2/alerts", json={"message": "API latency high", "alias": "api-latency",
                                                       "priority": "P1", "tags": ["prod"]}, headers=headers)
    assert created.status_code == 202
    assert created.json["result"] == "Request will be processed"
    assert isinstance(created.json["took"], float) and len(created.json["requestId"]) == 36
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    closed = client.post("/opsgenie/v2/alerts/api-latency/close?identifierType=alias", json={"source": "am"},
                         headers=headers)
    assert closed.status_code == 202
    settle(client)
    alert_message(fake_slack, "Resolved")
    missing = client.post("/opsgenie/v2/alerts", json={"alias": "x"}, headers=headers)
    assert missing.status_code == 422 and missing.json["message"].startswith("Request body is not processable")
    assert client.post("/opsgenie/v2/alerts", json={"message": "x"},
                       headers={"Authorization": "GenieKey nope-000000000000"}).status_code == 401


def test_opsgenie_p4_does_not_phone_and_acknowledge_stops_a_p2(client, plivo_rest, fake_slack):
    headers = {"Authorization": f"GenieKey {TOKEN}"}
    client.post("/opsgenie/v2/alerts", json={"message": "Low disk", "alias": "low", "priority": "P4"}, headers=headers)
    settle(client)
    alert_message(fake_slack, "Low disk")
    assert plivo_rest.created == []


# -- the PagerDuty-shaped API -----------------------------------------------------------------------------


def test_pagerduty_trigger_and_resolve_answer_with_the_dedup_key(client, plivo_rest, fake_slack):
    trigger = client.post("/pagerduty/v2/enqueue", json={
        "routing_key": TOKEN, "event_action": "trigger",
        "payload": {"summary": "Payments failing", "source": "payments-1", "severity": "critical"}})
    assert trigger.status_code == 202
    assert trigger.json["status"] == "success" and trigger.json["message"] == "Event processed"
    key = trigger.json["dedup_key"]
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    resolve = client.post("/pagerduty/v2/enqueue", json={"routing_key": TOKEN, "event_action": "resolve",
                                                         "dedup_key": key})
    assert resolve.status_code == 202 and resolve.json["dedup_key"] == key
    settle(client)
    alert_message(fake_slack, "Resolved")


def test_pagerduty_with_an_unknown_routing_key_gets_its_invalid_event(client, plivo_rest):
    reply = client.post("/pagerduty/v2/enqueue", json={"routing_key": "nope-0000000000000000", "event_action": "trigger",
                                                       "payload": {"summary": "x", "source": "y", "severity": "info"}})
    assert reply.status_code == 400 and reply.json["status"] == "invalid event"
    assert plivo_rest.created == []


# -- acknowledged by phone, in Slack or at the source ------------------------------------------------------


def test_acknowledged_by_phone_the_next_link_is_never_called_and_later_firings_phone_nobody(
        client, plivo, plivo_rest, fake_slack):
    post_alertmanager(client, group())
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    done = alice.press(menu, "1")
    # Nobody raised it in person: 9 opens a call the team joins from Slack.
    assert speech(done)[:2] == ["Acknowledged. Thank you.",
                                "Press 9 to open a call your team can join from Slack, or hang up."]
    bridge = alice.press(done, "9")
    assert speech(bridge) == ["Your team can join this call from Slack. Stay on the line, or hang up."]
    alert_message(fake_slack, "*Acknowledged* by <@U0ALICE> by phone")
    alice.hang_up()
    assert post_alertmanager(client, group(summary="Disk full on db-1 and db-2")).json["outcome"] == "fired again"
    settle(client)
    assert created_to(plivo_rest, BOB) == [] and len(created_to(plivo_rest, ALICE)) == 1


def test_the_acknowledge_button_of_an_incident_from_the_file_takes_it_in_slack(client, slack, plivo_rest, fake_slack):
    # ROUTING_FILE's integrations name no workspace: the one the app posts in is theirs, its people may click.
    post_alertmanager(client, group())
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    posted = alert_message(fake_slack, "Disk full on db-1")
    value = next(e["value"] for b in posted.blocks if b["type"] == "actions" for e in b["elements"])
    send(client, slack.action("alert_acknowledge", value, message=message_of(posted), user_id="U0BOB", username="bob"))
    settle(client)
    alert_message(fake_slack, "*Acknowledged* by <@U0BOB> in Slack")
    assert plivo_rest.stopped


def test_pagerdutys_acknowledge_stops_the_calls(client, plivo, plivo_rest, fake_slack):
    event = {"routing_key": TOKEN, "dedup_key": "db-down", "event_action": "trigger",
             "payload": {"summary": "DB down", "source": "db-1", "severity": "critical"}}
    client.post("/pagerduty/v2/enqueue", json=event)
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.ring()
    assert client.post("/pagerduty/v2/enqueue", json=event | {"event_action": "acknowledge"}).status_code == 202
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.stopped)
    alert_message(fake_slack, "*Acknowledged* by a PagerDuty client at the source")


def test_opsgenie_paths_it_does_not_take_answer_404_or_405_and_change_nothing(client, plivo_rest):
    headers = {"Authorization": f"GenieKey {TOKEN}"}
    assert client.post("/opsgenie/v2/alerts/api-latency/notes", json={"note": "x"}, headers=headers).status_code == 404
    assert client.put("/opsgenie/v2/alerts/api-latency/close", json={}, headers=headers).status_code == 405
    assert client.get("/opsgenie/v2/alerts", headers=headers).status_code == 405
    assert client.post("/opsgenie/v2/heartbeats/db/ping", headers=headers).status_code == 404
    settle(client)
    assert plivo_rest.created == []


# -- Grafana ---------------------------------------------------------------------------------------------

GRAFANA = Path(__file__).parent / "data" / "intake" / "grafana_webhook.json"


def test_grafanas_webhook_from_its_documentation_phones_with_its_title_and_links(client, plivo, plivo_rest,
                                                                                 fake_slack):
    body = json.loads(GRAFANA.read_text())
    reply = client.post("/integrations/alertmanager", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 202 and reply.json["outcome"] == "opened"
    settle(client)
    fake_slack.wait_for(lambda: created_to(plivo_rest, ALICE))
    said = " ".join(speech(callee(client, plivo, plivo_rest, ALICE).answer()))
    assert "[FIRING:2]  (blue)" in said or "FIRING:2" in said
    message = alert_message(fake_slack, "(Grafana)")
    assert "https://myrunbook.com/runbook/1234" in json.dumps(message.blocks)
    resolved = client.post("/integrations/alertmanager", json=body | {"status": "resolved", "state": "ok"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert resolved.json["outcome"] == "resolved"


def test_the_same_body_after_the_retry_window_is_alertmanagers_repeat_and_is_counted(client, alert_app, clock,
                                                                                    plivo_rest):
    body = json.dumps(group())
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    first = client.post("/integrations/alertmanager", data=body, headers=headers)
    clock.advance(minutes=3)  # repeat_interval: Alertmanager sends the very same bytes again
    repeat = client.post("/integrations/alertmanager", data=body, headers=headers)
    assert repeat.json["outcome"] == "fired again" and repeat.json["incident"] == first.json["incident"]
    settle(client)
    assert len(plivo_rest.created) == 1
