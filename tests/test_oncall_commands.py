"""/oncall through the whole app, in-process: Slack's signed commands, button clicks and form submissions, the
workers running here on a clock the test sets, and Slack's Web API and response_urls on the loopback stand-in
(which records any Block Kit or mrkdwn Slack would refuse: none may be)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View

from bot.oncall.commands import CommandError, Cover, parse_oncall
from bot.oncall.form import FormErrors, read_schedule
from tests import test_voicealert_flow as flow
from tests.conftest import SIGNING_SECRET, send
from tests.fakes.senders import SlackSender
from voice.routing.loading import parse_routing
from voice.schedules.models import DAYS, Handoff, Rotation, ScheduleDef, ShiftLength

UTC = timezone.utc
ANA, ALICE, BOB, CAROL = "U0ANA", "U0ALICE", "U0BOB", "U0CAROL"
ROUTING = f"""
schedules:
  - name: backend
    time_zone: Europe/Berlin
    rotation: [{ALICE}, {BOB}]
    shift: weekly
    handoff: "monday 09:00"
    start: 2026-12-07
"""
#: Wednesday 9 December 2026, 10:00 UTC (11:00 in Berlin, 05:00 in New York): Alice's first week.
NOW = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
MONDAY_14, MONDAY_21 = datetime(2026, 12, 14, 8, 0, tzinfo=UTC), datetime(2026, 12, 21, 8, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """How a reply shows a moment: Slack's date token, read in each reader's time zone."""
    return f"<!date^{int(moment.timestamp())}^"


@pytest.fixture(autouse=True)
def people(fake_slack):
    fake_slack.add_user(ANA, "Ana Lopez", "+1 415 555 0199", tz="America/New_York")
    fake_slack.add_user(ALICE, "Alice Smith", "+1 415 555 0101", tz="Europe/Berlin")
    fake_slack.add_user(BOB, "Bob Jones", "+1 415 555 0102", tz="Europe/London")
    fake_slack.add_user(CAROL, "Carol King", "+1 415 555 0103", tz="Europe/Berlin")
    fake_slack.add_usergroup("S0PAY", [CAROL])


@pytest.fixture
def oncall_app(settings, plivo_api, clock):
    clock.now = NOW
    app = flow.clocked_app(replace(settings, routing=parse_routing(ROUTING, {})), clock)
    yield app
    app.extensions["voicebridge"]["close"]()


@pytest.fixture
def client(oncall_app):
    return oncall_app.test_client()


@pytest.fixture
def slack(fake_slack) -> SlackSender:
    return SlackSender(SIGNING_SECRET, response_url=fake_slack.response_url("oncall"))


@pytest.fixture
def schedules(oncall_app):
    return oncall_app.extensions["voicebridge"]["services"].schedules


def oncall(client, slack, text: str, user: str = ANA, **kwargs) -> str:
    """/oncall as Slack sends it; what the person sees at once (the command's ephemeral answer)."""
    reply = send(client, slack.command(text, command="/oncall", user_id=user, **kwargs))
    assert reply.status_code == 200
    if reply.mimetype == "application/json":
        return json.loads(reply.get_data())["text"]
    return reply.get_data(as_text=True)


def oncall_blocks(client, slack, text: str, user: str = ANA) -> list[dict]:
    reply = send(client, slack.command(text, command="/oncall", user_id=user))
    return json.loads(reply.get_data())["blocks"]


def later_reply(client, fake_slack, url: str, count: int = 1) -> dict:
    """What the workers said through a response_url, once the work the request recorded is done."""
    flow.settle(client)
    return fake_slack.wait_for(lambda: len(fake_slack.responses_to(url)) >= count and fake_slack.responses_to(url)
                               )[count - 1]


def slack_schedule(name="payments", members=(CAROL, ANA), team="T0001") -> ScheduleDef:
    return ScheduleDef(name, Rotation("America/New_York", members, ShiftLength(1, DAYS), Handoff(time(9, 0)),
                                      date(2026, 12, 1)))


# -- the command's words, pure ----------------------------------------------------------------------


@pytest.mark.parametrize("text, request_", [
    ("cover backend <@U0BOB|bob> from fri 18:00 until mon 09:00", Cover("backend", BOB, "fri 18:00", "mon 09:00")),
    ("cover Backend until tomorrow", Cover("backend", None, None, "tomorrow")),
])
def test_cover_is_read_with_or_without_a_person_and_a_start(text, request_):
    assert parse_oncall(text) == request_


@pytest.mark.parametrize("text, words", [
    ("cover backend @bob until fri", "is not someone Slack linked"),
    ("cover backend <@U0BOB|bob>", "Say until when"),
    ("edit", "Name one schedule"),
    ("swap backend alice", "I don't know “swap backend alice”"),
])
def test_what_cannot_be_read_says_why(text, words):
    found = parse_oncall(text)
    assert isinstance(found, CommandError) and words in found.problem


# -- who is on call --------------------------------------------------------------------------------------


def test_oncall_says_who_is_on_call_now_and_next_with_handoffs_in_the_readers_time_zone(client, slack, schedules):
    schedules.create(slack_schedule("elsewhere", team="T0OTHER"), "T0OTHER", created_by="U0OTHER")
    said = oncall(client, slack, "")
    assert said.startswith("*On call now* (times in your time zone)")
    assert f"• *backend*: <@{ALICE}> until {stamp(MONDAY_14)}" in said
    assert f"then <@{BOB}> until {stamp(MONDAY_21)}" in said
    assert "elsewhere" not in said  # another workspace's schedule is not this one's to see
    assert "There is no schedule “elsewhere”. The schedules are: backend." in oncall(client, slack, "elsewhere")


def test_a_schedule_shows_its_next_shifts_overrides_marked_and_your_feed_link(client, slack, schedules):
    schedules.add_override("backend", CAROL, MONDAY_14 + timedelta(days=1), MONDAY_14 + timedelta(days=2),
                           created_by=ANA)
    said = oncall(client, slack, "backend")
    assert said.startswith("*backend* · Europe/Berlin · weekly, hand-off monday 09:00 · rotation: "
                           f"<@{ALICE}>, <@{BOB}> · defined in ROUTING_FILE")
    lines = said.splitlines()
    assert f"• now – {stamp(MONDAY_14)}" in lines[2] and lines[2].endswith(f"<@{ALICE}>")
    assert lines[4].startswith(f"• {stamp(MONDAY_14 + timedelta(days=1))}")
    assert lines[4].endswith(f"<@{CAROL}> (override), added by <@{ANA}>")
    assert lines[5].endswith(f"<@{BOB}>")  # Bob's week goes on after Carol's day
    token = schedules.feed_token("backend")
    assert f"<https://voice.example.test/schedules/backend.ics?token={token}|backend.ics>" in said
    assert schedules.feed_allows("backend", token)


def test_feed_rotate_makes_a_new_link_and_the_old_one_stops_working(client, slack, schedules):
    old = schedules.feed_token("backend")
    said = oncall(client, slack, "backend feed rotate")
    new = schedules.feed_token("backend")
    assert new != old and f"token={new}|backend.ics>" in said and "The old link no longer works" in said
    assert not schedules.feed_allows("backend", old) and schedules.feed_allows("backend", new)


# -- overrides ------------------------------------------------------------------------------------------------


def test_cover_reads_the_times_in_the_typists_time_zone_and_says_the_period_in_both(client, slack, fake_slack,
                                                                                    schedules):
    said = oncall(client, slack, f"cover backend <@{BOB}|bob> from fri 18:00 until mon 09:00")
    assert said.startswith(f":hourglass_flowing_sand: Putting <@{BOB}> on call for *backend*")
    reply = later_reply(client, fake_slack, slack.response_url)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        f":white_check_mark: <@{BOB}> is on call for *backend* from Fri 11 Dec 18:00 until Mon 14 Dec 09:00 in "
        "your time zone (America/New_York); that is from Sat 12 Dec 00:00 until Mon 14 Dec 15:00 in backend's "
        "(Europe/Berlin). `/oncall overrides backend` lists the overrides, with a way to remove one.")
    # Friday 18:00 in New York is 23:00 UTC: Bob is on call then, over Alice's shift, until Monday 14:00 UTC.
    assert schedules.on_call("backend", datetime(2026, 12, 11, 23, 0, tzinfo=UTC)).user == BOB
    assert schedules.on_call("backend", datetime(2026, 12, 11, 22, 59, tzinfo=UTC)).user == ALICE
    [override] = schedules.overrides("backend")
    assert (override.user, override.end, override.created_by) == (BOB, datetime(2026, 12, 14, 14, 0, tzinfo=UTC),
                                                                   ANA)


