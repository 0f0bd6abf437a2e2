"""The sandbox's built-in on-call schedule sandbox-oncall, through the console's endpoints as the page drives
them: `/oncall` answers with @alice and @bob, a hand-off (the app's clock moved past it) sets the group
@sandbox-oncall, tells #sandbox and DMs both, and `/voicealert schedule:sandbox-oncall` phones whoever is on
call. Also where each run puts the shifts, and what the Slack stand-in does for the hand-off."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from answer_server.sandbox import load_sandbox_settings
from answer_server.sandbox.oncall import FIRST_HANDOFF, GROUP, MEMBERS, NAME, rotation
from answer_server.sandbox.slack_workspace import TIME_ZONE
from tests.sandbox_server import RunningSandbox, ServerThread, start_loaded, stop_loaded
from voice.schedules.oncall import on_call
from voice.schedules.rotation import zone
from voice.settings import SettingsError

ALICE, BOB = MEMBERS
PHONES = {ALICE: "+14155550101", BOB: "+14155550102", "U0SANDBOX": "+14155550199"}


class MovedClock:
    """Real time, moved on by the test: the app's timers run as they do, and a hand-off comes when told."""

    def __init__(self):
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead


def start(tmp_path, clock=None, environ: dict | None = None) -> tuple[RunningSandbox, ServerThread]:
    return start_loaded(tmp_path, 20, environ, **({"clock": clock} if clock else {}))


stop = stop_loaded


@pytest.fixture
def clock():
    return MovedClock()


@pytest.fixture
def sandbox(tmp_path, clock):
    running, server = start(tmp_path, clock)
    yield running
    stop(running, server)


def reply_to(sandbox: RunningSandbox, command: str, showing: str) -> dict:
    """The console user's command, and the reply only they see that says `showing`."""
    assert sandbox.command(command).json() == {"ok": True}
    return sandbox.wait_for(lambda s: next((m for m in s["messages"] if m["ephemeral"] and showing in m["text"]),
                                           None))


def said(state: dict, channel: str, showing: str) -> dict | None:
    return next((m for m in state["messages"] if m["channel"] == channel and showing in m["text"]
                 and not m["ephemeral"]), None)


def hand_off(sandbox: RunningSandbox, clock: MovedClock) -> None:
    """Move the app's clock just past the next hand-off the console shows."""
    until = datetime.fromisoformat(sandbox.state()["oncall"]["until"])
    clock.ahead += until - clock() + timedelta(seconds=1)


# -- where each run puts the shifts ------------------------------------------------------------------------

@pytest.mark.parametrize("now", [
    datetime(2026, 7, 14, 10, 23, 41, 500, tzinfo=timezone.utc),
    datetime(2026, 7, 14, 10, 23, tzinfo=timezone.utc),  # on a whole minute
    datetime(2026, 12, 31, 23, 58, 30, tzinfo=timezone.utc),  # the first hand-off next year
    # Los Angeles around its daylight-saving changes: clocks jump from 02:00 to 03:00 on 8 March 2026,
    # and read 01:00 to 02:00 twice on 1 November 2026.
    datetime(2026, 3, 8, 9, 59, tzinfo=timezone.utc), datetime(2026, 3, 8, 10, 58, tzinfo=timezone.utc),
    datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc), datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc),
    datetime(2026, 11, 1, 10, 30, tzinfo=timezone.utc), datetime(2026, 11, 1, 9, 59, 59, tzinfo=timezone.utc),
])
def test_each_run_has_alice_on_call_and_bob_taking_over_within_three_minutes_then_every_hour(now):
    found = rotation(now)
    assert found.time_zone == TIME_ZONE and found.members == MEMBERS and found.shift.written() == "1h"
    first = on_call(found, [], now)
    assert first.user == ALICE
    assert now + FIRST_HANDOFF <= first.end < now + FIRST_HANDOFF + timedelta(minutes=1)
    assert first.end.second == 0 and first.end.microsecond == 0
    assert first.start <= now - timedelta(minutes=57)  # her shift began about an hour before
    after = on_call(found, [], first.end)
    assert after.user == BOB and after.end - after.start == timedelta(hours=1)
    assert on_call(found, [], after.end).user == ALICE


def test_the_rotation_is_written_as_a_schedule_of_the_routing_file_is():
    found = rotation(datetime(2026, 7, 14, 10, 23, tzinfo=timezone.utc))
    # Bob at 10:25 UTC, 03:25 in Los Angeles (summer time): Alice's shift began at 02:25 there.
    assert found.handoff.written() == "02:25" and found.start.isoformat() == "2026-07-14"
    assert zone(TIME_ZONE).key == "America/Los_Angeles"


# -- /oncall in the console ------------------------------------------------------------------------------

