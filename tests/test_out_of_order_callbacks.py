"""Plivo's callbacks late, twice, for another call, or after the end: what callees hear and Slack shows.

A call belongs to the first CallUUID Plivo reports for it; an event carrying
another changes nothing. An ended call answers every later request with a
goodbye. A create-call Plivo never confirmed may still ring: it stays
answerable, and an alert waits for it instead of ringing the phone again.
"""

# ruff: noqa: F811 - the alert flow's fixtures are imported from its module and named as parameters

from __future__ import annotations

import json
import logging
import time

import requests

from tests.conftest import (
    CREATE_CALL_URL,
    callback_path,
    hear_code,
    key_path,
    plivo_accepts,
    send,
)
from tests.test_voicealert_flow import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    Callee,
    alert,
    alert_app,
    alert_message,
    buttons_value,
    callee,
    client,
    message_of,
    people,
    scheduler,
    slack,
    speech,
)

NUMBER = "+14155550123"
CODE = "483920"
CHANNEL = "C0OPS"


def created_call(plivo_api, fake_slack) -> dict:
    """What Plivo was asked to place (whether or not it answered)."""
    calls = fake_slack.wait_for(lambda: [c for c in plivo_api.calls if c.request.url == CREATE_CALL_URL])
    return json.loads(calls[0].request.body)


def voice_code_call(client, slack, plivo_api, fake_slack) -> dict:
    plivo_accepts(plivo_api, "req-0001")
    send(client, slack.command(f"{NUMBER} {CODE}"))
    return created_call(plivo_api, fake_slack)


def last_text(fake_slack) -> str:
    """The status message's text; "" while it is not posted yet (its post waits on the channel's pace)."""
    posted = fake_slack.messages(CHANNEL)
    return (posted[0].text or "") if posted else ""


# -- voice codes -----------------------------------------------------------------------------


