"""Workflow Builder steps: signed function_executed events in, functions.completeSuccess / completeError out."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

from tests import test_voicealert_flow as flow
from tests.conftest import hear_code, send

alert_app, client, slack, people = flow.alert_app, flow.client, flow.slack, flow.people
ALICE = "+14155550101"
STEP_TOKEN = "xwfp-step-token-for-tests"


def executed(slack_, callback_id: str, inputs: dict, execution_id: str = "Fx0001"):
    body = json.dumps({
        "token": "deprecated-verification-token", "team_id": "T0001", "api_app_id": "A0VOICE",
        "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "event": {"type": "function_executed", "function": {
            "id": "Fn0001", "callback_id": callback_id, "title": callback_id, "type": "app", "app_id": "A0VOICE"},
            "inputs": inputs, "function_execution_id": execution_id, "workflow_execution_id": "Wx0001",
            "event_ts": f"{time.time():.6f}", "bot_access_token": STEP_TOKEN},
        "authorizations": [{"enterprise_id": None, "team_id": "T0001", "user_id": "UBOT", "is_bot": True,
                            "is_enterprise_install": False}],
    })
    return slack_.sign("/slack/events", body, content_type="application/json")


def completions(fake_slack, method: str) -> list[dict]:
    return [r.body_dict | {"token": r.headers.get("authorization", "")} for r in fake_slack.requests
            if r.method_or_path == method]


def test_phoning_until_one_acknowledges_completes_when_someone_does(client, slack, plivo, plivo_rest, fake_slack,
                                                                    clock):
    assert send(client, executed(slack, "phone_until_acknowledged", {
        "people": ["U1"], "message": "The database is down", "requested_by": "U0ANA"})).status_code == 200
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to(ALICE))
    assert completions(fake_slack, "functions.completeSuccess") == []  # not before the alert ends
    alice = flow.callee(client, plivo, plivo_rest, ALICE)
    clock.advance(seconds=42)
    alice.press(alice.follow(alice.answer()), "1")
    [done] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeSuccess"))
    assert done["token"] == f"Bearer {STEP_TOKEN}" and done["function_execution_id"] == "Fx0001"
    outputs = done["outputs"] if isinstance(done["outputs"], dict) else json.loads(done["outputs"])
    assert outputs == {"acknowledged": True, "acknowledged_by": "U1", "seconds": 42, "outcome": "acknowledged"}


def test_a_step_delivered_twice_raises_one_alert(client, slack, plivo_rest, fake_slack):
    for _ in range(2):
        send(client, executed(slack, "phone_until_acknowledged", {"people": ["U1"], "message": "Disk full"}))
        flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.created)
    flow.settle(client)
    assert len(plivo_rest.created) == 1


def test_a_refusal_fails_the_step_with_the_commands_sentence(settings, plivo_api, clock, slack, fake_slack,
                                                              plivo_rest):
    app = flow.clocked_app(replace(settings, allowed_slack_users=frozenset({"U0BOSS"})), clock)
    try:
        client_ = app.test_client()
        send(client_, executed(slack, "phone_until_acknowledged", {
            "people": ["U1"], "message": "x", "requested_by": "U0ANA"}))
        [failed] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeError"))
        # A workflow's inputs cannot prove who asked: with who-may-call lists set, the steps are off.
        assert "steps are off" in failed["error"] and failed["token"] == f"Bearer {STEP_TOKEN}"
        assert plivo_rest.created == []
    finally:
        app.extensions["voicebridge"]["close"]()


def test_calling_a_number_with_a_code_completes_with_the_calls_outcome(client, slack, plivo, plivo_rest,
                                                                       fake_slack):
    send(client, executed(slack, "call_with_voice_code", {"phone_number": "+14155550123", "code": "483920"},
                          execution_id="Fx0002"))
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to("+14155550123"))
    call = plivo_rest.to("+14155550123")[0]
    assert hear_code(client, plivo, call, call_uuid="call-step") == "483920"
    callee = flow.callee(client, plivo, plivo_rest, "+14155550123")
    callee.call_uuid = "call-step"
    callee.hang_up(duration=25)
    [done] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeSuccess"))
    outputs = done["outputs"] if isinstance(done["outputs"], dict) else json.loads(done["outputs"])
    assert outputs == {"outcome": "answered", "code_read": True, "seconds": 25}
    assert "483920" not in json.dumps(completions(fake_slack, "functions.completeSuccess"))


def test_a_bad_number_fails_the_step_and_calls_nobody(client, slack, plivo_rest, fake_slack):
    send(client, executed(slack, "call_with_voice_code", {"phone_number": "+1415555"}, execution_id="Fx0003"))
    [failed] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeError"))
    assert "number" in failed["error"].lower()
    assert plivo_rest.created == []


def test_a_step_with_a_channel_keeps_the_alerts_message_there_raised_by_the_workflow(client, slack, plivo_rest,
                                                                                      fake_slack):
    send(client, executed(slack, "phone_until_acknowledged", {"people": ["U1"], "message": "Disk full",
                                                               "channel": "C0OPS"}, execution_id="Fx0004"))
    flow.settle(client)
    posted = flow.alert_message(fake_slack, "Disk full")
    assert "*Alert* from a Slack workflow" in posted.blocks[0]["text"]["text"]


def test_a_step_waiting_across_a_restart_is_completed_by_the_next_process(settings, plivo_api, clock, slack, plivo,
                                                                          plivo_rest, fake_slack):
    first = flow.clocked_app(settings, clock)
    send(first.test_client(), executed(slack, "phone_until_acknowledged", {"people": ["U1"], "message": "Disk full"},
                                       execution_id="Fx0005"))
    flow.settle(first.test_client())
    fake_slack.wait_for(lambda: plivo_rest.to(ALICE))
    first.extensions["voicebridge"]["close"]()  # the process goes; the step waits in the database
    second = flow.clocked_app(settings, clock)
    try:
        client_ = second.test_client()
        alice = flow.callee(client_, plivo, plivo_rest, ALICE)
        alice.press(alice.follow(alice.answer()), "1")
        [done] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeSuccess"))
        assert done["function_execution_id"] == "Fx0005" and done["token"] == f"Bearer {STEP_TOKEN}"
    finally:
        second.extensions["voicebridge"]["close"]()
    with second.extensions["voicebridge"]["engine"].connect() as conn:
        from sqlalchemy import select

        from voice.store.schema import workflow_steps

        row = conn.execute(select(workflow_steps)).mappings().one()
    assert row["completed_at"] is not None and row["token"] == ""  # the step's token is gone once used


def test_a_number_the_policy_refuses_fails_the_step_with_the_commands_sentence(client, slack, plivo_rest, fake_slack):
    from bot.mrkdwn import unescape

    reply = unescape(send(client, slack.command("+19005550123 483920")).get_data(as_text=True))
    send(client, executed(slack, "call_with_voice_code", {"phone_number": "+19005550123", "code": "483920"},
                          execution_id="Fx0006"))
    [failed] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeError"))
    assert failed["error"] and failed["error"] in reply  # the very sentence the command says
    assert plivo_rest.created == []


def test_a_requester_at_their_alert_limit_fails_the_step_with_the_limit_and_when_it_frees_up(
        settings, plivo_api, clock, slack, fake_slack, plivo_rest):
    app = flow.clocked_app(replace(settings, alert_limit_requester_hour=2), clock)
    try:
        client_ = app.test_client()
        for n in range(2):
            send(client_, slack.command(f"<@U1> Outage {n}", command="/voicealert"))
        flow.settle(client_)
        fake_slack.wait_for(lambda: len(plivo_rest.created) == 2)
        clock.advance(minutes=15)
        send(client_, executed(slack, "phone_until_acknowledged", {
            "people": ["U1"], "message": "The database is down", "requested_by": "U0ANA"}))
        [failed] = fake_slack.wait_for(lambda: completions(fake_slack, "functions.completeError"))
        assert failed["error"] == ("Limit reached: at most 2 alerts raised by one person per hour. The next call is "
                                   "possible at 11:00 UTC (in 45 min). No call was placed.")
        flow.settle(client_)
        assert len(plivo_rest.created) == 2
        assert flow.refusal_kinds(app) == ["rate_limit"]
    finally:
        app.extensions["voicebridge"]["close"]()