def test_oncall_answers_with_alice_on_call_now_and_bob_next(sandbox):
    reply = reply_to(sandbox, "/oncall", "On call now")
    assert f"*{NAME}*: <@{ALICE}> until <!date^" in reply["text"] and f", then <@{BOB}> until" in reply["text"]
    shown = reply_to(sandbox, f"/oncall {NAME}", "Next shifts")["text"]
    assert f"*{NAME}* · {TIME_ZONE} · 1h, hand-off " in shown and f"rotation: <@{ALICE}>, <@{BOB}>" in shown
    assert f"its user group <!subteam^{GROUP}>" in shown and "hand-off notices in <#C0SANDBOX>" in shown
    assert f"/schedules/{NAME}.ics?token=" in shown  # the calendar feed, served by this sandbox
    oncall = sandbox.state()["oncall"]
    assert oncall | {"until": None} == {"schedule": NAME, "shift": "1h", "group": GROUP, "members": [ALICE],
                                        "on_call": ALICE, "override": False, "until": None, "next": BOB}


def test_the_run_starts_with_the_group_current_and_nothing_said_until_the_first_hand_off(sandbox):
    client = WebClient(token=sandbox.settings.slack_bot_token, base_url=sandbox.settings.slack_api_url)
    assert client.usergroups_users_list(usergroup=GROUP)["users"] == [ALICE]
    state = sandbox.state()
    assert state["messages"] == [] and state["group_members"][GROUP] == [ALICE]
    until = datetime.fromisoformat(state["oncall"]["until"])
    assert timedelta(minutes=1) < until - datetime.now(timezone.utc) <= FIRST_HANDOFF + timedelta(minutes=1)


def test_a_hand_off_sets_the_group_says_so_in_sandbox_and_tells_both_in_their_dms(sandbox, clock):
    hand_off(sandbox, clock)
    line = sandbox.wait_for(lambda s: said(s, "C0SANDBOX", f"<@{BOB}> is on call for *{NAME}* from <@{ALICE}>"))
    assert line["text"].startswith(":pager: ") and " until <!date^" in line["text"]
    incoming = sandbox.wait_for(lambda s: said(s, "D0BOB", f"You are on call for *{NAME}* from now until"))
    outgoing = sandbox.wait_for(lambda s: said(s, "D0ALICE", f"You are no longer on call for *{NAME}*: <@{BOB}> is"))
    assert incoming["user"] == outgoing["user"] == "U0VOICEBOT"
    state = sandbox.wait_for(lambda s: s if s["group_members"][GROUP] == [BOB] else None)
    assert state["direct"]["D0BOB"] == BOB and state["direct"]["D0ALICE"] == ALICE
    assert state["oncall"]["on_call"] == BOB and state["oncall"]["next"] == ALICE
    reply = reply_to(sandbox, "/oncall", "On call now")
    assert f"*{NAME}*: <@{BOB}> until" in reply["text"]

    hand_off(sandbox, clock)  # an hour on: back to Alice
    sandbox.wait_for(lambda s: said(s, "C0SANDBOX", f"<@{ALICE}> is on call for *{NAME}* from <@{BOB}>"))
    sandbox.wait_for(lambda s: s["group_members"][GROUP] == [ALICE])
    lines = [m for m in sandbox.state()["messages"] if m["channel"] == "C0SANDBOX" and not m["ephemeral"]]
    assert len(lines) == 2  # one line a hand-off


def test_voicealert_to_the_schedule_or_its_group_rings_whoever_is_on_call(sandbox, clock):
    sandbox.command(f"/voicealert schedule:{NAME} The database is down")
    alice = sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == PHONES[ALICE]), None))
    assert alice["to"] == PHONES[ALICE]
    sandbox.press_when_asked(PHONES[ALICE], "1")  # she acknowledges

    hand_off(sandbox, clock)
    sandbox.wait_for(lambda s: s["group_members"][GROUP] == [BOB])
    sandbox.command(f"/voicealert schedule:{NAME} Disk full on db-1")
    # Bob's profile number has no country code: read as the caller ID's country, as for any alert.
    bob = sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == PHONES[BOB]), None))
    sandbox.press_when_asked(PHONES[BOB], "1")
    # The group mentioned instead: Slack's group, which the hand-off set to Bob.
    sandbox.command(f"/voicealert @{NAME} Disk full on db-2")
    sandbox.wait_for(lambda s: [c for c in s["calls"] if c["to"] == PHONES[BOB] and c["call_uuid"] != bob["call_uuid"]])
    assert [c["to"] for c in sandbox.state()["calls"]].count(PHONES[ALICE]) == 1