def test_cover_without_a_person_is_whoever_typed_it_from_now_at_the_handoff_time(client, slack, fake_slack,
                                                                                 schedules):
    oncall(client, slack, "cover backend until tomorrow", user=CAROL)  # Carol is in Berlin, as backend is
    reply = later_reply(client, fake_slack, slack.response_url)["text"]
    assert reply.startswith(f":white_check_mark: <@{CAROL}> is on call for *backend* from now until Thu 10 Dec "
                            "09:00 (Europe/Berlin, your time zone and backend's).")
    assert schedules.on_call("backend").user == CAROL


@pytest.mark.parametrize("text, words", [
    ("cover backend until blah", "No override was added: “blah”: a time is written like 18:00"),
    ("cover nope until fri", "There is no schedule “nope”. The schedules are: backend."),
    ("dance", "There is no schedule “dance”"),
    ("swap backend alice", "I don't know “swap backend alice”.\nUsage:"),
    ("new please", "`/oncall new` takes nothing after it"),
])
def test_what_is_wrong_is_said_at_once(client, slack, text, words, schedules):
    assert words in oncall(client, slack, text)
    assert schedules.overrides("backend") == []


def test_an_override_in_the_past_and_a_deactivated_person_are_refused(client, slack, fake_slack, schedules):
    oncall(client, slack, "cover backend from 2026-12-01 09:00 until 2026-12-02 09:00")
    assert later_reply(client, fake_slack, slack.response_url)["text"] == (
        ":x: No override was added: that period is over already.")
    fake_slack.deactivate(BOB)
    oncall(client, slack, f"cover backend <@{BOB}> until fri 18:00")
    assert later_reply(client, fake_slack, slack.response_url, 2)["text"] == (
        f":x: No override was added: <@{BOB}> is deactivated in Slack (or is an app), and cannot be on call.")
    assert schedules.overrides("backend") == []


