"""Slack's bodies parsed by their fields: a command that says "payload" is still a command."""

import json
from urllib.parse import urlencode

from answer_server.slack_requests import SlackRequest, parse_slack_body

FORM = "application/x-www-form-urlencoded"


def test_a_slash_command_whose_text_says_payload_is_a_command():
    raw = urlencode({"command": "/voicealert", "text": "<@U1> the payload service is down", "user_id": "U0"})
    request = SlackRequest(body=raw, headers={"content-type": FORM})
    assert request.body["command"] == "/voicealert"
    assert request.context.user_id == "U0"
    # Lazy listeners get a copy rebuilt from the raw body.
    copy = request.to_copyable()
    assert isinstance(copy, SlackRequest) and copy.body["text"] == "<@U1> the payload service is down"


def test_a_button_click_is_its_payload_field():
    payload = {"type": "block_actions", "user": {"id": "U2"}, "actions": [{"action_id": "a", "value": "1"}]}
    assert parse_slack_body(urlencode({"payload": json.dumps(payload)}), FORM) == payload


def test_json_bodies_and_empty_bodies_are_read_as_before():
    assert parse_slack_body('{"type": "url_verification"}', "application/json") == {"type": "url_verification"}
    assert parse_slack_body("", FORM) == {}
