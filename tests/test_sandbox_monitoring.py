"""The sandbox's monitoring demo, through the console's endpoints as the page drives them: the built-in
integration sandbox-demo alerted as Alertmanager would, Alice's phone ringing, her key, and the resolve
that stops her call; the message in #sandbox; ROUTING_FILE's integrations kept beside it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest
import requests

from answer_server.sandbox import load_sandbox_settings
from answer_server.sandbox.monitoring import SUMMARY, webhook_body
from tests.sandbox_server import RunningSandbox, ServerThread, start_loaded, stop_loaded
from voice.intake.credentials import token_digest
from voice.settings import SettingsError

ALICE = "+14155550101"


def start(tmp_path, speed: float = 5, **options) -> tuple[RunningSandbox, ServerThread]:
    # Slow enough that Alice's call still waits for her key when a test resolves the alert.
    return start_loaded(tmp_path, speed, **options)


stop = stop_loaded


@pytest.fixture
def sandbox(tmp_path):
    running, server = start(tmp_path)
    yield running
    stop(running, server)


def console(sandbox: RunningSandbox, action: str) -> dict:
    reply = requests.post(f"{sandbox.url}/sandbox/api/monitoring/{action}", json={}, timeout=15)
    assert reply.status_code == 200, reply.text
    return reply.json()


def alice_calls(state: dict) -> list[dict]:
    return [call for call in state["calls"] if call["to"] == ALICE]


def heard(call: dict) -> str:
    return " ".join(line["text"] for line in call["transcript"])


def incident_message(sandbox: RunningSandbox, showing: str) -> dict:
    return sandbox.wait_for(lambda s: next((m for m in s["messages"] if m["channel"] == "C0SANDBOX"
                                            and not m["ephemeral"] and showing in m["text"]), None))


def test_a_test_alert_rings_alice_and_resolving_it_hangs_up_and_says_resolved_in_the_channel(sandbox):
    sent = console(sandbox, "alert")
    assert sent["ok"] and sent["status"] == 202 and sent["answer"]["outcome"] == "opened"
    assert sandbox.state()["monitoring"]["firing"] is True
    alice = sandbox.wait_for(lambda s: next((c for c in alice_calls(s) if c["listening"]), None))
    assert "This is an alert from sandbox-demo" in heard(alice) and SUMMARY in heard(alice)
    assert "Press 1 to acknowledge" in heard(alice)
    message = incident_message(sandbox, "sandbox-demo")
    assert "(Alertmanager)" in message["text"] and SUMMARY in message["text"]
    assert "Severity *critical*" in json.dumps(message["blocks"])

    resolved = console(sandbox, "resolve")
    assert resolved["answer"]["outcome"] == "resolved" and resolved["answer"]["incident"] == sent["answer"]["incident"]
    # Her call is hung up by the app through Plivo's API, mid-menu: the calls stop.
    ended = sandbox.wait_for(lambda s: next((c for c in alice_calls(s) if c["state"] == "ended"), None))
    assert ended["ending"]["source"] == "API Request", ended["ending"]
    message = incident_message(sandbox, "Resolved by Alertmanager")
    assert "Resolved by Alertmanager <!date^" in json.dumps(message["blocks"])
    state = sandbox.state()
    assert state["monitoring"]["firing"] is False and len(alice_calls(state)) == 1

    # Fired again after that: a new incident, and Alice's phone rings again (the sandbox's interval is 0).
    again = console(sandbox, "alert")
    assert again["answer"]["outcome"] == "opened" and again["answer"]["incident"] != sent["answer"]["incident"]
    sandbox.wait_for(lambda s: len(alice_calls(s)) == 2)


def test_a_second_send_while_it_fires_is_counted_without_a_call_and_alices_1_acknowledges_it(sandbox):
    assert console(sandbox, "alert")["answer"]["outcome"] == "opened"
    sandbox.wait_for(lambda s: next((c for c in alice_calls(s) if c["listening"]), None))
    assert console(sandbox, "alert")["answer"]["outcome"] == "fired again"
    counted = sandbox.wait_for(lambda s: next((m for m in s["messages"] if "Fired 2 times" in json.dumps(m["blocks"])),
                                              None))
    assert counted["channel"] == "C0SANDBOX"
    sandbox.press_when_asked(ALICE, "1")
    incident_message(sandbox, "Acknowledged")
    ended = sandbox.wait_for(lambda s: next((c for c in alice_calls(s) if c["state"] == "ended"), None))
    assert "Acknowledged. Thank you." in heard(ended)
    assert len(alice_calls(sandbox.state())) == 1


def test_the_token_is_used_only_on_the_wire_never_in_the_console_or_a_log_line(tmp_path, caplog):
    token = "demo-token-of-this-run-0123456789abcdef"
    running, server = start(tmp_path, demo_token=token)
    try:
        caplog.set_level(logging.DEBUG)
        assert console(running, "alert")["ok"]
        running.wait_for(lambda s: alice_calls(s))
        assert console(running, "resolve")["ok"]
        assert token not in json.dumps(running.state()) and token not in requests.get(f"{running.url}/sandbox").text
        assert caplog.records and token not in caplog.text
        # The token is the integration's: a sender holding it is let in, any other is not.
        body = webhook_body('{}:{alertname="Other"}', "firing", datetime.now(timezone.utc), None)
        url = f"{running.url}/integrations/alertmanager"
        assert requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 202
        assert requests.post(url, json=body, headers={"Authorization": "Bearer guessed"}).status_code == 401
    finally:
        stop(running, server)


def test_each_run_stores_a_new_token_for_sandbox_demo_and_its_first_alert_phones(tmp_path):
    stored = []
    for _ in range(2):
        running, server = start(tmp_path)
        try:
            stored.append(running.app.extensions["voicebridge"]["services"].integrations.named("sandbox-demo"))
            assert console(running, "alert")["answer"]["outcome"] == "opened"  # a fresh run's first alert phones
        finally:
            stop(running, server)
    first, second = stored
    assert first.token_sha256 != second.token_sha256
    assert (second.channel_id, second.call) == ("C0SANDBOX", "U0ALICE")


def test_a_routing_files_integrations_come_beside_sandbox_demo(tmp_path):
    (tmp_path / "routing.yaml").write_text(
        "integrations:\n  - name: my-team\n    token_env: MY_TEAM_TOKEN\n    channel: C0SANDBOX\n    call: U0BOB\n")
    environ = {"ROUTING_FILE": str(tmp_path / "routing.yaml"), "MY_TEAM_TOKEN": "my-team-token-0123456789"}
    running, server = start(tmp_path, environ=environ)
    try:
        stored = running.app.extensions["voicebridge"]["services"].integrations.listed()
        assert [i.name for i in stored] == ["my-team", "sandbox-demo"]
        assert stored[0].token_sha256 == token_digest("my-team-token-0123456789")
        reply = requests.post(f"{running.url}/integrations/generic", json={"summary": "Queue backlog"},
                              headers={"Authorization": "Bearer my-team-token-0123456789"}, timeout=10)
        assert reply.status_code == 202
        running.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == "+14155550102"), None))
        assert console(running, "alert")["answer"]["outcome"] == "opened"
        running.wait_for(lambda s: alice_calls(s))
    finally:
        stop(running, server)


def test_a_routing_file_may_not_take_the_built_in_name_and_its_problems_stop_the_start(tmp_path):
    (tmp_path / "routing.yaml").write_text(
        "integrations:\n  - name: sandbox-demo\n    token_sha256: " + "a" * 64 + "\n    channel: C0SANDBOX\n"
        "    call: U0BOB\n")
    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"ROUTING_FILE": str(tmp_path / "routing.yaml")})
    assert raised.value.problems == [
        "ROUTING_FILE: sandbox-demo is the sandbox's built-in integration: give yours another name"]
    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"ROUTING_FILE": str(tmp_path / "missing.yaml")})
    assert raised.value.problems[0].startswith(f"ROUTING_FILE: {tmp_path / 'missing.yaml'} cannot be read")


def test_the_sandbox_phones_for_every_new_incident_unless_told_an_interval():
    assert load_sandbox_settings({})[0].integration_call_interval == 0
    assert load_sandbox_settings({"INTEGRATION_CALL_INTERVAL": "300"})[0].integration_call_interval == 300
    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"INTEGRATION_CALL_INTERVAL": "soon"})
    assert raised.value.problems[0].startswith("INTEGRATION_CALL_INTERVAL ")
