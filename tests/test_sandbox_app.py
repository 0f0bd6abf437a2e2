"""Sandbox mode as a whole: separate from normal mode, self-contained, and faithful on the wire."""

from __future__ import annotations

import json

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from answer_server.sandbox import load_sandbox_settings, sandbox_settings
from answer_server.sandbox.settings import DEFAULT_DATABASE_URL
from tests.sandbox_server import start_sandbox
from voice.settings import SettingsError


@pytest.fixture
def sandbox(tmp_path):
    running, server = start_sandbox(f"sqlite:///{tmp_path / 'sandbox.sqlite3'}")
    yield running
    for call in running.app.extensions["sandbox"]["simulator"].calls():
        call.control.stop("api")
    server.stop()
    running.app.extensions["voicebridge"]["close"]()  # its workers too: no thread outlives the test


def ended_call(state: dict, to: str):
    return next((c for c in state["calls"] if c["to"] == to and c["state"] == "ended"), None)


# -- separation from normal mode ----------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/sandbox"), ("GET", "/sandbox/api/state"), ("GET", "/sandbox/api/events"),
    ("GET", "/sandbox/static/console.js"), ("POST", "/sandbox/api/command"),
    ("POST", "/sandbox/plivo/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/"),
    ("POST", "/sandbox/slack/api/chat.postMessage"), ("POST", "/sandbox/slack/commands/T0SANDBOX/1/x"),
])
def test_normal_mode_answers_404_to_every_sandbox_path(client, method, path):
    assert client.open(path, method=method, json={}).status_code == 404


def test_sandbox_settings_point_slack_and_plivo_at_the_server_itself_with_secrets_made_per_run():
    first, second = sandbox_settings(3999), sandbox_settings(3999)
    assert first.public_url == "http://127.0.0.1:3999"
    assert first.plivo_api_url == "http://127.0.0.1:3999/sandbox/plivo"
    assert first.slack_api_url == "http://127.0.0.1:3999/sandbox/slack/api/"
    assert first.database_url == DEFAULT_DATABASE_URL
    for name in ("slack_bot_token", "slack_signing_secret", "plivo_auth_id", "plivo_auth_token"):
        assert getattr(first, name) != getattr(second, name)
    assert first.slack_bot_token.startswith("xoxb-") and first.plivo_auth_id.startswith("MA")
    assert len(first.plivo_auth_id) == 20


def test_a_sandbox_run_ignores_real_credentials_and_urls_but_honours_where_to_listen_and_store():
    real = {"SLACK_BOT_TOKEN": "xoxb-real", "SLACK_SIGNING_SECRET": "real", "PLIVO_AUTH_ID": "MAREALREALREALREALRE",
            "PLIVO_AUTH_TOKEN": "real", "PUBLIC_URL": "https://calls.example.com",
            "PLIVO_API_URL": "https://api.plivo.com", "SLACK_API_URL": "https://slack.com/api/"}
    settings, speed = load_sandbox_settings(real | {"PORT": "4123", "DATABASE_URL": "sqlite:///x.sqlite3",
                                                    "SANDBOX_SPEED": "20"})
    assert speed == 20
    assert (settings.port, settings.host, settings.database_url) == (4123, "127.0.0.1", "sqlite:///x.sqlite3")
    assert "real" not in (settings.slack_signing_secret, settings.plivo_auth_token)
    assert settings.plivo_auth_id != real["PLIVO_AUTH_ID"] and settings.slack_bot_token != "xoxb-real"
    assert settings.public_url == "http://127.0.0.1:4123"
    assert settings.plivo_api_url.startswith("http://127.0.0.1:4123/")


def test_a_bad_port_or_speed_is_reported_one_line_each():
    with pytest.raises(SettingsError) as raised:
        load_sandbox_settings({"PORT": "abc", "SANDBOX_SPEED": "fast"})
    assert len(raised.value.problems) == 2
    assert raised.value.problems[0].startswith("PORT ") and raised.value.problems[1].startswith("SANDBOX_SPEED ")


# -- the page and its endpoints ------------------------------------------------------

