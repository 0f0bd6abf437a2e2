"""The simulator's side of an inbound call, as Plivo plays it: someone phoning a number linked to an
application, a conference that waits (its wait sound) for the member who starts it and ends when a member who
ends it leaves, the transfer API moving a live call, and <Record> with what the caller says."""

from __future__ import annotations

import pytest
import responses
from flask import Flask

from answer_server.plivo.signature import is_valid_signature
from answer_server.sandbox.plivo_sim import PlivoSimulator, plivo_blueprint
from tests.sandbox_app_double import APP, ApplicationDouble
from tests.test_sandbox_calls import AUTH_ID, TOKEN, place, spoken, wait_until

HOTLINE, CALLER = "+14155550180", "+14155550142"
WAITING = (b'<Response><Speak>Please wait.</Speak><Conference callbackUrl="https://app.test/conference" '
           b'startConferenceOnEnter="false" endConferenceOnExit="true" waitSound="https://app.test/hold">room-1'
           b'</Conference><Speak>Goodbye.</Speak></Response>')
STARTS = (b'<Response><Conference startConferenceOnEnter="true" endConferenceOnExit="true">room-1</Conference>'
          b'<Speak>Goodbye.</Speak></Response>')
HOLD = b'<Response><Wait length="2"/><Speak>Still trying.</Speak></Response>'
VOICEMAIL = (b'<Response><Speak>Leave a message.</Speak><Record action="https://app.test/recorded" maxLength="60" '
             b'timeout="5" finishOnKey="#" playBeep="true" redirect="true"/><Speak>No message.</Speak></Response>')


@pytest.fixture
def app_double():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield ApplicationDouble(mock)


@pytest.fixture
def sim():
    made = PlivoSimulator(AUTH_ID, TOKEN, speed=20, recordings_url="http://127.0.0.1:3000/sandbox/plivo/recordings")
    made.link_number(HOTLINE, f"{APP}/answer", f"{APP}/hangup")
    yield made
    for call in made.calls():
        made.hang_up(call.call_uuid)
    for thread in made.threads:
        thread.join(timeout=10)


def rest(sim: PlivoSimulator):
    web = Flask(__name__)
    web.register_blueprint(plivo_blueprint(sim))
    return web.test_client()


def lines(call) -> list[str]:
    return [line.text for line in call.transcript]


def test_a_call_to_a_linked_number_fetches_its_answer_url_as_an_inbound_call_and_reports_the_callers_hang_up(
        app_double, sim):
    app_double.documents["/answer"] = b'<Response><Speak loop="0">Hello.</Speak></Response>'
    assert sim.call_in(CALLER, "+14155559999") is None  # no number of the account's
    call = sim.call_in(CALLER, HOTLINE)
    answer = app_double.wait_for("/answer")[0]
    assert answer.params | {"SessionStart": ""} == {
        "CallUUID": call.call_uuid, "ALegUUID": call.call_uuid, "From": CALLER[1:], "To": HOTLINE[1:],
        "Direction": "inbound", "CallStatus": "ringing", "Event": "StartApp", "BillRate": "0.0085",
        "ParentAuthID": AUTH_ID, "SessionStart": ""}
    assert is_valid_signature(TOKEN, "POST", f"{APP}/answer", answer.params,
                              answer.headers["X-Plivo-Signature-V3-Nonce"], answer.headers["X-Plivo-Signature-V3"])
    wait_until(lambda: call.state == "answered" and spoken(call))
    assert sim.callee_hangs_up(call.call_uuid)
    hangup = app_double.wait_for("/hangup")[0].params
    assert (hangup["Direction"], hangup["CallStatus"], hangup["HangupSource"], hangup["HangupCauseCode"]) == (
        "inbound", "completed", "Caller", "4000")


def test_the_wait_sound_plays_until_a_member_who_starts_the_conference_enters_and_it_ends_when_one_leaves(
        app_double, sim):
    app_double.documents["/answer"] = WAITING
    app_double.documents["/hold"] = HOLD
    app_double.documents["/starts"] = STARTS
    caller = sim.call_in(CALLER, HOTLINE)
    wait_until(lambda: spoken(caller).count("Still trying.") >= 2)
    hold = app_double.to("/hold")[0].params
    assert hold["ConferenceName"] == "room-1" and hold["CallUUID"] == caller.call_uuid
    assert sim.rooms.state(caller) == {"room": "room-1", "started": False, "with": []}
    taker = place(sim, answer_url=f"{APP}/starts")
    wait_until(lambda: "[connected: with +14155550123]" in lines(caller))
    assert sim.rooms.state(caller) == {"room": "room-1", "started": True, "with": ["+14155550123"]}
    assert sim.rooms.state(taker) == {"room": "room-1", "started": True, "with": [CALLER]}
    heard = len(spoken(caller))
    sim.callee_hangs_up(taker.call_uuid)  # endConferenceOnExit: the caller leaves the room, and goes on
    wait_until(lambda: caller.state == "ended")
    assert "[the conference ended]" in lines(caller) and spoken(caller)[heard:] == ["Goodbye."]


