"""/voiceotp through the whole app, in-process: Slack's command, Plivo's REST API
(`responses`), Plivo's callbacks and the channel message on a loopback Slack."""

from __future__ import annotations

import json
import time

import pytest
import requests

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
from voice.calls.models import ENDED

CODE = "483920"
NUMBER = "+14155550123"
CHANNEL = "C0OPS"


def created_call_bodies(plivo_api) -> list[dict]:
    return [json.loads(call.request.body) for call in plivo_api.calls if call.request.url == CREATE_CALL_URL]


def wait_for_create(plivo_api, fake_slack) -> dict:
    bodies = fake_slack.wait_for(lambda: created_call_bodies(plivo_api))
    return bodies[0]


def start_call(client, slack, plivo_api, fake_slack, text=f"{NUMBER} {CODE}", **kwargs):
    plivo_accepts(plivo_api, "req-0001")
    reply = send(client, slack.command(text, **kwargs))
    assert reply.status_code == 200
    return reply, wait_for_create(plivo_api, fake_slack)


def channel_message(fake_slack, predicate, channel=CHANNEL):
    return fake_slack.wait_for_message(channel, lambda m: predicate(m.text or ""))


def test_the_requester_sees_the_number_called_with_the_code_masked(client, slack, plivo_api, fake_slack):
    reply, _ = start_call(client, slack, plivo_api, fake_slack)
    body = reply.get_data(as_text=True)
    assert "Calling +1 415-555-0123…" in body
    assert "••••••" in body
    assert_no_code(body, CODE)


def test_a_status_message_appears_in_the_channel_then_the_call_is_placed(client, slack, plivo_api, fake_slack):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    message = channel_message(fake_slack, lambda t: "calling…" in t)
    assert message.text == ":telephone_receiver: Voice code to +1 415-555-0123 requested by <@U0ANA>: calling…"
    assert created["to"] == NUMBER and created["from"] == "+14155550100"
    assert created["answer_method"] == "POST"
    for key in ("answer_url", "hangup_url", "ring_url"):
        assert created[key].startswith("https://voice.example.test/plivo/")
        assert_no_code(created[key], CODE)


def test_plivo_is_called_with_basic_auth_json_and_a_time_limit(client, slack, plivo_api, fake_slack):
    start_call(client, slack, plivo_api, fake_slack)
    call = next(c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL)
    assert call.request.headers["Authorization"].startswith("Basic ")
    assert call.request.headers["Content-Type"] == "application/json"
    body = json.loads(call.request.body)
    assert 0 < body["time_limit"] <= 300 and 0 < body["ring_timeout"] <= 60


def answer_and_press(client, plivo, created, call_uuid="call-1", digits="5"):
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid=call_uuid, to=NUMBER))
    return send(client, plivo.digits(key_path(created), call_uuid=call_uuid, to=NUMBER, digits=digits))


def test_the_answer_asks_for_a_key_before_reading_anything(client, slack, plivo_api, fake_slack, plivo):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    answer = send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert answer.status_code == 200
    assert answer.mimetype == "text/xml"
    assert answer.headers["Cache-Control"] == "no-store"
    document = answer.get_data(as_text=True)
    assert "Press any key to hear your code." in document
    assert_no_code(document, CODE)
    channel_message(fake_slack, lambda t: "answered, waiting for a key press…" in t)


def test_after_a_key_the_code_is_read_digit_by_digit_twice(client, slack, plivo_api, fake_slack, plivo):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    reply = answer_and_press(client, plivo, created)
    document = reply.get_data(as_text=True)
    assert reply.headers["Cache-Control"] == "no-store"
    assert document.count("4, 8, 3, 9, 2, 0.") == 2
    assert "Press 1 to hear it again." in document
    channel_message(fake_slack, lambda t: "answered, reading the code…" in t)


def test_the_hangup_updates_the_same_channel_message_once(client, slack, plivo_api, fake_slack, plivo):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    answer_and_press(client, plivo, created)
    hangup = plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21,
                          total_cost="0.00850")
    assert send(client, hangup).status_code == 200
    final = channel_message(fake_slack, lambda t: "code read" in t)
    assert final.text.endswith(":white_check_mark: code read · 21 s · $0.0085")

    # Plivo retries the hangup: nothing changes and nothing more is posted.
    updates_before = len(fake_slack.calls("chat.update"))
    assert send(client, hangup).status_code == 200
    time.sleep(0.3)
    assert len(fake_slack.calls("chat.update")) == updates_before
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert len(fake_slack.messages(CHANNEL)) == 1


