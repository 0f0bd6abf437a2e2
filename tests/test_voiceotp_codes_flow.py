"""Generated codes, checks, the voicemail guard, languages, refusals and cost, through the app."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from tests.conftest import (
    AUTH_ID,
    CREATE_CALL_URL,
    PLIVO_API,
    assert_no_code,
    callback_path,
    hear_code,
    key_path,
    plivo_accepts,
    running_app,
    send,
)
from voice.store.schema import legs

NUMBER = "+14155550123"
CHANNEL = "C0OPS"


def created(plivo_api) -> list[dict]:
    return [json.loads(c.request.body) for c in plivo_api.calls if c.request.url == CREATE_CALL_URL]


def place(client, slack, plivo_api, fake_slack, text, **kwargs) -> tuple[str, dict]:
    before = len(created(plivo_api))
    plivo_accepts(plivo_api)
    reply = send(client, slack.command(text, **kwargs)).get_data(as_text=True)
    body = fake_slack.wait_for(lambda: created(plivo_api)[before:])[0]
    return reply, body


def all_slack_text(fake_slack) -> str:
    return json.dumps([r.body_dict for r in fake_slack.requests])


def test_a_generated_code_is_read_to_the_callee_and_never_shown_in_slack(client, slack, plivo_api, fake_slack, plivo):
    reply, call = place(client, slack, plivo_api, fake_slack, NUMBER)
    assert "with a new code, which is never shown here" in reply
    assert f"`/voiceotp check {NUMBER} &lt;code&gt;`" in reply
    code = hear_code(client, plivo, call)
    assert len(code) == 6
    fake_slack.wait_for(lambda: fake_slack.calls("chat.update"))
    assert_no_code(reply + all_slack_text(fake_slack), code)
    assert code not in json.dumps(call)


def test_checking_the_code_verifies_it_and_tells_the_channel(client, slack, plivo_api, fake_slack, plivo):
    _, call = place(client, slack, plivo_api, fake_slack, NUMBER)
    code = hear_code(client, plivo, call)
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    assert send(client, slack.command(f"check {NUMBER} {wrong}")).get_data(as_text=True) == \
        ":x: wrong code (4 tries left)."
    right = send(client, slack.command(f"check +1 (415) 555-0123 {code}")).get_data(as_text=True)
    assert right == ":white_check_mark: verified: the code for +1 415-555-0123 is correct."
    announcement = fake_slack.wait_for_message(CHANNEL, lambda m: "was verified" in (m.text or ""))
    assert announcement.text == ":white_check_mark: The code for +1 415-555-0123 was verified by <@U0ANA> (••••••)."
    again = send(client, slack.command(f"check {NUMBER} {code}")).get_data(as_text=True)
    assert "already verified" in again
    assert_no_code(all_slack_text(fake_slack), code)


def test_five_wrong_checks_kill_the_code(client, slack, plivo_api, fake_slack):
    place(client, slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    replies = [send(client, slack.command(f"check {NUMBER} 11111{i}")).get_data(as_text=True) for i in range(5)]
    assert replies[3] == ":x: wrong code (1 try left)."
    assert "no tries are left" in replies[4]
    assert "no tries are left" in send(client, slack.command(f"check {NUMBER} 483920")).get_data(as_text=True)


def test_checking_a_number_that_was_never_called(client, slack):
    reply = send(client, slack.command(f"check {NUMBER} 483920")).get_data(as_text=True)
    assert reply == f"No code is waiting for +1 415-555-0123. Request one first with `/voiceotp {NUMBER}`."


def test_an_answering_machine_never_hears_the_code(app, client, slack, plivo_api, fake_slack, plivo):
    _, call = place(client, slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    assert call["machine_detection"] == "hangup"
    machine_url = call["machine_detection_url"]
    send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert send(client, plivo.machine(callback_path(machine_url), call_uuid="call-1", to=NUMBER, if_machine="hangup")).status_code == 200
    document = send(client, plivo.digits(key_path(call), call_uuid="call-1", to=NUMBER, digits="1")).get_data(as_text=True)
    assert_no_code(document, "483920")
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=8))
    final = fake_slack.wait_for_message(CHANNEL, lambda m: "voicemail" in (m.text or "") and "·" in (m.text or ""))
    assert final.text.endswith(":vhs: voicemail: code not read · 8 s")
    with app.extensions["voicebridge"]["engine"].connect() as conn:
        assert conn.execute(select(legs.c.secret)).scalar() is None


def test_nobody_pressing_a_key_means_the_code_was_not_read(client, slack, plivo_api, fake_slack, plivo):
    _, call = place(client, slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="call-1", to=NUMBER))
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=16))
    final = fake_slack.wait_for_message(CHANNEL, lambda m: "no key was pressed" in (m.text or ""))
    assert final.text.endswith(":warning: answered, but no key was pressed: code not read · 16 s")


@pytest.mark.parametrize(
    ("text", "to", "sentence", "language"),
    [
        ("+34 612 34 56 78 483920", "+34612345678", "Pulse cualquier tecla para escuchar su código.", "es-ES"),
        (f"{NUMBER} 483920 lang=fr", NUMBER, "Appuyez sur une touche pour entendre votre code.", "fr-FR"),
        ("+49 30 12345678 lang=en", "+493012345678", "Press any key to hear your code.", "en-US"),
    ],
)
def test_the_call_speaks_the_numbers_language_unless_told(client, slack, plivo_api, fake_slack, plivo,
                                                          text, to, sentence, language):
    _, call = place(client, slack, plivo_api, fake_slack, text)
    document = send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="c", to=to)).get_data(as_text=True)
    assert sentence in document
    assert f'language="{language}"' in document


def test_the_cost_comes_from_the_call_record_when_the_hangup_has_none(client, slack, plivo_api, fake_slack, plivo):
    _, call = place(client, slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    plivo_api.get(f"{PLIVO_API}/v1/Account/{AUTH_ID}/Call/call-1/", json={"total_amount": "0.01700"})
    hear_code(client, plivo, call)
    send(client, plivo.hangup(callback_path(call["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=65))
    final = fake_slack.wait_for_message(CHANNEL, lambda m: "$" in (m.text or ""))
    assert final.text.endswith(":white_check_mark: code read · 1 min 5 s · $0.017")


def test_the_fourth_call_to_a_number_in_ten_minutes_is_refused_with_when(client, slack, plivo_api, fake_slack, app):
    for _ in range(3):
        place(client, slack, plivo_api, fake_slack, NUMBER)
    reply = send(client, slack.command(NUMBER)).get_data(as_text=True)
    assert reply.startswith(":no_entry: Limit reached: at most 3 calls to one number per 10 minutes. "
                            "The next call is possible at <!date^")
    assert "(in 10 min). No call was placed." in reply
    time.sleep(0.3)
    assert len(created(plivo_api)) == 3
    assert app.extensions["voicebridge"]["otp"].store.refusal_kinds() == ["rate_limit"]


@pytest.mark.parametrize(
    ("changes", "user", "channel", "reply", "kind"),
    [
        ({"allowed_slack_users": frozenset({"U0BOSS"})}, "U0ANA", "C0OPS",
         "Sorry, you are not allowed to place calls with this app.", "not_allowed_user"),
        ({"allowed_slack_channels": frozenset({"C0SECURE"})}, "U0ANA", "C0OPS",
         "Calls cannot be placed from this channel.", "not_allowed_channel"),
    ],
)
def test_only_allowed_users_and_channels_may_call(settings, plivo_api, slack, fake_slack, changes, user, channel,
                                                  reply, kind):
    app = running_app(replace(settings, **changes))
    client = app.test_client()
    body = send(client, slack.command(f"{NUMBER} 483920", user_id=user, channel_id=channel)).get_data(as_text=True)
    assert reply in body and "No call was placed." in body
    app.extensions["voicebridge"]["close"]()
    assert created(plivo_api) == []
    assert app.extensions["voicebridge"]["otp"].store.refusal_kinds() == [kind]


def test_an_allowed_user_in_an_allowed_channel_may_call(settings, plivo_api, slack, fake_slack):
    app = running_app(replace(settings, allowed_slack_users=frozenset({"U0ANA"}),
                             allowed_slack_channels=frozenset({"C0OPS"})))
    place(app.test_client(), slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    app.extensions["voicebridge"]["close"]()


def test_without_the_guard_the_answer_reads_the_code(settings, plivo_api, slack, fake_slack, plivo):
    app = running_app(replace(settings, otp_voicemail_guard=False))
    client = app.test_client()
    _, call = place(client, slack, plivo_api, fake_slack, f"{NUMBER} 483920")
    assert "machine_detection" not in call
    document = send(client, plivo.answer(callback_path(call["answer_url"]), call_uuid="c", to=NUMBER)).get_data(
        as_text=True)
    assert document.count("4, 8, 3, 9, 2, 0.") == 2
    app.extensions["voicebridge"]["close"]()


def test_the_word_payload_in_a_command_is_just_text(client, slack, plivo_api, fake_slack):
    # slack_bolt alone would answer this with a 404 (see answer_server/slack_requests.py).
    reply = send(client, slack.command("payload"))
    assert reply.status_code == 200
    assert "“payload” does not start with + and a country code" in reply.get_data(as_text=True)
    # The word anywhere in the body (here in the response_url) must reach the lazy listener intact too.
    url = fake_slack.response_url("payload")
    reply, call = place(client, slack, plivo_api, fake_slack, f"{NUMBER} lang=es", response_url=url)
    assert "Calling +1 415-555-0123…" in reply
    assert call["to"] == NUMBER