def test_overrides_are_listed_each_with_a_remove_button_that_removes_it(client, slack, fake_slack, schedules):
    first = schedules.add_override("backend", BOB, NOW + timedelta(hours=1), NOW + timedelta(hours=5), ANA)
    schedules.add_override("backend", CAROL, NOW + timedelta(days=1), NOW + timedelta(days=2), ANA)
    blocks = oncall_blocks(client, slack, "overrides backend")
    rows = [block for block in blocks if block.get("accessory")]
    assert [row["text"]["text"].split(" ")[0] for row in rows] == [f"<@{BOB}>", f"<@{CAROL}>"]
    assert stamp(NOW + timedelta(hours=1)) in rows[0]["text"]["text"]
    button = rows[0]["accessory"]
    assert (button["text"]["text"], button["value"]) == ("Remove", f"backend:{first.id}") and button["confirm"]

    click_url = fake_slack.response_url("click")
    message = {"ts": "1700000000.000100", "text": "Overrides", "blocks": blocks}
    assert send(client, slack.action(button["action_id"], button["value"], message=message, block_id="b1",
                                     user_id=ANA, response_url=click_url)).status_code == 200
    shown = later_reply(client, fake_slack, click_url)
    assert shown["replace_original"] is True
    assert shown["blocks"][0]["text"]["text"] == f":white_check_mark: Removed <@{BOB}>'s override."
    assert [item.user for item in schedules.overrides("backend")] == [CAROL]
    assert f"<@{BOB}>" not in json.dumps(shown["blocks"][1:])


# -- the form -----------------------------------------------------------------------------------------------