@pytest.mark.parametrize(
    ("status", "cause_code", "cause_name", "shown"),
    [
        ("busy", 3010, "Busy Line", ":no_entry_sign: busy"),
        ("no-answer", 3030, "No Answer", ":no_entry_sign: no answer"),
        ("timeout", 3030, "No Answer", ":no_entry_sign: no answer"),
        ("failed", 2000, "Invalid Destination Address", ":x: failed: the number does not exist (invalid destination)"),
        ("cancel", 1000, "Canceled", ":heavy_multiplication_x: cancelled"),
    ],
)
def test_each_ending_is_reported_in_words(client, slack, plivo_api, fake_slack, plivo, status, cause_code, cause_name, shown):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    hangup = plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-9", to=NUMBER,
                          status=status, duration=0, cause_code=cause_code, cause_name=cause_name)
    send(client, hangup)
    message = channel_message(fake_slack, lambda t: shown in t)
    assert message.text.endswith(shown)


def test_an_ended_call_gets_a_polite_hangup_and_its_code_is_gone(app, client, slack, plivo_api, fake_slack, plivo):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    answer_path = callback_path(created["answer_url"])
    answer_and_press(client, plivo, created)
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER))
    again = answer_and_press(client, plivo, created)
    assert again.status_code == 200
    document = again.get_data(as_text=True)
    assert "<Hangup" in document and "no longer valid" in document
    assert_no_code(document, CODE)

    services = app.extensions["voicebridge"]["services"]
    with services.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM legs").fetchall()
    assert rows and all(CODE not in str(row) for row in rows)
    token = answer_path.rsplit("/", 1)[1]
    assert services.legs.get(token).status == ENDED


def test_an_unknown_call_token_gets_a_polite_hangup(client, plivo):
    reply = send(client, plivo.answer("/plivo/answer/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", call_uuid="x", to=NUMBER))
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    assert "<Hangup" in reply.get_data(as_text=True)


def test_a_second_call_uuid_cannot_fetch_the_code(client, slack, plivo_api, fake_slack, plivo):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    other = answer_and_press(client, plivo, created, call_uuid="call-2")
    assert_no_code(other.get_data(as_text=True), CODE)


@pytest.mark.parametrize("forgery", ["wrong token", "no signature", "tampered field", "other url"])
def test_a_forged_plivo_callback_gets_403_and_changes_nothing(client, slack, plivo_api, fake_slack, plivo, forgery):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    channel_message(fake_slack, lambda t: "calling…" in t)
    path = callback_path(created["hangup_url"])
    fields = {"CallUUID": "call-1", "CallStatus": "busy", "HangupCauseCode": "3010", "Duration": "0"}
    if forgery == "wrong token":
        signed = plivo.post(path, fields, auth_token="not-our-token")
    else:
        signed = plivo.post(path if forgery != "other url" else "/plivo/hangup/other", fields)
    headers = dict(signed.headers)
    body = signed.body
    if forgery == "no signature":
        headers.pop("X-Plivo-Signature-V3")
        headers.pop("X-Plivo-Signature-Ma-V3")
    if forgery == "tampered field":
        body = body.replace("busy", "completed")
    reply = client.post(path, data=body, headers=headers)
    assert reply.status_code == 403
    answer = client.post(callback_path(created["answer_url"]), data=body, headers=headers)
    assert answer.status_code == 403
    time.sleep(0.2)
    assert fake_slack.messages(CHANNEL)[0].text.endswith("calling…")
    assert fake_slack.calls("chat.update") == []


