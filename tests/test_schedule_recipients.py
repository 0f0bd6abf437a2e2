"""`schedule:<name>` as a recipient: in /voicealert and in an integration's `call:`, it phones whoever the
schedule has on call when the alert is raised (computed from the schedule, not the user group); nobody on call
is said in Slack and the chain goes on."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import SIGNING_SECRET, send
from tests.fakes.senders import SlackSender
from tests.test_voicealert_flow import CHANNEL, clocked_app, settle
from voice.intake.credentials import token_digest
from voice.routing.loading import parse_routing
from voice.schedules.models import ScheduleDef

ALICE, BOB, LEAD = "+14155550101", "+14155550102", "+14155550109"
TOKEN = "schedule-token-0123456789"
ROUTING = f"""
schedules:
  - name: backend
    time_zone: Europe/Berlin
    rotation: [U0ALICE, U0BOB]
    shift: daily
    handoff: "09:00"
    start: 2026-12-07
    user_group: S0ONCALL
  - name: later
    time_zone: UTC
    rotation: [U0ALICE]
    shift: daily
    handoff: "09:00"
    start: 2030-01-01
integrations:
  - name: backend-prod
    token_sha256: {token_digest(TOKEN)}
    channel: {CHANNEL}
    call: "schedule:backend > U0LEAD"
"""
#: Tuesday 8 December 2026, 12:00 in Berlin: Bob's day (Alice had the 7th).
TUESDAY = datetime(2026, 12, 8, 11, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user("U0ALICE", "Alice Smith", "+1 415 555 0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")
    fake_slack.add_user("U0LEAD", "Lee Lead", "+1 415 555 0109")
    fake_slack.add_usergroup("S0ONCALL", ["U0ALICE"])  # lagging: the schedule says Bob


@pytest.fixture
def client(settings, plivo_api, clock):
    clock.now = TUESDAY
    app = clocked_app(replace(settings, routing=parse_routing(ROUTING, {})), clock)
    yield app.test_client()
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url())


def test_voicealert_to_a_schedule_phones_who_it_has_on_call_not_who_the_group_holds(client, slack, plivo_rest,
                                                                                   fake_slack):
    reply = send(client, slack.command("schedule:backend The database is down", command="/voicealert"))
    assert reply.status_code == 200
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [BOB]


def test_an_override_is_who_it_phones(client, slack, plivo_rest, fake_slack, clock):
    services = client.application.extensions["voicebridge"]["services"]
    services.schedules.add_override("backend", "U0ALICE", clock.now - timedelta(hours=1), clock.now + timedelta(hours=2),
                                    created_by="U0BOB")
    send(client, slack.command("schedule:backend Disk full", command="/voicealert"))
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [ALICE]


def test_nobody_on_call_is_said_and_the_chain_goes_on(client, slack, plivo_rest, fake_slack):
    send(client, slack.command("schedule:later > <@U0LEAD> Disk full", command="/voicealert"))
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [LEAD]
    said = json.dumps(fake_slack.responses_to(slack.response_url))
    assert "schedule:later" in said and "nobody is on call for later now" in said


def test_a_deactivated_person_on_call_is_passed_over(client, slack, plivo_rest, fake_slack):
    fake_slack.deactivate("U0BOB")
    send(client, slack.command("schedule:backend Disk full", command="/voicealert"))
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [ALICE]


def test_an_integration_that_phones_a_schedule(client, plivo_rest, fake_slack):
    reply = client.post("/integrations/generic", json={"summary": "Checkout down", "severity": "critical"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 202
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [BOB]


def test_an_unknown_schedule_is_said_with_the_names_that_exist(client, slack, plivo_rest, fake_slack):
    send(client, slack.command("schedule:frontend > <@U0LEAD> Disk full", command="/voicealert"))
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    said = json.dumps(fake_slack.responses_to(slack.response_url))
    assert "is not a schedule (the schedules: backend, later)" in said


def test_another_workspaces_schedule_is_not_a_recipient_here(client, slack, plivo_rest, fake_slack):
    services = client.application.extensions["voicebridge"]["services"]
    theirs = services.schedules.get("backend").rotation
    assert services.schedules.create(ScheduleDef("their-ops", theirs), team_id="T0OTHER", created_by="U0X")
    send(client, slack.command("schedule:their-ops > <@U0LEAD> Disk full", command="/voicealert"))
    settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    assert [call["to"] for call in plivo_rest.created] == [LEAD]
    said = json.dumps(fake_slack.responses_to(slack.response_url))
    assert "is not a schedule (the schedules: backend, later)" in said  # theirs is not named either
