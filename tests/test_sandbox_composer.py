"""The console sends what Slack would send: checked by a real Bolt app, which accepts only that."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest
from slack_bolt.authorization import AuthorizeResult

from answer_server.sandbox.composer import (
    block_actions_body,
    command_body,
    escape_text,
    manifest_commands,
    signed_headers,
)

SECRET = "sandbox-signing-secret"
BUTTON = {"type": "button", "action_id": "retry_call", "value": "call-42", "text": {"type": "plain_text", "text": "Retry"}}
MESSAGE = {"ts": "1700000000.000100", "channel": "C0SANDBOX", "user": "U0VOICEBOT", "text": "Call failed",
           "ephemeral": False, "blocks": [{"type": "actions", "block_id": "b1", "elements": [BUTTON]}]}


def bolt_app(seen: list) -> App:
    app = App(signing_secret=SECRET, authorize=lambda enterprise_id, team_id: AuthorizeResult(
        enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-x"))

    @app.command("/voicealert")
    def on_command(ack, command):
        seen.append(command)
        ack("heard")

    @app.action("retry_call")
    def on_click(ack, body):
        seen.append(body)
        ack()

    return app


def dispatch(app: App, body: str, headers: dict[str, str]):
    return app.dispatch(BoltRequest(body=body, headers={k: [v] for k, v in headers.items()}))


def test_the_manifest_says_which_commands_slack_escapes():
    assert manifest_commands() == {"/voiceotp": False, "/voicealert": True, "/oncall": True}


def test_with_should_escape_mentions_become_slack_escapes_and_markup_characters_entities():
    assert escape_text("@alice > @oncall, #sandbox & @nobody +1 415", True) == (
        "<@U0ALICE|alice> &gt; <!subteam^S0ONCALL|@oncall>, <#C0SANDBOX|sandbox> &amp; @nobody +1 415")


def test_without_should_escape_mentions_stay_as_typed():
    assert escape_text("@alice > @bob", False) == "@alice &gt; @bob"


def test_a_slash_command_is_form_encoded_in_slacks_field_order_and_bolt_accepts_its_signature():
    body = command_body("/voicealert", escape_text("@alice +14155550123 fire!", True), channel_id="C0SANDBOX",
                        user_id="U0SANDBOX", response_url="http://127.0.0.1:3000/sandbox/slack/commands/T/1/x",
                        trigger_id="1.2.3")
    assert [key for key, _ in parse_qsl(body)] == [
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command",
        "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id"]
    assert "text=%3C%40U0ALICE%7Calice%3E+%2B14155550123" in body  # a typed + arrives as %2B, not a space
    seen: list = []
    reply = dispatch(bolt_app(seen), body, signed_headers(SECRET, body))
    assert (reply.status, reply.body) == (200, "heard")
    assert seen[0]["text"] == "<@U0ALICE|alice> +14155550123 fire!" and seen[0]["user_id"] == "U0SANDBOX"
    forged = signed_headers("another-secret", body)
    assert dispatch(bolt_app([]), body, forged).status == 401


def test_a_button_click_is_a_signed_block_actions_payload_that_bolt_routes_to_the_action():
    body = block_actions_body(MESSAGE, BUTTON, "b1", user_id="U0SANDBOX",
                              response_url="http://127.0.0.1:3000/sandbox/slack/commands/T/1/y", trigger_id="1.2.3")
    assert body.startswith("payload=")
    seen: list = []
    reply = dispatch(bolt_app(seen), body, signed_headers(SECRET, body))
    assert reply.status == 200
    click = seen[0]
    assert click["type"] == "block_actions" and click["container"]["message_ts"] == MESSAGE["ts"]
    assert click["actions"][0] | {"action_ts": ""} == {
        "action_id": "retry_call", "block_id": "b1", "value": "call-42", "type": "button",
        "text": BUTTON["text"], "action_ts": ""}
    assert click["channel"]["id"] == "C0SANDBOX" and click["user"]["id"] == "U0SANDBOX"
    assert click["response_url"].endswith("/y") and json.dumps(click["message"]["blocks"])