def test_the_console_page_carries_the_sandbox_banner_and_loads_nothing_from_other_hosts(sandbox):
    page = requests.get(f"{sandbox.url}/sandbox", timeout=5)
    assert page.status_code == 200 and "SANDBOX — no real calls are placed" in page.text
    assert "http://" not in page.text.replace('href="data:,"', "") and "https://" not in page.text
    for asset in ("console.js", "console.css", "mrkdwn.js"):
        served = requests.get(f"{sandbox.url}/sandbox/static/{asset}", timeout=5)
        assert served.status_code == 200 and "https://" not in served.text.replace("https?:", "")


def test_the_live_stream_sends_the_state_as_server_sent_events(sandbox):
    with requests.get(f"{sandbox.url}/sandbox/api/events", stream=True, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        assert next(line for line in lines if line.startswith("event:")) == "event: state"
        data = next(lines)
        assert data.startswith("data: ")
        state = json.loads(data[len("data: "):])
        assert state["calls"] == [] and state["messages"] == [] and state["channels"][0]["id"] == "C0SANDBOX"


def test_console_posts_must_be_json_so_other_sites_cannot_drive_it(sandbox):
    reply = requests.post(f"{sandbox.url}/sandbox/api/command", data={"text": "/voiceotp +14155550123 1234"},
                          timeout=5)
    assert reply.status_code == 415
    assert sandbox.state()["calls"] == []


def test_a_request_for_another_host_is_refused_so_a_rebinding_page_cannot_drive_the_console(sandbox):
    """A page on another site whose name now points at 127.0.0.1 (DNS rebinding) is same-origin with
    itself, and its JSON posts pass the check above: but they name its host, not a loopback one."""
    port = sandbox.url.rsplit(":", 1)[1]
    rebound = {"Host": f"rebind.attacker.example:{port}"}
    reply = requests.post(f"{sandbox.url}/sandbox/api/command", headers=rebound, timeout=5,
                          json={"text": "/voiceotp +14155550123 483920", "channel": "C0SANDBOX"})
    assert reply.status_code == 421
    assert reply.text == ("misdirected request: the sandbox answers only at 127.0.0.1, localhost or [::1] "
                          f"(with its port), and this request was for 'rebind.attacker.example:{port}'\n")
    for path in ("/sandbox", "/sandbox/api/state", "/sandbox/slack/api/auth.test", "/api/v1/openapi.json"):
        assert requests.get(sandbox.url + path, headers=rebound, timeout=5).status_code == 421, path
    assert requests.get(sandbox.url + "/healthz", headers={"Host": "localhost.attacker.example"}).status_code == 421
    assert sandbox.state()["messages"] == [] and sandbox.state()["calls"] == []
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LocalHost", "127.0.0.1"):
        assert requests.get(sandbox.url + "/sandbox/api/state", headers={"Host": host}, timeout=5).ok, host


def test_keys_for_an_unknown_call_or_that_are_not_keys_are_refused(sandbox):
    assert requests.post(f"{sandbox.url}/sandbox/api/calls/nope/digits", json={"digits": "1"}).status_code == 404
    assert requests.post(f"{sandbox.url}/sandbox/api/calls/nope/digits", json={"digits": "x"}).status_code == 400
    assert requests.post(f"{sandbox.url}/sandbox/api/calls/nope/hangup", json={}).status_code == 404


# -- /voiceotp through the console, in-process --------------------------------------------

def test_voiceotp_from_the_composer_shows_the_reply_the_status_message_and_what_the_callee_hears(sandbox):
    assert sandbox.command("/voiceotp +1 415 555 0123 483920").json() == {"ok": True}
    sandbox.press_when_asked("+14155550123")
    call = sandbox.wait_for(lambda s: ended_call(s, "+14155550123"))
    heard = [line["text"] for line in call["transcript"]]
    assert "Press any key to hear your code." in " ".join(heard)
    assert "Your code is: 4, 8, 3, 9, 2, 0." in heard and "Again: 4, 8, 3, 9, 2, 0." in heard
    final = sandbox.wait_for(lambda s: next((m for m in s["messages"] if ":white_check_mark: code read" in m["text"]),
                                            None))
    # Updates (ringing, answered, reading the code, the ending) come at most about once a second,
    # coalesced: a quick call may show fewer steps, never a stale end.
    assert not final["ephemeral"] and 1 <= final["edited"] <= 4 and final["channel"] == "C0SANDBOX"
    reply = next(m for m in sandbox.state()["messages"] if m["ephemeral"])
    assert reply["text"] == ":telephone_receiver: Calling +1 415-555-0123… (code ••••••)"


def test_in_a_private_channel_without_the_bot_the_status_goes_through_the_response_url(sandbox):
    sandbox.command("/voiceotp +14155550001 4321", channel="G0PRIVATE")
    final = sandbox.wait_for(lambda s: next((m for m in s["messages"] if ":no_entry_sign: busy" in m["text"]), None))
    assert final["channel"] == "G0PRIVATE" and not final["ephemeral"]
    # Posted through the response_url (replaced there as the call went on, unless it ended first).
    assert [m for m in sandbox.state()["messages"] if not m["ephemeral"]] == [final]


def test_an_unknown_command_gets_slackbots_answer_and_reaches_no_app(sandbox):
    sandbox.command("/voicemagic now")
    message = sandbox.wait_for(lambda s: s["messages"])[0]
    assert message["user"] == "USLACKBOT" and "`/voicemagic` is not a valid command" in message["text"]


# -- the Slack Web API stand-in ------------------------------------------------------

def test_the_web_api_answers_the_methods_the_bot_uses_with_slacks_shapes_and_errors(sandbox):
    client = WebClient(token=sandbox.settings.slack_bot_token, base_url=sandbox.settings.slack_api_url)
    assert client.auth_test()["user_id"] == "U0VOICEBOT"
    assert client.users_info(user="U0ALICE")["user"]["profile"]["phone"] == "+1 415 555 0101"
    assert client.users_info(user="U0BOB")["user"]["profile"]["phone"] == "(415) 555-0102"
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0ALICE", "U0BOB"]
    assert client.conversations_info(channel="G0PRIVATE")["channel"]["is_member"] is False
    posted = client.chat_postMessage(channel="C0SANDBOX", text="hello")
    assert client.chat_update(channel="C0SANDBOX", ts=posted["ts"], text="hello again")["ok"]
    assert client.api_call("reactions.add")["ok"]
    for call, error in [
        (lambda: client.chat_postMessage(channel="G0PRIVATE", text="x"), "not_in_channel"),
        (lambda: client.chat_postMessage(channel="C0NOPE", text="x"), "channel_not_found"),
        (lambda: client.chat_update(channel="C0SANDBOX", ts="1.000001", text="x"), "message_not_found"),
        (lambda: client.users_info(user="U0NOBODY"), "user_not_found"),
        (lambda: WebClient(token="xoxb-wrong", base_url=sandbox.settings.slack_api_url).auth_test(), "invalid_auth"),
    ]:
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response.status_code == 200 and raised.value.response["error"] == error
    assert [m["text"] for m in sandbox.state()["messages"]] == ["hello again"]


def test_a_response_url_replaces_the_original_and_refuses_a_sixth_use(sandbox):
    workspace = sandbox.app.extensions["sandbox"]["workspace"]
    composer = sandbox.app.extensions["sandbox"]["composer"]
    url = composer.response_url(workspace.new_response_url("C0SANDBOX", "U0SANDBOX"))
    replies = [requests.post(url, json={"text": f"v{n}", "response_type": "in_channel", "replace_original": n > 0})
               for n in range(6)]
    assert [r.status_code for r in replies] == [200] * 5 + [404] and replies[5].text == "used_url"
    assert [m["text"] for m in sandbox.state()["messages"]] == ["v4"]


# -- /voicealert through the console ----------------------------------------------------------

def test_voicealert_from_the_composer_rings_alice_and_her_key_acknowledges_it(sandbox):
    # The composer escapes @alice as Slack does for /voicealert (should_escape in manifest.yml).
    assert sandbox.command("/voicealert @alice The database is down").json() == {"ok": True}
    call = sandbox.press_when_asked("+14155550101", "1")
    ended = sandbox.wait_for(lambda s: ended_call(s, "+14155550101"))
    heard = " ".join(line["text"] for line in ended["transcript"])
    assert "The database is down" in heard
    assert "Press 1 to acknowledge. Press 2 to hear the message again." in heard
    assert "Acknowledged. Thank you." in heard
    assert ended["call_uuid"] == call["call_uuid"]
    message = sandbox.wait_for(lambda s: next((m for m in s["messages"] if "*Acknowledged*" in m["text"]), None))
    assert "by phone" in message["text"] or "phone" in message["text"]


def test_voicealert_to_bob_reads_his_profile_number_in_the_default_region(sandbox):
    # Bob's profile says "(415) 555-0102", with no country code: DEFAULT_REGION (US) reads it.
    sandbox.command("/voicealert @bob Disk full")
    sandbox.press_when_asked("+14155550102", "1")
    sandbox.wait_for(lambda s: ended_call(s, "+14155550102"))


def test_after_acknowledging_alice_presses_9_and_the_console_is_called_into_the_voice_bridge(sandbox):
    sandbox.command("/voicealert @alice The database is down")
    sandbox.press_when_asked("+14155550101", "1")
    alice = sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == "+14155550101" and c["listening"]
                                             and "Press 9" in " ".join(line["text"] for line in c["transcript"])),
                                            None))
    assert requests.post(f"{sandbox.url}/sandbox/api/calls/{alice['call_uuid']}/digits", json={"digits": "9"},
                         timeout=10).json()["ok"]
    # The console's own number (the requester's profile) rings, answers, and both are on one conference.
    you = sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == "+14155550199"
                                           and "conference call" in " ".join(l["text"] for l in c["transcript"])),
                                          None))
    heard = " ".join(line["text"] for line in you["transcript"])
    # Alice's Slack display name is "alice".
    assert "alice acknowledged your alert and is waiting on the line." in heard and "with +14155550101" in heard
    bridge = sandbox.wait_for(lambda s: next((m for m in s["messages"] if "*Voice bridge*: <@U0ALICE>, <@U0SANDBOX>"
                                              in json.dumps(m.get("blocks"))), None))
    assert "alert_join" in json.dumps(bridge["blocks"])