def test_the_transfer_api_moves_a_live_call_out_of_its_conference_to_another_document(app_double, sim):
    app_double.documents["/answer"] = WAITING
    app_double.documents["/hold"] = HOLD
    app_double.documents["/moved"] = b"<Response><Speak>Moved.</Speak></Response>"
    caller = sim.call_in(CALLER, HOTLINE)
    wait_until(lambda: caller.state == "answered")
    client, url = rest(sim), f"/sandbox/plivo/v1/Account/{AUTH_ID}/Call/{caller.call_uuid}/"
    auth = (AUTH_ID, TOKEN)
    assert client.post(url, json={"legs": "aleg"}, auth=auth).status_code == 400
    assert client.post(url, json={"legs": "bleg", "bleg_url": f"{APP}/moved"}, auth=auth).status_code == 400
    assert client.post(f"/sandbox/plivo/v1/Account/{AUTH_ID}/Call/nope/", json={
        "legs": "aleg", "aleg_url": f"{APP}/moved"}, auth=auth).status_code == 404
    wait_until(lambda: sim.rooms.state(caller) is not None)
    moved = client.post(url, json={"legs": "aleg", "aleg_url": f"{APP}/moved", "aleg_method": "POST"}, auth=auth)
    assert moved.status_code == 202 and moved.get_json()["message"] == "call transferred"
    wait_until(lambda: caller.state == "ended")
    assert [r.params["ConferenceAction"] for r in app_double.to("/conference")] == ["enter", "exit"]
    assert app_double.to("/moved")[0].params["CallUUID"] == caller.call_uuid
    assert spoken(caller)[-1] == "Moved." and "Goodbye." not in spoken(caller)
    assert client.post(url, json={"legs": "aleg", "aleg_url": f"{APP}/moved"}, auth=auth).status_code == 404


def test_record_posts_what_the_caller_said_and_the_actions_document_takes_over(app_double, sim):
    app_double.documents["/answer"] = VOICEMAIL
    app_double.documents["/recorded"] = b"<Response><Speak>Thanks.</Speak></Response>"
    caller = sim.call_in(CALLER, HOTLINE)
    wait_until(lambda: caller.control.recording)
    assert sim.say(caller.call_uuid, "The site is down.") is True
    wait_until(lambda: "The site is down." in lines(caller))
    sim.press(caller.call_uuid, "#")
    recorded = app_double.wait_for("/recorded")[0].params
    assert recorded["RecordUrl"].startswith("http://127.0.0.1:3000/sandbox/plivo/recordings/")
    assert int(recorded["RecordingDurationMs"]) >= 1000 and recorded["RecordingDuration"].isdigit()
    assert int(recorded["RecordingEndMs"]) - int(recorded["RecordingStartMs"]) == int(recorded["RecordingDurationMs"])
    recording = sim.recordings.get(recorded["RecordingID"])
    assert recording.said == ("The site is down.",) and "The site is down." in recording.page()
    wait_until(lambda: caller.state == "ended")
    assert spoken(caller) == ["Leave a message.", "Thanks."]


def test_record_with_nothing_said_records_nothing_and_the_document_goes_on(app_double, sim):
    app_double.documents["/answer"] = VOICEMAIL
    caller = sim.call_in(CALLER, HOTLINE)
    wait_until(lambda: caller.state == "ended")
    assert "[nothing was said: no recording]" in lines(caller)
    assert spoken(caller) == ["Leave a message.", "No message."] and app_double.to("/recorded") == []
    assert sim.say(caller.call_uuid, "Too late.") is None


def test_hanging_up_while_recording_still_posts_what_was_said_then_the_hangup(app_double, sim):
    app_double.documents["/answer"] = VOICEMAIL
    caller = sim.call_in(CALLER, HOTLINE)
    wait_until(lambda: caller.control.recording)
    sim.say(caller.call_uuid, "Call me back.")
    wait_until(lambda: "Call me back." in lines(caller))
    sim.callee_hangs_up(caller.call_uuid)
    app_double.wait_for("/hangup")
    assert [r.path for r in app_double.received if r.path in ("/recorded", "/hangup")] == ["/recorded", "/hangup"]
    assert app_double.to("/recorded")[0].params["RecordUrl"]