def form_values(view: dict, **changes) -> dict:
    """What Slack sends for the form as filled in: every field under its block ID, by action ID."""
    blocks = {block["element"]["action_id"]: block["block_id"] for block in view["blocks"]
              if block["type"] == "input"}
    filled = {
        "name": {"type": "plain_text_input", "value": "payments"},
        "time_zone": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "America/New_York"}, "value": "America/New_York"}},
        "rotation": {"type": "multi_users_select", "selected_users": [CAROL, ANA]},
        "shift": {"type": "plain_text_input", "value": "daily"},
        "handoff": {"type": "plain_text_input", "value": "09:00"},
        "start": {"type": "datepicker", "selected_date": "2026-12-10"},
        "user_group": {"type": "multi_static_select", "selected_options": [
            {"text": {"type": "plain_text", "text": "@s0pay"}, "value": "S0PAY"}]},
        "channel": {"type": "multi_conversations_select", "selected_conversations": ["C0PAY"]},
    } | changes
    return {blocks[action]: {action: value} for action, value in filled.items() if action in blocks}


def the_form(fake_slack) -> dict:
    """The form as the person sees it once the update (user groups, time zone) has come."""
    [update] = fake_slack.wait_for(lambda: fake_slack.calls("views.update"))
    view = update["view"] if isinstance(update["view"], dict) else json.loads(update["view"])
    View(**view).validate_json()
    return view | {"id": update["view_id"]}


def test_oncall_new_opens_the_form_and_its_submission_makes_the_schedule(client, slack, fake_slack, schedules):
    assert oncall(client, slack, "new") == ""  # nothing said: the form opens
    [opened] = fake_slack.wait_for(lambda: fake_slack.calls("views.open"))
    assert opened["trigger_id"]
    view = the_form(fake_slack)
    zone = next(block for block in view["blocks"] if block["element"].get("action_id") == "time_zone")
    assert zone["element"]["initial_option"]["value"] == "America/New_York"  # Ana's Slack time zone
    group = next(block for block in view["blocks"] if block["element"].get("action_id") == "user_group")
    assert [option["value"] for option in group["element"]["options"]] == ["S0PAY"]

    bad = send(client, slack.view_submission(view, form_values(view, shift={"type": "plain_text_input",
                                                                              "value": "fortnightly"})))
    assert json.loads(bad.get_data())["errors"] == {"shift": "A shift is daily, weekly, <n>d (days) or <n>h "
                                                             "(hours), e.g. 12h"}
    assert schedules.get("payments") is None
    assert send(client, slack.view_submission(view, form_values(view))).get_data() == b""  # the form closes
    made = schedules.get("payments")
    assert (made.team_id, made.defined_in, made.rotation.members, made.user_group, made.channel) == (
        "T0001", "slack", (CAROL, ANA), "S0PAY", "C0PAY")
    said = later_reply(client, fake_slack, slack.response_url)["text"]
    first = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert said.startswith(f":white_check_mark: Created the schedule *payments*. <@{CAROL}> is on call first, "
                           f"from {stamp(first)}")
    taken = send(client, slack.view_submission(view, form_values(view)))
    assert "already" in json.loads(taken.get_data())["errors"]["name"]