# -- the form, the shortcut and the Home tab, in the console ------------------------------------------

def api(sandbox, path: str, body: dict | None = None) -> dict:
    return requests.post(f"{sandbox.url}/sandbox/api/{path}", json=body or {}, timeout=10).json()


def test_a_bare_voicealert_opens_the_form_in_the_console_and_submitting_it_rings_alice(sandbox):
    sandbox.command("/voicealert")
    # Opened at once, then its user groups added (views.update).
    modal = sandbox.wait_for(lambda s: s["modal"] if s["modal"] and any(
        b["block_id"] == "who_groups" for b in s["modal"]["blocks"]) else None)
    assert modal["callback_id"] == "voicealert_form" and modal["title"]["text"] == "Phone people"
    group_block = next(b for b in modal["blocks"] if b["block_id"] == "who_groups")
    assert [o["value"] for o in group_block["element"]["options"]] == ["S0ONCALL", "S0SANDBOXONCALL"]
    empty = {"message": {"value": {"type": "plain_text_input", "value": None}}}
    refused = api(sandbox, "view/submit", {"values": empty})
    assert set(refused["errors"]) == {"who_users", "message"}
    assert sandbox.state()["modal"] is not None  # errors keep the form open
    values = {"who_users": {"value": {"type": "multi_users_select", "selected_users": ["U0ALICE"]}},
              "how": {"value": {"type": "radio_buttons", "selected_option": {"value": "at_once"}}},
              "message": {"value": {"type": "plain_text_input", "value": "The database is down"}}}
    assert api(sandbox, "view/submit", {"values": values}) == {"ok": True}
    assert sandbox.state()["modal"] is None
    sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == "+14155550101"), None))


def test_the_message_shortcut_opens_the_form_with_the_message_in_it(sandbox):
    sandbox.command("Checkout is failing for everyone")
    message = sandbox.wait_for(lambda s: next((m for m in s["messages"] if "Checkout" in m["text"]), None))
    assert api(sandbox, "shortcut", {"channel": "C0SANDBOX", "ts": message["ts"]}) == {"ok": True}
    modal = sandbox.wait_for(lambda s: s["modal"])
    assert modal["blocks"][-1]["element"]["initial_value"] == "Checkout is failing for everyone"


def test_the_home_tab_shows_the_console_users_number_and_its_test_call_rings_it(sandbox):
    assert api(sandbox, "home") == {"ok": True}
    home = sandbox.wait_for(lambda s: s["home"])
    assert "Alerts reach you at +1 •••-•••-0199" in json.dumps(home["blocks"], ensure_ascii=False)
    assert api(sandbox, "home/actions", {"action_id": "home_test_call"}) == {"ok": True}
    sandbox.wait_for(lambda s: next((c for c in s["calls"] if c["to"] == "+14155550199"), None))