def test_a_captured_key_press_sent_again_is_refused_and_never_reads_the_code_again(
        client, slack, plivo_api, fake_slack, plivo, caplog):
    _, created = start_call(client, slack, plivo_api, fake_slack)
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    press = plivo.digits(key_path(created), call_uuid="call-1", to=NUMBER, digits="1")
    first = send(client, press)
    assert first.status_code == 200 and first.get_data(as_text=True).count("4, 8, 3, 9, 2, 0.") == 2
    for _ in range(2):  # the very same signed request, as whoever captured it sends it
        again = client.post(press.path, data=press.body, headers=press.headers)
        assert again.status_code == 403
        assert_no_code(again.get_data(as_text=True), CODE)
    assert "sent again (a nonce already used): a replay" in caplog.text
    nonce, token = press.headers["X-Plivo-Signature-V3-Nonce"], press.path.rsplit("/", 1)[1]
    assert nonce not in caplog.text and token not in caplog.text
    # The callee pressing 1 again is a new request of Plivo's, with its own nonce: heard again.
    heard = send(client, plivo.digits(key_path(created), call_uuid="call-1", to=NUMBER, digits="1"))
    assert heard.status_code == 200 and "4, 8, 3, 9, 2, 0." in heard.get_data(as_text=True)


@pytest.mark.parametrize("raised_by", ["sqlalchemy", "the driver"])
def test_a_nonce_that_cannot_be_recorded_does_not_cost_the_callee_their_call(app, client, slack, plivo_api, fake_slack,
                                                                             plivo, monkeypatch, caplog, raised_by):
    from sqlalchemy.exc import OperationalError

    _, created = start_call(client, slack, plivo_api, fake_slack)
    engine = app.extensions["voicebridge"]["engine"]

    def unreachable(*args, **kwargs):
        if raised_by == "the driver":  # the nonce's INSERT runs on the driver's own cursor: its error is unwrapped
            raise engine.dialect.dbapi.OperationalError("connection refused")
        raise OperationalError("INSERT INTO used_once …", {}, Exception("the database is unreachable"))

    monkeypatch.setattr(app.extensions["voicebridge"]["services"].used_once, "first_use", unreachable)
    answer = send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert answer.status_code == 200 and "Press any key to hear your code." in answer.get_data(as_text=True)
    assert "served without the replay check" in caplog.text


def test_a_request_replayed_to_another_instance_is_refused_there_too(settings, plivo_api, slack, fake_slack, plivo):
    """Both instances share the database, as several instances do: what one served, the other refuses."""
    first, second = running_app(settings).test_client(), running_app(settings).test_client()
    _, created = start_call(first, slack, plivo_api, fake_slack, text=NUMBER)
    answer = plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER)
    assert send(first, answer).status_code == 200
    replayed = second.post(answer.path, data=answer.body, headers=answer.headers)
    assert replayed.status_code == 403


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Tell me which number to call."),
        ("+14155550123 12", "The code must be 4 to 10 digits; yours has 2."),
        ("+14155550123 lang=tlh", "is not a language I speak"),
        ("check +14155550123", "The code to check is missing"),
        ("4155550123 483920", "does not start with + and a country code"),
        ("+15551234567 483920", "is not a valid number"),
        ("+1 415 555 0123 48a920", "The code must be 4 to 10 digits"),
    ],
)
def test_bad_input_gets_a_specific_error_and_the_usage_and_no_call(client, slack, plivo_api, fake_slack, text, problem):
    reply = send(client, slack.command(text))
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert problem in body
    assert "Usage:\n• `/voiceotp &lt;number&gt;`" in body
    time.sleep(0.3)
    assert created_call_bodies(plivo_api) == []
    assert fake_slack.calls("chat.postMessage") == []


def test_help_shows_the_usage(client, slack, plivo_api):
    body = send(client, slack.command("help")).get_data(as_text=True)
    assert body.startswith("Usage:\n• `/voiceotp &lt;number&gt;`")


@pytest.mark.parametrize("change", ["bad signature", "stale timestamp", "garbage timestamp"])
def test_a_forged_or_stale_slack_request_gets_401_and_places_no_call(client, slack, plivo_api, fake_slack, change):
    if change == "stale timestamp":
        signed = slack.command(f"{NUMBER} {CODE}", timestamp=int(time.time()) - 600)
        headers = signed.headers
    else:
        signed = slack.command(f"{NUMBER} {CODE}")
        headers = dict(signed.headers)
        if change == "bad signature":
            headers["X-Slack-Signature"] = "v0=" + "0" * 64
        else:
            headers["X-Slack-Request-Timestamp"] = "yesterday"
    reply = client.post(signed.path, data=signed.body, headers=headers)
    assert reply.status_code == 401
    time.sleep(0.3)
    assert created_call_bodies(plivo_api) == []
    assert fake_slack.requests == []