def test_a_hangup_carrying_another_call_uuid_leaves_the_live_call_alone(
        client, slack, plivo, plivo_api, fake_slack, caplog):
    created = voice_code_call(client, slack, plivo_api, fake_slack)
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    fake_slack.wait_for(lambda: "waiting for a key press" in last_text(fake_slack))
    with caplog.at_level(logging.WARNING, logger="voice.calls.binding"):
        for _ in range(2):  # Plivo redelivers it
            stray = plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-OTHER", to=NUMBER,
                                 status="completed", duration=3)
            assert send(client, stray).status_code == 200
    time.sleep(0.2)
    assert last_text(fake_slack).endswith("answered, waiting for a key press…")
    # The callee's key still opens the code, and the real hangup still ends the call.
    digits = send(client, plivo.digits(key_path(created), call_uuid="call-1", to=NUMBER, digits="5"))
    assert "4, 8, 3, 9, 2, 0." in digits.get_data(as_text=True)
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-1", to=NUMBER, duration=21,
                              total_cost="0.0085"))
    fake_slack.wait_for(lambda: last_text(fake_slack).endswith("code read · 21 s · $0.0085"))
    warnings = [r for r in caplog.records if r.name == "voice.calls.binding"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "hangup" in warnings[0].getMessage() and "call-OTH" in warnings[0].getMessage()


def test_ring_machine_and_keys_for_another_call_uuid_change_nothing(client, slack, plivo, plivo_api, fake_slack):
    created = voice_code_call(client, slack, plivo_api, fake_slack)
    send(client, plivo.ring(callback_path(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    send(client, plivo.machine(callback_path(created["machine_detection_url"]), call_uuid="call-2", to=NUMBER))
    stolen = send(client, plivo.digits(key_path(created), call_uuid="call-2", to=NUMBER, digits="5"))
    assert "4, 8, 3" not in stolen.get_data(as_text=True)
    # Not a machine after all: call-1's callee still hears the code.
    assert hear_code(client, plivo, created, to=NUMBER) == CODE


def test_a_call_plivo_never_confirmed_is_still_bound_to_its_first_call_uuid(client, slack, plivo, plivo_api, fake_slack):
    plivo_api.post(CREATE_CALL_URL, body=requests.ReadTimeout("read timed out"))
    send(client, slack.command(f"{NUMBER} {CODE}"))
    created = created_call(plivo_api, fake_slack)
    send(client, plivo.ring(callback_path(created["ring_url"]), call_uuid="call-1", to=NUMBER))
    send(client, plivo.hangup(callback_path(created["hangup_url"]), call_uuid="call-2", to=NUMBER, status="busy",
                              duration=0, cause_code=3010, cause_name="Busy Line"))
    time.sleep(0.2)
    assert last_text(fake_slack).endswith("ringing…")
    assert hear_code(client, plivo, created, to=NUMBER) == CODE


# -- alerts ----------------------------------------------------------------------------------


def test_an_alert_call_answered_after_its_busy_hangup_only_says_goodbye(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> The database is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.hang_up("busy", 3010, "Busy Line", 0)
    alert_message(fake_slack, "<@U1> :no_entry_sign: busy")
    late = alice.answer()
    assert speech(late) == ["Goodbye."] and late[-1].tag == "Hangup"
    assert "The database is down" not in "".join(speech(late))


def test_a_late_acknowledgement_on_an_ended_call_acknowledges_nothing(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> The database is down")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    alice.hang_up("completed", 4000, "Normal Hangup", 12)
    alert_message(fake_slack, "<@U1> :speaking_head_in_silhouette: answered, not acknowledged")
    assert speech(alice.press(menu, "1")) == ["Goodbye."]
    assert speech(alice.press(menu, "2")) == ["Goodbye."]  # nor is the message played again
    time.sleep(0.2)
    shown = str(fake_slack.messages(CHANNEL)[0].blocks)
    assert "*Acknowledged*" not in shown and "Nobody has acknowledged yet" in shown


def test_an_alert_hangup_for_another_call_uuid_neither_ends_the_call_nor_moves_the_alert(
        client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> > <@U2> Disk full")
    alice = callee(client, plivo, plivo_rest, ALICE)
    menu = alice.follow(alice.answer())
    stray = Callee(client, plivo, alice.created, "call-OTHER")
    stray.hang_up("completed", 4000, "Normal Hangup", 3)
    time.sleep(0.2)
    assert len(plivo_rest.created) == 1  # Bob, the next link, is not called
    done = alice.press(menu, "1")
    assert speech(done)[0] == "Acknowledged. Thank you."
    alert_message(fake_slack, "*Acknowledged* by <@U1> by phone")


def test_an_alert_call_plivo_did_not_confirm_is_not_rung_again_while_it_may_ring(
        alert_app, client, slack, plivo, plivo_rest, fake_slack, clock, scheduler):
    """The next round waits for the unconfirmed call's callbacks, or for its time to ring to pass."""
    plivo_rest.time_out_next = 1
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Disk full")
    alert_message(fake_slack, "<@U1> :hourglass: not confirmed by Plivo; it may still ring")
    clock.advance(seconds=100)
    scheduler.run_due()
    assert len(plivo_rest.created) == 1  # not dialled again while it may ring
    clock.advance(seconds=6)
    scheduler.run_due()
    alert_message(fake_slack, "failed: Plivo did not confirm the call, and it never rang.")
    clock.advance(seconds=61)
    scheduler.run_due()
    assert len(plivo_rest.created) == 2  # the next round, after ALERT_RETRY_DELAY


def test_an_alert_call_plivo_did_not_confirm_that_rings_is_played_and_acknowledged(
        client, slack, plivo, plivo_rest, fake_slack):
    plivo_rest.time_out_next = 1
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Disk full")
    alert_message(fake_slack, "not confirmed by Plivo")
    alice = callee(client, plivo, plivo_rest, ALICE)
    alice.ring()
    document = alice.answer()
    assert speech(document)[1] == "Disk full"
    assert speech(alice.press(alice.follow(document), "1"))[0] == "Acknowledged. Thank you."
    alert_message(fake_slack, "*Acknowledged* by <@U1> by phone")


# -- every field checked whole -----------------------------------------------------------


def test_keys_that_are_not_whole_keys_open_nothing(client, slack, plivo, plivo_api, fake_slack):
    created = voice_code_call(client, slack, plivo_api, fake_slack)
    send(client, plivo.answer(callback_path(created["answer_url"]), call_uuid="call-1", to=NUMBER))
    for digits in ("5\n", " 5", "٥", "5x"):
        document = send(client, plivo.digits(key_path(created), call_uuid="call-1", to=NUMBER, digits=digits))
        assert "4, 8, 3" not in document.get_data(as_text=True), digits
    assert hear_code(client, plivo, created, to=NUMBER) == CODE  # a real key still does


def test_a_button_value_that_is_not_whole_takes_no_alert(client, slack, plivo, plivo_rest, fake_slack):
    alert(client, slack, fake_slack, plivo_rest, "<@U1> Disk full")
    posted = alert_message(fake_slack, "Disk full")
    value = buttons_value(posted)
    for bad in (f" {value}", f"{value}\n", f"{value}_0", "".join(chr(0x660 + int(d)) for d in value)):
        click = slack.action("alert_acknowledge", bad, message=message_of(posted), user_id="U2")
        assert send(client, click).status_code == 200
    time.sleep(0.2)
    assert "*Acknowledged*" not in str(fake_slack.messages(CHANNEL)[0].blocks)
    assert plivo_rest.stopped == []