def test_a_slack_schedule_is_edited_in_the_same_form_filled_in_and_deleted_after_a_confirm(
        client, slack, fake_slack, schedules):
    schedules.create(slack_schedule(), "T0001", created_by=ANA)
    assert oncall(client, slack, "edit payments") == ""
    view = the_form(fake_slack)
    rotation = next(block for block in view["blocks"] if block["block_id"] == "rotation")
    assert rotation["element"]["initial_users"] == [CAROL, ANA]
    assert "name" not in [block["block_id"] for block in view["blocks"]]  # a schedule keeps its name
    start = next(block for block in view["blocks"] if block["block_id"] == "start")["element"]["initial_date"]
    assert start == "2026-12-01"
    values = form_values(view, rotation={"type": "multi_users_select", "selected_users": [ANA]},
                         user_group={"type": "multi_static_select", "selected_options": []},
                         start={"type": "datepicker", "selected_date": start})
    assert send(client, slack.view_submission(view, values)).get_data() == b""
    changed = schedules.get("payments")
    assert changed.rotation.members == (ANA,) and changed.user_group is None
    assert later_reply(client, fake_slack, slack.response_url)["text"].startswith(
        f":white_check_mark: Saved the schedule *payments*. On call now: <@{ANA}>")

    blocks = oncall_blocks(client, slack, "delete payments")
    [button] = [element for block in blocks if block["type"] == "actions" for element in block["elements"]]
    assert (button["text"]["text"], button["style"]) == ("Delete payments", "danger")
    click_url = fake_slack.response_url("delete")
    send(client, slack.action(button["action_id"], button["value"], block_id="oncall_delete", user_id=ANA,
                              response_url=click_url, message={"ts": "1700000000.000200", "blocks": blocks}))
    assert later_reply(client, fake_slack, click_url)["text"] == ":wastebasket: Deleted the schedule *payments*."
    assert schedules.get("payments") is None


def test_a_file_schedule_cannot_be_changed_from_slack_but_takes_overrides(client, slack, fake_slack, schedules):
    for text in ("edit backend", "delete backend"):
        assert oncall(client, slack, text) == (
            ":x: *backend* is defined in ROUTING_FILE; change it there. Its overrides (`/oncall cover …`) "
            "and its calendar feed work from Slack.")
    assert fake_slack.calls("views.open") == []
    oncall(client, slack, "cover backend until fri 18:00")
    assert later_reply(client, fake_slack, slack.response_url)["text"].startswith(":white_check_mark:")


def test_the_forms_fields_are_checked_one_by_one():
    errors = read_schedule({"name": {"name": {"value": "New"}}, "rotation": {"rotation": {"selected_users": []}},
                            "shift": {"shift": {"value": "weekly"}}, "handoff": {"handoff": {"value": "9am"}},
                            "user_group_1": {"user_group_id": {"value": "oncall"}}}, editing=None)
    assert isinstance(errors, FormErrors)
    assert set(errors.errors) == {"name", "time_zone", "rotation", "handoff", "start", "user_group_1"}
    assert errors.errors["handoff"] == 'A hand-off is a time, e.g. "09:00" (weekly: "monday 09:00")'
    assert errors.errors["user_group_1"] == "A user group's ID starts with S, e.g. S0123ABCD."
    reserved = read_schedule({"name": {"name": {"value": "new"}}}, editing=None)
    assert "is a word of /oncall itself" in reserved.errors["name"]


# -- who may ----------------------------------------------------------------------------------------------------


def test_only_who_may_place_calls_may_use_oncall(settings, plivo_api, clock, slack, fake_slack):
    clock.now = NOW
    app = flow.clocked_app(replace(settings, routing=parse_routing(ROUTING, {}),
                                   allowed_slack_users=frozenset({ALICE})), clock)
    client_ = app.test_client()
    said = oncall(client_, slack, "cover backend until fri 18:00", user=ANA)
    assert said.startswith(":no_entry: Sorry, you are not allowed to use on-call schedules with this app.")
    assert app.extensions["voicebridge"]["services"].schedules.overrides("backend") == []
    assert flow.refusal_kinds(app) == ["not_allowed_user"]
    assert "*backend*" in oncall(client_, slack, "", user=ALICE)
    app.extensions["voicebridge"]["close"]()


def test_the_time_zone_select_offers_the_zones_matching_what_is_typed(client, slack):
    payload = {"type": "block_suggestion", "user": {"id": ANA, "team_id": "T0001"}, "team": {"id": "T0001"},
               "api_app_id": "A0VOICE", "token": "deprecated-verification-token", "action_id": "time_zone",
               "block_id": "time_zone_1", "value": "new yo",
               "view": {"id": "V0FORM1", "type": "modal", "callback_id": "oncall_schedule_form"}}
    answer = send(client, slack.sign("/slack/events", urlencode({"payload": json.dumps(payload)})))
    assert [option["value"] for option in json.loads(answer.get_data())["options"]] == ["America/New_York"]