@pytest.mark.parametrize(
    ("status", "plivo_body", "shown"),
    [
        (400, {"error": "invalid to number"}, "Plivo rejected the call request: invalid to number."),
        (401, {"error": "authentication failed"}, "check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN"),
        (403, {"error": "Calls to this destination country are barred."},
         "Plivo does not allow calls to this destination"),
    ],
)
def test_plivo_errors_become_words_in_the_channel_message(client, slack, plivo_api, fake_slack, status, plivo_body, shown):
    plivo_api.post(CREATE_CALL_URL, status=status, json=plivo_body)
    send(client, slack.command(f"{NUMBER} {CODE}"))
    message = channel_message(fake_slack, lambda t: "failed" in t)
    assert shown in message.text
    assert "could not be placed" in message.text
    assert "Traceback" not in message.text


@pytest.mark.parametrize(("status", "body"), [(503, {"error": "service unavailable"}), (500, {}),
                                              (429, {"error": "too many requests"})])
def test_while_plivo_fails_the_channel_hears_it_is_still_trying_and_the_call_is_placed_once_it_recovers(
        client, slack, plivo_api, fake_slack, status, body):
    for _ in range(2):
        plivo_api.post(CREATE_CALL_URL, status=status, json=body)  # Plivo fails twice, then places the call
    plivo_accepts(plivo_api, "req-0001")
    send(client, slack.command(f"{NUMBER} {CODE}"))
    message = channel_message(fake_slack, lambda t: "still trying" in t)
    assert message.text.endswith(": :hourglass: Plivo is having trouble; still trying…")
    fake_slack.wait_for(lambda: len(created_call_bodies(plivo_api)) == 3, timeout=10)
    channel_message(fake_slack, lambda t: t.endswith(": calling…"))
    time.sleep(1.5)
    assert len(created_call_bodies(plivo_api)) == 3  # two refused, one placed: never again after that


def timed_out_call(client, slack, plivo_api, fake_slack) -> dict:
    """/voiceotp whose create-call reached Plivo and got no answer: what Plivo was asked."""
    plivo_api.post(CREATE_CALL_URL, body=requests.ReadTimeout("read timed out"))
    send(client, slack.command(f"{NUMBER} {CODE}"))
    return wait_for_create(plivo_api, fake_slack)


def test_a_call_plivo_did_not_confirm_may_still_ring_and_is_then_answered_and_reported(
        client, slack, plivo_api, fake_slack, plivo):
    created = timed_out_call(client, slack, plivo_api, fake_slack)
    message = channel_message(fake_slack, lambda t: "did not confirm" in t)
    assert message.text.endswith(":hourglass: Plivo did not confirm the call; it may still ring…")
    # It did ring after all: the callee hears the code, and Slack follows the real call.
    send(client, plivo.ring(callback_path(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    assert hear_code(client, plivo, created, to=NUMBER) == CODE
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21,
                              total_cost="0.0085"))
    final = channel_message(fake_slack, lambda t: "code read" in t and "·" in t)
    assert final.ts == message.ts
    assert final.text.endswith(":white_check_mark: code read · 21 s · $0.0085")


def test_a_call_plivo_did_not_confirm_that_never_rings_fails_after_its_ring_time_and_loses_its_code(
        settings, plivo_api, slack, fake_slack, plivo, clock):
    from answer_server import create_app

    app = create_app(settings, clock=clock, message_pace=0, slack_post_rate=100.0)
    client = app.test_client()
    work = app.extensions["voicebridge"]["workers"]
    plivo_api.post(CREATE_CALL_URL, body=requests.ReadTimeout("read timed out"))
    send(client, slack.command(f"{NUMBER} {CODE}"))
    work.drain()
    created = wait_for_create(plivo_api, fake_slack)
    channel_message(fake_slack, lambda t: "did not confirm" in t)
    clock.advance(seconds=100)
    work.drain()  # Plivo's ring timeout (45 s) and its queue's grace are not over yet
    assert "did not confirm" in fake_slack.messages(CHANNEL)[0].text
    clock.advance(seconds=6)
    work.drain()
    message = channel_message(fake_slack, lambda t: "never rang" in t)
    assert message.text.endswith(":x: failed: Plivo did not confirm the call, and it never rang.")
    with app.extensions["voicebridge"]["engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT secret FROM legs").fetchall() == [(None,)]
    late = send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    assert "no longer valid" in late.get_data(as_text=True)
    app.extensions["voicebridge"]["close"]()


def test_where_the_bot_cannot_post_the_response_url_carries_the_status(client, slack, plivo_api, fake_slack, plivo):
    fake_slack.fail_channel("G0PRIVATE", "not_in_channel")
    url = fake_slack.response_url("private")
    _, created = start_call(client, slack, plivo_api, fake_slack, channel_id="G0PRIVATE", response_url=url)
    fake_slack.wait_for(lambda: any("calling…" in p["text"] for p in fake_slack.responses_to(url)))
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="c", to=NUMBER, status="busy",
                              duration=0, cause_code=3010, cause_name="Busy Line"))
    last = fake_slack.wait_for(lambda: [p for p in fake_slack.responses_to(url) if "busy" in p["text"]])
    assert last[0]["replace_original"] is True
    assert last[0]["response_type"] == "in_channel"
    for payload in fake_slack.responses_to(url):
        assert_no_code(json.dumps(payload), CODE)