def test_oncall_cover_puts_you_on_call_and_the_group_and_the_channel_follow(sandbox, clock):
    reply = reply_to(sandbox, f"/oncall cover {NAME} until tomorrow 09:00", "is on call for")
    assert reply["text"].startswith(f":white_check_mark: <@U0SANDBOX> is on call for *{NAME}* from now until ")
    assert f"({TIME_ZONE}, your time zone and {NAME}'s)" in reply["text"]
    # Until the override's end, though Bob's shift begins under it.
    local = clock().astimezone(zone(TIME_ZONE))
    end = datetime.combine(local.date() + timedelta(days=1), time(9), tzinfo=zone(TIME_ZONE))
    line = sandbox.wait_for(lambda s: said(s, "C0SANDBOX", f"<@U0SANDBOX> is on call for *{NAME}* from <@{ALICE}>"))
    assert f" until <!date^{int(end.timestamp())}^" in line["text"] and line["text"].endswith(" (an override).")
    sandbox.wait_for(lambda s: said(s, "D0SANDBOX", f"You are on call for *{NAME}* from now until"))
    state = sandbox.wait_for(lambda s: s if s["group_members"][GROUP] == ["U0SANDBOX"] else None)
    assert state["oncall"]["on_call"] == "U0SANDBOX" and state["oncall"]["override"] is True
    assert datetime.fromisoformat(state["oncall"]["until"]) == end and state["oncall"]["next"] in MEMBERS
    sandbox.command(f"/voicealert schedule:{NAME} Checkout is failing")
    sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == PHONES["U0SANDBOX"]), None))


def test_a_cover_in_the_past_is_refused_with_the_reason(sandbox):
    reply = reply_to(sandbox, f"/oncall cover {NAME} from 2020-01-01 09:00 until 2020-01-02 09:00", "No override")
    assert "that period is over already" in reply["text"]


# -- ROUTING_FILE beside it -------------------------------------------------------------------------------

def test_a_routing_file_schedule_is_kept_beside_sandbox_oncall_and_may_not_take_its_name(tmp_path):
    routing = tmp_path / "routing.yaml"
    routing.write_text("schedules:\n  - name: team\n    time_zone: Europe/Berlin\n    rotation: [U0CAROL]\n"
                       "    shift: daily\n    handoff: '09:00'\n    start: 2026-01-05\n")
    running, server = start(tmp_path, environ={"ROUTING_FILE": str(routing)})
    try:
        reply = reply_to(running, "/oncall", "On call now")
        assert f"*{NAME}*: <@{ALICE}>" in reply["text"] and "*team*: <@U0CAROL>" in reply["text"]
    finally:
        stop(running, server)

    routing.write_text(routing.read_text().replace("name: team", f"name: {NAME}"))
    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"ROUTING_FILE": str(routing)})
    assert raised.value.problems == [f"ROUTING_FILE: {NAME} is the sandbox's built-in schedule: "
                                     "give yours another name"]


# -- the Slack stand-in ------------------------------------------------------------------------------------

def test_the_slack_stand_in_updates_groups_posts_to_a_user_in_their_dm_and_says_time_zones(sandbox):
    client = WebClient(token=sandbox.settings.slack_bot_token, base_url=sandbox.settings.slack_api_url)
    user = client.users_info(user="U0ALICE")["user"]
    assert user["tz"] == TIME_ZONE and user["tz_label"] in ("PST", "PDT") and user["tz_offset"] in (-28800, -25200)
    updated = client.usergroups_users_update(usergroup="S0ONCALL", users=["U0BOB", "U0CAROL"])
    assert updated["usergroup"]["users"] == ["U0BOB", "U0CAROL"]
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0BOB", "U0CAROL"]
    assert "usergroups:write" in {k.lower(): v for k, v in updated.headers.items()}["x-oauth-scopes"].split(",")
    for arguments, error in [({"usergroup": "S0NOPE", "users": "U0BOB"}, "no_such_subteam"),
                             ({"usergroup": "S0ONCALL", "users": ""}, "no_users_provided"),
                             ({"usergroup": "S0ONCALL", "users": "U0BOB,U0NOBODY"}, "invalid_users"),
                             ({"usergroup": "S0ONCALL", "users": "U0VOICEBOT"}, "invalid_users")]:
        with pytest.raises(SlackApiError) as refused:
            client.usergroups_users_update(**arguments)
        assert refused.value.response["error"] == error
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0BOB", "U0CAROL"]

    posted = client.chat_postMessage(channel="U0CAROL", text="Hello Carol")
    assert posted["channel"] == "D0CAROL"
    assert client.conversations_info(channel="D0CAROL")["channel"] == {
        "id": "D0CAROL", "is_im": True, "user": "U0CAROL", "is_member": True}
    message = sandbox.wait_for(lambda s: said(s, "D0CAROL", "Hello Carol"))
    assert message["ts"] == posted["ts"]
    # A DM holds no message shortcut here, and the console types only in channels.
    assert sandbox.command("hi", channel="D0CAROL").status_code == 400
