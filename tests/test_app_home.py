"""The App Home tab: published on app_home_opened, a test call from its button, never a code."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View

from bot.home.view import TEST_CALL_ACTION, home_view, masked
from tests import test_voicealert_flow as flow
from tests.conftest import hear_code, plivo_accepts, send
from voice.alerts.models import RequesterPhone
from voice.routing.loading import parse_routing

alert_app, client, slack, people = flow.alert_app, flow.client, flow.slack, flow.people
ALICE = "+14155550101"


def published(fake_slack, count: int = 1) -> list[dict]:
    calls = fake_slack.wait_for(lambda: len(fake_slack.calls("views.publish")) >= count and fake_slack.calls(
        "views.publish"))
    views = [call["view"] if isinstance(call["view"], dict) else json.loads(call["view"]) for call in calls]
    for view in views:
        View(**view).validate_json()
    return views


def shown(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def home_click(slack_, user_id: str = "U1"):
    payload = {
        "type": "block_actions", "user": {"id": user_id, "username": "alice", "name": "alice", "team_id": "T0001"},
        "api_app_id": "A0VOICE", "token": "deprecated-verification-token",
        "container": {"type": "view", "view_id": "VHOME1"}, "trigger_id": f"{secrets.randbelow(10**12)}.1.x",
        "team": {"id": "T0001", "domain": "example"}, "is_enterprise_install": False,
        "view": {"id": "VHOME1", "type": "home", "blocks": []},
        "actions": [{"action_id": TEST_CALL_ACTION, "block_id": "home_actions", "value": "test", "type": "button",
                     "text": {"type": "plain_text", "text": "Test call to me"}, "action_ts": f"{time.time():.6f}"}],
    }
    return slack_.sign("/slack/events", urlencode({"payload": json.dumps(payload)}))


def opened(slack_, user_id: str = "U1"):
    return slack_.event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home",
                         "event_ts": f"{time.time():.6f}"}, team_id="T0001")


def test_the_tab_says_how_alerts_reach_you_masked_or_how_to_fix_it():
    reachable = home_view("U1", RequesterPhone(number=ALICE), [], None)
    View(**reachable).validate_json()
    assert "+1 •••-•••-0101" in shown(reachable) and ALICE not in shown(reachable)
    assert TEST_CALL_ACTION in shown(reachable)
    unreachable = home_view("U3", RequesterPhone(problem="has no phone number in their Slack profile"), [], None)
    assert "cannot reach you" in shown(unreachable) and "Phone, with + and the country code" in shown(unreachable)
    assert TEST_CALL_ACTION not in shown(unreachable)
    assert masked("+442071838750") == "+44 •• •••• 8750"


def test_opening_the_tab_publishes_it_with_recent_calls_and_never_a_code(client, slack, fake_slack, plivo_api,
                                                                         plivo):
    plivo_accepts(plivo_api)
    send(client, slack.command("+14155550123", user_id="U1"))
    call = fake_slack.wait_for(lambda: [json.loads(c.request.body) for c in plivo_api.calls
                                        if c.request.url.endswith("/Call/")])[0]
    code = hear_code(client, plivo, call)
    assert send(client, opened(slack)).status_code == 200
    flow.settle(client)
    [view] = published(fake_slack)
    assert fake_slack.calls("views.publish")[0]["user_id"] == "U1"
    text = shown(view)
    assert "Alerts reach you at +1 •••-•••-0101" in text
    assert "Voice code to +1 •••-•••-0123: code read" in text
    assert code not in text and ", ".join(code) not in text


def test_the_test_call_rings_your_own_number_and_its_result_shows_in_the_tab(client, slack, fake_slack,
                                                                            plivo_rest, plivo):
    assert send(client, home_click(slack)).status_code == 200
    flow.settle(client)
    fake_slack.wait_for(lambda: plivo_rest.to(ALICE))
    created = plivo_rest.to(ALICE)[0]
    assert "/plivo/test/answer/" in created["answer_url"] and created["time_limit"] == 60
    me = flow.callee(client, plivo, plivo_rest, ALICE)
    prompt = me.answer()
    assert flow.speech(prompt) == ["This is a test call from VoiceBridge. Press 1 to confirm.", "Goodbye."]
    done = me.press(prompt, "1")
    assert flow.speech(done) == ["Acknowledged. Thank you."] and done[-1].tag == "Hangup"
    me.hang_up()
    fake_slack.wait_for(lambda: "Last test call: confirmed" in shown(published(fake_slack)[-1]))


def test_test_calls_are_limited_and_the_tab_says_so(client, slack, fake_slack, plivo_rest):
    for _ in range(4):
        send(client, home_click(slack))
        flow.settle(client)
    fake_slack.wait_for(lambda: any("At most 3 test calls in 10 minutes" in shown(view)
                                    for view in published(fake_slack)))
    assert len(plivo_rest.to(ALICE)) == 3


def test_someone_without_a_number_gets_no_call_and_is_told_how_to_fix_it(client, slack, fake_slack, plivo_rest):
    send(client, home_click(slack, user_id="U3"))  # Carol: no phone in her profile
    flow.settle(client)
    fake_slack.wait_for(lambda: any("cannot reach you" in shown(view) for view in published(fake_slack)))
    assert plivo_rest.created == []


@pytest.mark.parametrize(("allowed", "user", "called"), [
    ({"allowed_slack_channels": frozenset({"C0OPS"})}, "U1", False),
    ({"allowed_slack_channels": frozenset({"C0OPS"}), "allowed_slack_users": frozenset({"U1"})}, "U1", True),
    ({"allowed_slack_users": frozenset({"U0ANA"})}, "U1", False),
])
def test_the_test_call_asks_who_may_call_and_the_tab_has_no_channel(settings, plivo_api, plivo_rest, clock, slack,
                                                                     fake_slack, allowed, user, called):
    """Where calls may come only from some channels, the tab (no channel) is open only to the people
    ALLOWED_SLACK_USERS names one by one."""
    app = flow.clocked_app(replace(settings, **allowed), clock)
    client_ = app.test_client()
    send(client_, home_click(slack, user_id=user))
    flow.settle(client_)
    if called:
        fake_slack.wait_for(lambda: plivo_rest.to(ALICE))
    else:
        view = fake_slack.wait_for(lambda: [v for v in published(fake_slack) if "No call was placed" in shown(v)])[0]
        assert ("ALLOWED_SLACK_CHANNELS" if "allowed_slack_channels" in allowed else "ALLOWED_SLACK_USERS") in shown(view)
        assert plivo_rest.created == []
        assert flow.refusal_kinds(app) == ["not_allowed_channel" if "allowed_slack_channels" in allowed
                                           else "not_allowed_user"]
    app.extensions["voicebridge"]["close"]()


ROTA = """
schedules:
  - name: ops
    time_zone: UTC
    rotation: [U0ALICE, U0BOB]
    shift: daily
    handoff: "09:00"
    start: 2026-11-29