def test_through_a_response_url_the_final_state_and_its_late_cost_always_land(
        client, slack, plivo_api, fake_slack, plivo):
    """Slack takes a response_url 5 times: the states along the way leave room for the end."""
    fake_slack.fail_channel("G0PRIVATE", "not_in_channel")
    url = fake_slack.response_url("private-budget")
    _, created = start_call(client, slack, plivo_api, fake_slack, channel_id="G0PRIVATE", response_url=url)
    plivo_api.get(f"{PLIVO_API}/v1/Account/{AUTH_ID}/Call/call-1/", json={"total_amount": "0.00850"})
    fake_slack.wait_for(lambda: fake_slack.responses_to(url))
    send(client, plivo.ring(callback_path(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    fake_slack.wait_for(lambda: any("ringing…" in p["text"] for p in fake_slack.responses_to(url)))
    assert hear_code(client, plivo, created, to=NUMBER) == CODE  # answered, then a key: two more states
    time.sleep(0.2)
    # No TotalCost in the hangup: the cost comes from Plivo's call record afterwards, one more change.
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21))
    final = fake_slack.wait_for(lambda: [p for p in fake_slack.responses_to(url) if "$0.0085" in p["text"]])
    assert final[-1]["text"].endswith(":white_check_mark: code read · 21 s · $0.0085")
    assert any(p["text"].endswith(":white_check_mark: code read · 21 s") for p in fake_slack.responses_to(url))
    assert len(fake_slack.responses_to(url)) <= 5
    assert fake_slack.rejected_responses_to(url) == []
    assert fake_slack.response_messages(url)[-1]["text"] == final[-1]["text"]


def test_the_same_command_delivered_twice_places_one_call(client, slack, plivo_api, fake_slack):
    plivo_accepts(plivo_api)
    signed = slack.command(f"{NUMBER} {CODE}", trigger_id="123.456.abc")
    send(client, signed)
    send(client, signed)
    wait_for_create(plivo_api, fake_slack)
    time.sleep(0.3)
    assert len(created_call_bodies(plivo_api)) == 1


def test_healthz_answers_ok_when_the_database_is_reachable(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200 and reply.get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("+1 900 555 0123 483920", "+1 900-555-0123 is refused: this app never calls premium-rate numbers."),
        ("+14155550100 483920", "is this app's own caller ID"),
    ],
)
def test_a_forbidden_destination_is_refused_in_the_reply_and_never_dialled(client, slack, plivo_api, fake_slack, text, reason):
    body = send(client, slack.command(text)).get_data(as_text=True)
    assert reason in body and "No call was placed." in body
    time.sleep(0.3)
    assert created_call_bodies(plivo_api) == []
    assert fake_slack.calls("chat.postMessage") == []


def test_a_country_not_allowed_is_refused(settings, plivo_api, slack, fake_slack):
    from dataclasses import replace


    app = running_app(replace(settings, allowed_countries=frozenset({"US"})))
    client = app.test_client()
    body = send(client, slack.command("+34 612 34 56 78 483920")).get_data(as_text=True)
    assert "is in Spain, which this workspace does not call (allowed: US)" in body
    time.sleep(0.3)
    assert created_call_bodies(plivo_api) == []