"""


def test_the_tab_shows_your_next_on_call_shifts_and_your_calendar_feed(settings, plivo_api, clock, slack, fake_slack):
    """Alice takes every other day of `ops` from 29 November, 09:00 UTC; it is 10:00 that day."""
    fake_slack.add_user("U0ALICE", "Alice Smith", "+1 415 555 0101")
    fake_slack.add_user("U0BOB", "Bob Jones", "+1 415 555 0102")
    app = flow.clocked_app(replace(settings, routing=parse_routing(ROTA, {})), clock)
    client_ = app.test_client()
    schedules = app.extensions["voicebridge"]["services"].schedules
    schedules.add_override("ops", "U0ALICE", datetime(2026, 12, 6, 9, tzinfo=timezone.utc),
                           datetime(2026, 12, 7, 9, tzinfo=timezone.utc), created_by="U0BOB")
    send(client_, opened(slack, user_id="U0ALICE"))
    flow.settle(client_)
    [view] = published(fake_slack)
    [section] = [block["text"]["text"] for block in view["blocks"]
                 if block["type"] == "section" and "Your next shifts" in block["text"]["text"]]
    lines = section.splitlines()
    def day(n: int) -> str:  # the hand-off n days after the first: Slack's token for it
        return f"<!date^{int((datetime(2026, 11, 29, 9, tzinfo=timezone.utc) + timedelta(days=n)).timestamp())}^"

    assert lines[1] == f"• *ops*: now – {day(1)}{{date_short_pretty}} {{time}}|2026-11-30 09:00 UTC>"
    assert lines[2].startswith(f"• *ops*: {day(2)}") and day(3) in lines[2]  # 1 to 2 December, and so on
    assert lines[5].startswith(f"• *ops*: {day(7)}") and lines[5].endswith("(override)")  # Bob's 6 December
    assert len(lines) == 1 + 5 + 1  # five shifts at the most, then the feed
    token = schedules.feed_token("ops")
    assert f"<https://voice.example.test/schedules/ops.ics?token={token}|ops.ics>" in lines[-1]
    send(client_, opened(slack, user_id="U3"))  # Carol is in no schedule: no such section
    flow.settle(client_)
    assert "Your next shifts" not in shown(published(fake_slack, 2)[-1])
    app.extensions["voicebridge"]["close"]()
